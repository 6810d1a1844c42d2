// Compares two OpenAPI documents with api-smart-diff and prints its classified changes as JSON
// lines: {"type", "action", "path", "description", "before", "after"}. Schemas under components are reported where
// the paths use them (the tool resolves $refs), so their own entries are left out.
//     node synth_review/api_diff.mjs BEFORE.json AFTER.json
import { readFileSync } from "node:fs";
import { apiCompare } from "api-smart-diff";

// Values worth quoting in a one-line change: scalars, not whole schemas.
const scalar = (value) => (value === null || typeof value !== "object" ? value : undefined);
const [before, after] = process.argv.slice(2).map((file) => JSON.parse(readFileSync(file, "utf8")));
const { diffs } = apiCompare(before, after);
for (const diff of diffs) {
  if (diff.path[0] === "components" && diff.path[1] === "schemas") continue;
  console.log(JSON.stringify({ type: diff.type, action: diff.action, path: diff.path, description: diff.description ?? "",
    before: scalar(diff.before), after: scalar(diff.after) }));
}
