// Runs asl-validator (the version package-lock.json pins) for localaws/asl.py, which is its only caller.
// One request a line on stdin, one answer a line on stdout, so one process serves many definitions:
//   in:  {"definition": <the parsed definition>, "paths": [[<text>, <asl-path-validator context>], ...]}
//   out: {"findings": ["CODE: message", ...], "paths": [<true when the text is valid>, ...]}
//        {"crash": "<what the validator threw>"}
// Findings are worded as the validator's own errorsText() words them. "paths" checks single expressions
// with the path grammar the validator itself uses (asl-path-validator, which it depends on).
"use strict";

const path = require("path");
const readline = require("readline");

const modules = path.join(__dirname, "..", "node_modules");
const validator = require(path.join(modules, "asl-validator"));
const { validatePath } = require(path.join(modules, "asl-path-validator"));

const lines = readline.createInterface({ input: process.stdin, terminal: false });
lines.on("line", (line) => {
  let answer;
  try {
    const request = JSON.parse(line);
    const result = validator(request.definition, { checkPaths: true, checkArn: true });
    answer = {
      findings: result.errors.map((e) => `${e["Error code"]}: ${e.Message}`),
      paths: (request.paths || []).map(([text, context]) => validatePath(text, context).isValid),
    };
  } catch (err) {
    answer = { crash: String(err && err.stack ? err.stack : err) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
