import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, createApiClient, explain } from "../../../static/botportal/chat/api.js";

function recorder(respond) {
  const calls = [];
  const fetch = (url, init) => {
    calls.push({ url, init });
    return respond(url, init);
  };
  return { calls, fetch };
}

const ok = () => Promise.resolve(new Response('{"ok":true}', { status: 200 }));

test("the session token is presented, except to open a session", async () => {
  const { calls, fetch } = recorder(ok);
  const api = createApiClient({ base: "/api/v1/", fetch, token: () => "tok" });
  await api.request("GET", "/conversation/c/message/list?take=1");
  await api.request("POST", "/bot/b/session/create", {});
  assert.equal(calls[0].url, "/api/v1/conversation/c/message/list?take=1");
  assert.deepEqual(calls[0].init, {
    method: "GET",
    headers: { Accept: "application/json", Authorization: "Bearer tok" },
    body: undefined,
    credentials: "omit",
    cache: "no-store",
  });
  assert.equal(calls[1].init.headers.Authorization, undefined);
  assert.equal(calls[1].init.headers["Content-Type"], "application/json");
  assert.equal(calls[1].init.body, "{}");
});

test("no token, no Authorization; the Accept asked for is sent", async () => {
  const { calls, fetch } = recorder(ok);
  const api = createApiClient({ base: "/api/v1", fetch, token: () => null });
  const body = await api.json("POST", "/conversation/c/complete", { text: "hi" });
  assert.deepEqual(body, { ok: true });
  await api.request("POST", "/conversation/c/complete", { text: "hi" }, "application/jsonl");
  assert.deepEqual(calls[1].init.headers, { Accept: "application/jsonl", "Content-Type": "application/json" });
});

test("an error answer is an ApiError with its status, message, code and Retry-After", async () => {
  const { fetch } = recorder(() =>
    Promise.resolve(
      new Response('{"message":"slow down","code":"TOO_MANY_REQUESTS"}', { status: 429, headers: { "Retry-After": "7" } })
    )
  );
  const api = createApiClient({ base: "/api/v1", fetch, token: () => null });
  await assert.rejects(api.request("POST", "/x", {}), (error) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 429);
    assert.equal(error.message, "slow down");
    assert.equal(error.code, "TOO_MANY_REQUESTS");
    assert.equal(error.retryAfter, 7);
    return true;
  });
});

test("an error answer that is not JSON keeps the status text", async () => {
  const { fetch } = recorder(() => Promise.resolve(new Response("<html>", { status: 502, statusText: "Bad Gateway" })));
  const api = createApiClient({ base: "/api/v1", fetch, token: () => null });
  await assert.rejects(api.request("GET", "/x"), (error) => {
    assert.equal(error.status, 502);
    assert.equal(error.message, "Bad Gateway");
    assert.ok(Number.isNaN(error.retryAfter));
    return true;
  });
});

test("a network failure is status 0", async () => {
  const { fetch } = recorder(() => Promise.reject(new TypeError("Failed to fetch")));
  const api = createApiClient({ base: "/api/v1", fetch, token: () => null });
  await assert.rejects(api.request("GET", "/x"), (error) => error instanceof ApiError && error.status === 0 && error.code === "NETWORK");
});

test("explain: what the visitor is told", () => {
  assert.equal(explain(new ApiError(429, "", "", 7)), "Too many messages right now. Please wait 7 seconds and try again.");
  assert.equal(explain(new ApiError(429, "", "", NaN)), "Too many messages right now. Please wait a moment and try again.");
  assert.equal(explain(new ApiError(404)), "This assistant is no longer available.");
  assert.equal(explain(new ApiError(403)), "This assistant can't be reached from this page.");
  assert.equal(explain(new ApiError(0)), "Can't reach the server. Check your connection and try again.");
  assert.equal(explain(new ApiError(400, "text: too long")), "That message couldn't be sent: text: too long");
  assert.equal(explain(new ApiError(500)), "Something went wrong on our side. Please try again.");
  assert.equal(explain(new Error("boom")), "Something went wrong. Please try again.");
});
