// The JSON Schema against the C validator. ajv (draft 2020-12, pinned in tests/node) checks
// every example and every manifest of tests/manifest/{good,bad}; its verdict must match
// `hfsync validate`. Bad manifests marked "# c-only: why" break rules a schema cannot see
// (folders on disk, pattern compilation, YAML-level problems): the schema must accept them
// when they have a JSON form at all. Prints TAP.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

const SRCDIR = process.env.SRCDIR;
const BUILDDIR = process.env.BUILDDIR;
const HFSYNC = process.env.HFSYNC;
const YAML2JSON = path.join(BUILDDIR, "tests", "schema", "yaml2json");

let n = 0;
let failed = 0;
function ok(cond, name, ...diag) {
  n++;
  console.log(`${cond ? "" : "not "}ok ${n} - ${name}`);
  if (!cond) {
    failed++;
    for (const d of diag) for (const line of String(d).split("\n")) console.log(`# ${line}`);
  }
}

const nodeModules = path.join(SRCDIR, "tests", "node", "node_modules");
if (!existsSync(path.join(nodeModules, "ajv"))) {
  console.log("1..0 # SKIP tests/node/node_modules is missing (run npm ci in tests/node)");
  process.exit(0);
}
const require = createRequire(path.join(SRCDIR, "tests", "node", "package.json"));
const Ajv2020 = require("ajv/dist/2020.js").default;
const addFormats = require("ajv-formats").default;

// Strict mode turns unknown keywords, ambiguous types and other schema mistakes into errors;
// its warnings are collected so the test fails on them as well. strictRequired is off: the
// schema says "required here or in defaults" with anyOf branches that only list required
// keys, whose properties are defined once, in $defs.settings.
const warnings = [];
const logger = { log() {}, warn: (...a) => warnings.push(a.join(" ")), error: (...a) => warnings.push(a.join(" ")) };
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, logger });
addFormats(ajv);
const schemaPath = path.join(SRCDIR, "schema", "hfsync.schema.json");
const schema = JSON.parse(readFileSync(schemaPath, "utf8"));
let validate;
try {
  validate = ajv.compile(schema);
  ok(true, "the schema compiles as draft 2020-12 in strict mode");
} catch (e) {
  ok(false, "the schema compiles as draft 2020-12 in strict mode", e.message);
  console.log(`1..${n}`);
  process.exit(1);
}
ok(warnings.length === 0, "no strict-mode warnings", ...warnings);

// Every field an editor can complete has a description (shown by the YAML language server):
// the top-level keys, every sync setting, and the keys of commit, create and schedule.
const undocumented = [];
function documented(props, where) {
  for (const [key, sub] of Object.entries(props)) {
    if (!sub.description) undocumented.push(`${where}${key}`);
    // defaults reuses $defs.settings, checked below; its own `properties` only adds rules.
    const nested = sub.properties || sub.anyOf?.find((s) => s.properties)?.properties;
    if (nested && key !== "defaults") documented(nested, `${where}${key}.`);
  }
}
documented(schema.properties, "");
documented(schema.$defs.settings.properties, "syncs.NAME.");
ok(undocumented.length === 0, "every field has a description", ...undocumented);

// The key sets agree: hfsync lists the keys it knows when it meets an unknown one.
const tmp = mkdtempSync(path.join(os.tmpdir(), "hfsync-schema-"));
function hfsyncKeys(yaml) {
  const file = path.join(tmp, "keys.yaml");
  writeFileSync(file, yaml);
  const r = spawnSync(HFSYNC, ["validate", "-f", file], { encoding: "utf8" });
  const m = /unknown key; expected one of (.*)$/m.exec(r.stderr);
  return m ? m[1].split(", ").sort() : [`(no key list in: ${r.stderr.trim()})`];
}
const settings = schema.$defs.settings.properties;
const levels = [
  ["top level", "version: 1\nzzzzzzzz: 1\nsyncs: {a: {repo_id: a/b, folder_path: .}}\n", schema.properties],
  ["sync", "version: 1\nsyncs: {a: {repo_id: a/b, folder_path: ., zzzzzzzz: 1}}\n", settings],
  ["commit", "version: 1\nsyncs: {a: {repo_id: a/b, folder_path: ., commit: {zzzzzzzz: 1}}}\n",
   settings.commit.properties],
  ["create", "version: 1\nsyncs: {a: {repo_id: a/b, folder_path: ., create: {zzzzzzzz: 1}}}\n",
   settings.create.anyOf.find((s) => s.properties).properties],
  ["schedule", "version: 1\nsyncs: {a: {repo_id: a/b, folder_path: ., schedule: {every: 1, zzzzzzzz: 1}}}\n",
   settings.schedule.properties],
];
for (const [level, yaml, props] of levels) {
  const c = hfsyncKeys(yaml).join(", ");
  const js = Object.keys(props).sort().join(", ");
  ok(c === js, `${level}: hfsync and the schema know the same keys`, `hfsync: ${c}`, `schema: ${js}`);
}
rmSync(tmp, { recursive: true, force: true });

function yamlToJson(file) {
  const r = spawnSync(YAML2JSON, [file], { encoding: "utf8" });
  if (r.status === 3) return { none: true };
  if (r.status !== 0) throw new Error(`yaml2json ${file}: exit ${r.status}: ${r.stderr}`);
  return { value: JSON.parse(r.stdout) };
}

function hfsyncValidate(dir, file) {
  const r = spawnSync(HFSYNC, ["validate", "-f", file], { cwd: dir, encoding: "utf8" });
  return { status: r.status, stderr: r.stderr };
}

function schemaErrors() {
  return (validate.errors || []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("\n");
}

// Examples: valid for the schema.
const examples = path.join(SRCDIR, "examples");
for (const name of readdirSync(examples).sort()) {
  const file = path.join(examples, name, "hfsync.yaml");
  if (!existsSync(file)) continue;
  const j = yamlToJson(file);
  ok(!j.none && validate(j.value), `examples/${name}: valid for the schema`, schemaErrors());
}

// Good manifests: both accept.
const good = path.join(SRCDIR, "tests", "manifest", "good");
for (const name of readdirSync(good).filter((f) => f.endsWith(".yaml")).sort()) {
  const j = yamlToJson(path.join(good, name));
  const c = hfsyncValidate(good, name);
  ok(!j.none && validate(j.value) && c.status === 0, `good/${name}: schema and hfsync accept`,
     schemaErrors(), c.stderr);
}

// Bad manifests: hfsync refuses; the schema refuses too, unless the case is C-only.
const bad = path.join(SRCDIR, "tests", "manifest", "bad");
let cOnly = 0;
for (const name of readdirSync(bad).filter((f) => f.endsWith(".yaml")).sort()) {
  const file = path.join(bad, name);
  const mark = /^# c-only: (.*)$/m.exec(readFileSync(file, "latin1"));
  const c = hfsyncValidate(bad, name);
  const j = yamlToJson(file);
  if (mark) {
    cOnly++;
    if (j.none)
      ok(c.status === 1, `bad/${name}: hfsync refuses; no JSON form (${mark[1]})`);
    else
      ok(c.status === 1 && validate(j.value),
         `bad/${name}: hfsync refuses; the schema accepts, as marked (${mark[1]})`, schemaErrors());
  } else {
    const refused = !j.none && !validate(j.value);
    ok(c.status === 1 && refused, `bad/${name}: hfsync and the schema refuse`,
       j.none ? "no JSON form: mark it '# c-only: why'" : "the schema accepts it");
  }
}
ok(cOnly > 0 && cOnly < 30, `C-only cases are the exception (${cOnly})`);

console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
