import assert from "node:assert/strict";
import { test } from "node:test";

import { createSessionStore, storageKey } from "../../../static/botportal/chat/storage.js";

function memoryStorage() {
  const items = new Map();
  return {
    items,
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
}

// A window: its own sessionStorage, a parent that records what it is sent, timers run by hand.
function fakeWindow({ storage = memoryStorage(), parentAnswers = null } = {}) {
  const listeners = new Set();
  const timers = [];
  const parent = { sent: [] };
  const win = {
    get sessionStorage() {
      if (storage instanceof Error) throw storage;
      return storage;
    },
    parent,
    addEventListener: (type, listener) => listeners.add(listener),
    removeEventListener: (type, listener) => listeners.delete(listener),
    setTimeout: (callback) => timers.push(callback),
    listeners,
    timers,
    deliver: (event) => [...listeners].forEach((listener) => listener(event)),
  };
  parent.postMessage = (message, origin) => {
    parent.sent.push({ message, origin });
    if (parentAnswers) parentAnswers(win, message, origin);
  };
  return win;
}

const SESSION = { conversationId: "c", token: "t", expiresAt: 1, contact: null, ended: false };

test("standalone: kept in this tab's sessionStorage under botportal:widget:<bot>", async () => {
  const win = fakeWindow();
  const store = createSessionStore({ win, botId: "b1", parentOrigin: null });
  assert.equal(await store.load(), null);
  store.save(SESSION);
  assert.equal(storageKey("b1"), "botportal:widget:b1");
  assert.deepEqual(JSON.parse(win.sessionStorage.items.get("botportal:widget:b1")), SESSION);
  assert.deepEqual(await createSessionStore({ win, botId: "b1", parentOrigin: null }).load(), SESSION);
  store.save(null);
  assert.equal(win.sessionStorage.items.size, 0);
});

test("storage disabled or broken: the session lasts as long as the page", async () => {
  const disabled = createSessionStore({ win: fakeWindow({ storage: new Error("SecurityError") }), botId: "b", parentOrigin: null });
  disabled.save(SESSION);
  assert.deepEqual(await disabled.load(), SESSION);

  const full = memoryStorage();
  full.setItem = () => {
    throw new Error("QuotaExceededError");
  };
  const store = createSessionStore({ win: fakeWindow({ storage: full }), botId: "b", parentOrigin: null });
  store.save(SESSION);
  assert.deepEqual(await store.load(), SESSION);

  const garbled = memoryStorage();
  garbled.setItem("botportal:widget:b", "{not json");
  assert.equal(await createSessionStore({ win: fakeWindow({ storage: garbled }), botId: "b", parentOrigin: null }).load(), null);
});

test("embedded: the launcher on the host origin keeps the session", async () => {
  const host = "https://shop.example";
  const win = fakeWindow({
    parentAnswers: (w, message) => {
      if (message.type !== "botportal:hello") return;
      w.deliver({ source: {}, origin: host, data: { type: "botportal:state", botId: "b", state: { token: "forged" } } });
      w.deliver({ source: w.parent, origin: "https://evil.example", data: { type: "botportal:state", botId: "b", state: { token: "evil" } } });
      w.deliver({ source: w.parent, origin: host, data: { type: "botportal:state", botId: "other", state: { token: "x" } } });
      w.deliver({ source: w.parent, origin: host, data: { type: "botportal:state", botId: "b", state: SESSION } });
    },
  });
  const store = createSessionStore({ win, botId: "b", parentOrigin: host });
  assert.deepEqual(await store.load(), SESSION);
  assert.deepEqual(win.parent.sent[0], { message: { type: "botportal:hello", botId: "b" }, origin: host });
  assert.equal(win.listeners.size, 0, "the listener is removed once answered");
  store.save(SESSION);
  assert.deepEqual(win.parent.sent[1], { message: { type: "botportal:store", botId: "b", state: SESSION }, origin: host });
  assert.equal(win.sessionStorage.items.size, 0, "the frame's own storage is not used");
});

test("embedded by a page without the launcher: nobody answers, so start afresh on the frame's storage", async () => {
  const win = fakeWindow();
  const store = createSessionStore({ win, botId: "b", parentOrigin: "https://shop.example" });
  const loaded = store.load();
  assert.equal(win.timers.length, 1);
  win.timers[0]();
  assert.equal(await loaded, null);
  store.save(SESSION);
  assert.equal(win.parent.sent.length, 1, "only the hello went to the parent");
  assert.ok(win.sessionStorage.items.has("botportal:widget:b"));
});
