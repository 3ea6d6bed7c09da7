/* A turn's answer: JSON lines as they arrive (Accept: application/jsonl), or one JSON object from a
 * server that does not stream, which counts as a single `result` event. */

// Reads the body line by line; `onEvent` gets each parsed {type, data}. Resolves once the body ends.
export function readJsonl(response, onEvent) {
  const type = response.headers.get("Content-Type") || "";
  if (type.indexOf("jsonl") < 0 && type.indexOf("ndjson") < 0) {
    return response.json().then(function (body) {
      onEvent({ type: "result", data: body });
    });
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  function flush(final) {
    const lines = buffer.split("\n");
    buffer = final ? "" : lines.pop();
    lines.forEach(function (line) {
      if (line.trim()) onEvent(JSON.parse(line));
    });
  }
  function pump() {
    return reader.read().then(function (chunk) {
      if (chunk.done) {
        buffer += decoder.decode();
        flush(true);
        return;
      }
      buffer += decoder.decode(chunk.value, { stream: true });
      flush(false);
      return pump();
    });
  }
  return pump();
}
