import assert from "node:assert/strict";
import { test } from "node:test";

import { readJsonl } from "../../../static/botportal/chat/jsonl.js";

function streamed(chunks, type = "application/jsonl") {
  const encoder = new TextEncoder();
  const body = new ReadableStream({
    start(controller) {
      chunks.forEach((chunk) => controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk));
      controller.close();
    },
  });
  return new Response(body, { headers: { "Content-Type": type } });
}

async function events(response) {
  const seen = [];
  await readJsonl(response, (event) => seen.push(event));
  return seen;
}

test("lines split across chunks, blank lines and a last line without its newline", async () => {
  const seen = await events(
    streamed(['{"type":"tok', 'en","data":{"token":"a"}}\n\n{"type":"token",', '"data":{"token":"b"}}\n{"type":"result","data":{}}'])
  );
  assert.deepEqual(seen, [
    { type: "token", data: { token: "a" } },
    { type: "token", data: { token: "b" } },
    { type: "result", data: {} },
  ]);
});

test("a character split between two chunks is decoded whole", async () => {
  const bytes = new TextEncoder().encode('{"type":"token","data":{"token":"é"}}\n');
  const cut = bytes.indexOf(0xc3) + 1;
  const seen = await events(streamed([bytes.slice(0, cut), bytes.slice(cut)], "application/x-ndjson"));
  assert.deepEqual(seen, [{ type: "token", data: { token: "é" } }]);
});

test("each event is handed over as soon as its line is complete", async () => {
  const encoder = new TextEncoder();
  let controller;
  const body = new ReadableStream({
    start(c) {
      controller = c;
    },
  });
  const seen = [];
  const done = readJsonl(new Response(body, { headers: { "Content-Type": "application/jsonl" } }), (e) => seen.push(e.type));
  controller.enqueue(encoder.encode('{"type":"token","data":{"token":"a"}}\n{"type":"res'));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(seen, ["token"]);
  controller.enqueue(encoder.encode('ult","data":{}}\n'));
  controller.close();
  await done;
  assert.deepEqual(seen, ["token", "result"]);
});

test("a JSON answer (a server that does not stream) is one result event", async () => {
  const response = new Response(JSON.stringify({ text: "hi" }), { headers: { "Content-Type": "application/json" } });
  assert.deepEqual(await events(response), [{ type: "result", data: { text: "hi" } }]);
});

test("a line that is not JSON fails the read", async () => {
  await assert.rejects(events(streamed(["not json\n"])), SyntaxError);
});
