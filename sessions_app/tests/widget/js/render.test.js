import assert from "node:assert/strict";
import { test } from "node:test";

import { botMessagesOf, createRenderer, safeUrl } from "../../../static/botportal/chat/render.js";
import { FakeElement, fakeDocument } from "./fake_dom.js";

function setup({ busy = false } = {}) {
  const log = new FakeElement("div");
  const chosen = [];
  let ended = 0;
  const view = createRenderer({
    document: fakeDocument,
    log,
    botName: "Helper",
    baseUrl: "https://chat.example/widget/1/",
    isBusy: () => busy,
    onChoose: (label) => chosen.push(label),
    onEnd: () => (ended += 1),
  });
  return { log, view, chosen, ended: () => ended };
}

test("a bubble holds the text as text, with who said it for screen readers", () => {
  const { log, view } = setup();
  view.bubble("user", "<img src=x onerror=alert(1)>");
  view.bubble("bot", "hi");
  const [user, bot] = log.children;
  assert.equal(user.className, "bp-message bp-user");
  assert.equal(user.children[0].textContent, "You said: ");
  assert.equal(user.querySelector(".bp-text").textContent, "<img src=x onerror=alert(1)>");
  assert.equal(bot.className, "bp-message bp-bot");
  assert.equal(bot.children[0].textContent, "Helper said: ");
  assert.equal(log.scrollTop, log.scrollHeight);
});

test("active choices: a click disables them all, marks the one chosen and sends its label", () => {
  const { log, view, chosen } = setup();
  view.renderBotItem({ type: "bot", messages: [{ type: "choices", text: "Pick", choices: [{ label: "A" }, { label: "B" }] }] }, true);
  assert.equal(log.children[0].textContent, "Helper said: Pick");
  const group = log.children[1];
  assert.equal(group.className, "bp-choices");
  assert.equal(group.getAttribute("role"), "group");
  assert.equal(group.getAttribute("aria-label"), "Pick");
  const [a, b] = group.children;
  assert.equal(a.type, "button");
  assert.equal(a.disabled, false);
  b.click();
  assert.deepEqual(chosen, ["B"]);
  assert.equal(a.disabled, true);
  assert.equal(b.disabled, true);
  assert.ok(b.classList.contains("bp-chosen"));
  assert.equal(b.getAttribute("aria-pressed"), "true");
  assert.equal(a.getAttribute("aria-pressed"), null);
});

test("inactive choices are disabled, and a choice is ignored while a turn runs", () => {
  const inactive = setup();
  inactive.view.renderBotItem({ messages: [{ type: "choices", choices: [{ label: "A" }] }] }, false);
  assert.equal(inactive.log.children[0].getAttribute("aria-label"), "Choices");
  assert.equal(inactive.log.children[0].children[0].disabled, true);

  const busy = setup({ busy: true });
  busy.view.renderBotItem({ messages: [{ type: "choices", choices: [{ label: "A" }] }] }, true);
  const button = busy.log.children[0].children[0];
  button.click();
  assert.deepEqual(busy.chosen, []);
  assert.equal(button.disabled, false);
});

test("links: http(s), mailto and tel become anchors opening a new tab; anything else stays text", () => {
  const { log, view } = setup();
  view.renderBotItem(
    {
      messages: [
        { type: "link", text: "Docs", url: "/docs" },
        { type: "link", url: "mailto:help@example.com" },
        { type: "link", text: "Bad", url: "javascript:alert(1)" },
      ],
    },
    true
  );
  const [docs, mail, bad] = log.children;
  assert.equal(docs.className, "bp-message bp-bot bp-link");
  const anchor = docs.children[0];
  assert.equal(anchor.tagName, "A");
  assert.equal(anchor.href, "https://chat.example/docs");
  assert.equal(anchor.target, "_blank");
  assert.equal(anchor.rel, "noopener noreferrer");
  assert.equal(anchor.textContent, "Docs");
  assert.equal(mail.children[0].textContent, "mailto:help@example.com");
  assert.equal(bad.children[0].tagName, "SPAN");
  assert.equal(bad.textContent, "Bad");
});

test("escalate is a notice, end ends the conversation", () => {
  const { log, view, ended } = setup();
  view.renderBotItem({ messages: [{ type: "escalate" }, { type: "end", text: "Bye" }] }, true);
  assert.equal(log.children[0].className, "bp-notice bp-notice-escalate");
  assert.equal(log.children[0].textContent, "You are being transferred to a person who will reply here.");
  assert.equal(log.children[1].textContent, "Helper said: Bye");
  assert.equal(ended(), 1);
});

test("a notice's action runs once", () => {
  const { log, view } = setup();
  let runs = 0;
  view.notice("error", "Oops", { label: "Try again", run: () => (runs += 1) });
  const button = log.children[0].children[1];
  assert.equal(button.className, "bp-button bp-button-small");
  button.click();
  button.click();
  assert.equal(runs, 1);
  assert.equal(button.disabled, true);
});

test("a page of messages: only the last, if it is the bot's, keeps its choices active", () => {
  const choices = (label) => ({ type: "bot", text: label, meta: { messages: [{ type: "choices", choices: [{ label }] }] } });
  const first = setup();
  first.view.renderItems([choices("A"), { type: "user", text: "A" }, choices("B")]);
  const buttons = first.log.querySelectorAll(".bp-choice");
  assert.deepEqual(buttons.map((b) => b.disabled), [true, false]);
  assert.equal(first.log.children[1].textContent, "You said: A");

  const second = setup();
  second.view.renderItems([choices("A"), { type: "user", text: "A" }]);
  assert.deepEqual(second.log.querySelectorAll(".bp-choice").map((b) => b.disabled), [true]);
});

test("the streaming bubble fills in token by token and goes away", () => {
  const { log, view } = setup();
  const streaming = view.streamingBubble();
  streaming.add("Hel");
  streaming.add("lo");
  assert.equal(log.children[0].className, "bp-message bp-bot bp-streaming");
  assert.equal(log.children[0].querySelector(".bp-text").textContent, "Hello");
  streaming.remove();
  assert.equal(log.children.length, 0);
});

test("clear empties the log", () => {
  const { log, view } = setup();
  view.bubble("user", "x");
  view.clear();
  assert.equal(log.children.length, 0);
});

test("botMessagesOf: the item's messages, else its meta's, else its text", () => {
  assert.deepEqual(botMessagesOf({ messages: [{ type: "end" }], meta: { messages: [{ type: "link" }] } }), [{ type: "end" }]);
  assert.deepEqual(botMessagesOf({ meta: { messages: [{ type: "link" }] }, text: "t" }), [{ type: "link" }]);
  assert.deepEqual(botMessagesOf({ messages: [], text: "t" }), [{ type: "text", text: "t" }]);
  assert.deepEqual(botMessagesOf({}), []);
  assert.deepEqual(botMessagesOf(null), []);
});

test("safeUrl resolves relative addresses and refuses other schemes", () => {
  assert.equal(safeUrl("https://a.example/x", "https://b.example/"), "https://a.example/x");
  assert.equal(safeUrl("tel:+331", "https://b.example/"), "tel:+331");
  assert.equal(safeUrl("data:text/html,hi", "https://b.example/"), null);
  assert.equal(safeUrl("http://[bad", "https://b.example/"), null);
});
