/* botportal chat widget page: one conversation with a public bot over the /api/v1 session routes.
 *
 * The glue: the page's elements, the visitor's session (kept by storage.js, so that a reload continues
 * the same conversation; an expired token is replaced by a new session automatically), the pre-chat
 * form, and a turn streamed as JSON lines (api.js, jsonl.js) into the log (render.js).
 */
import { ApiError, createApiClient, explain } from "./api.js";
import { readJsonl } from "./jsonl.js";
import { createRenderer } from "./render.js";
import { createSessionStore } from "./storage.js";

const PAGE_SIZE = 100;
// A token this close to its expiry is traded for a fresh one before use, keeping the conversation.
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

const config = JSON.parse(document.getElementById("bp-config").textContent);

const statusLine = document.getElementById("bp-status");
const composer = document.getElementById("bp-composer");
const input = document.getElementById("bp-input");
const sendButton = document.getElementById("bp-send");
const prechat = document.getElementById("bp-prechat");
const prechatError = document.getElementById("bp-prechat-error");
const restartButton = document.getElementById("bp-restart");
const closeButton = document.getElementById("bp-close");
const log = document.getElementById("bp-log");

let session = null; // {conversationId, token, expiresAt, contact, ended}
let busy = false;

const store = createSessionStore({
  win: window,
  botId: config.botId,
  parentOrigin: config.embedded && window.parent !== window ? config.parentOrigin : null,
});
const api = createApiClient({
  base: config.apiBase,
  fetch: function (url, init) {
    return window.fetch(url, init);
  },
  token: function () {
    return session && session.token ? session.token : null;
  },
});
const view = createRenderer({
  document: document,
  log: log,
  botName: config.name,
  baseUrl: window.location.href,
  isBusy: function () {
    return busy;
  },
  onChoose: function (label) {
    send(label);
  },
  onEnd: conversationEnded,
});

function saveSession() {
  store.save(session);
}

function conversationPath(suffix) {
  return "/conversation/" + encodeURIComponent(session.conversationId) + suffix;
}

// --- composer state ------------------------------------------------------------------------
function setBusy(value, statusText) {
  busy = value;
  const usable = !value && session && !session.ended;
  input.disabled = !usable;
  sendButton.disabled = !usable;
  statusLine.textContent = statusText || "";
  log.setAttribute("aria-busy", value ? "true" : "false");
}

function focusInput() {
  if (!input.disabled) input.focus();
}

function conversationEnded() {
  if (session) {
    session.ended = true;
    saveSession();
  }
  input.disabled = true;
  sendButton.disabled = true;
  view.notice("end", "This conversation has ended.", {
    label: "Start a new conversation",
    run: function () {
      restart(null);
    },
  });
}

// --- sessions ------------------------------------------------------------------------------
// `intro`: a notice shown once the new session exists, before its first messages.
function startSession(contact, intro) {
  setBusy(true, "Connecting…");
  const body = {};
  if (contact) body.contact = contact;
  return api.json("POST", "/bot/" + encodeURIComponent(config.botId) + "/session/create", body).then(function (created) {
    session = {
      conversationId: created.conversationId,
      token: created.token,
      expiresAt: created.expiresAt,
      contact: contact || null,
      ended: false,
    };
    saveSession();
    if (intro) view.notice("info", intro);
    view.renderItems(created.messages || []);
    setBusy(false);
    focusInput();
  });
}

function failStart(error) {
  session = null;
  saveSession();
  setBusy(false);
  view.notice("error", explain(error), {
    label: "Try again",
    run: function () {
      begin();
    },
  });
}

// A new conversation after the old token stopped working, said out loud (if one could be opened:
// a bot that is gone gets its own message instead).
function replaceExpired() {
  const contact = session ? session.contact : null;
  session = null;
  saveSession();
  return startSession(contact, "Your previous session expired, so a new conversation has started.");
}

// Trade a token about to expire for a new one on the same conversation; a failure is not fatal
// (the request that follows finds out, and an expired token is replaced by a new session).
function refreshIfDue() {
  if (!session || !session.expiresAt || session.expiresAt - Date.now() > REFRESH_MARGIN_MS) {
    return Promise.resolve();
  }
  if (session.expiresAt <= Date.now()) return Promise.resolve();
  return api
    .json("POST", conversationPath("/session/refresh"), {})
    .then(function (issued) {
      session.token = issued.token;
      session.expiresAt = issued.expiresAt;
      saveSession();
    })
    .catch(function () {});
}

function loadHistory() {
  setBusy(true, "Loading the conversation…");
  let items = [];
  function page(cursor) {
    const query = "?order=asc&take=" + PAGE_SIZE + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    return api.json("GET", conversationPath("/message/list" + query)).then(function (payload) {
      const got = payload.items || [];
      items = items.concat(got);
      if (got.length === PAGE_SIZE && payload.cursor) return page(payload.cursor);
      return items;
    });
  }
  return page(null).then(function (all) {
    view.renderItems(all);
    setBusy(false);
  });
}

function begin() {
  return store.load().then(resume);
}

function resume(stored) {
  if (stored && stored.token && !stored.ended) {
    session = stored;
    if (stored.expiresAt && stored.expiresAt <= Date.now()) {
      return replaceExpired().catch(failStart);
    }
    return refreshIfDue()
      .then(loadHistory)
      .catch(function (error) {
        if (error instanceof ApiError && error.status === 401) return replaceExpired().catch(failStart);
        setBusy(false);
        view.notice("error", explain(error), {
          label: "Try again",
          run: function () {
            view.clear();
            resume(session);
          },
        });
      });
  }
  const contact = stored ? stored.contact : null;
  if (config.prechat.length && !contact) return showPrechat();
  return startSession(contact).catch(failStart);
}

function restart(contact) {
  session = null;
  saveSession();
  view.clear();
  if (config.prechat.length && !contact) return showPrechat();
  return startSession(contact).catch(failStart);
}

// --- the pre-chat form ---------------------------------------------------------------------
function showPrechat() {
  config.prechat.forEach(function (field) {
    const wrapper = prechat.querySelector('[data-field="' + field + '"]');
    wrapper.hidden = false;
    wrapper.querySelector("input").required = true;
  });
  prechat.hidden = false;
  setBusy(false);
  input.disabled = true;
  sendButton.disabled = true;
  const first = prechat.querySelector("input[required]");
  if (first) first.focus();
}

prechat.addEventListener("submit", function (event) {
  event.preventDefault();
  prechatError.textContent = "";
  const contact = {};
  let invalid = null;
  config.prechat.forEach(function (field) {
    const control = prechat.elements[field];
    const value = control.value.trim();
    control.removeAttribute("aria-invalid");
    if (!value || !control.checkValidity()) {
      control.setAttribute("aria-invalid", "true");
      if (!invalid) invalid = control;
    }
    contact[field] = value;
  });
  if (invalid) {
    prechatError.textContent = "Please fill in " + invalid.labels[0].textContent.toLowerCase() + " correctly.";
    invalid.focus();
    return;
  }
  startSession(contact)
    .then(function () {
      prechat.hidden = true;
      focusInput();
    })
    .catch(function (error) {
      session = null;
      setBusy(false);
      input.disabled = true;
      sendButton.disabled = true;
      prechatError.textContent = error instanceof ApiError && error.status === 400 ? error.message : explain(error);
    });
});

// --- a turn --------------------------------------------------------------------------------
function complete(text) {
  let streaming = null;
  let result = null;
  let stored = null; // the `message` event: the bot message as stored, with its meta
  let streamError = null;
  return api
    .request("POST", conversationPath("/complete"), { text: text }, "application/jsonl")
    .then(function (response) {
      return readJsonl(response, function (event) {
        if (event.type === "token" && event.data && typeof event.data.token === "string") {
          if (!streaming) {
            streaming = view.streamingBubble();
            statusLine.textContent = "";
          }
          streaming.add(event.data.token);
        } else if (event.type === "message" && event.data && event.data.type === "bot") {
          stored = event.data;
        } else if (event.type === "result") {
          result = event.data;
        } else if (event.type === "error") {
          streamError = new ApiError(500, (event.data && event.data.message) || "error", event.data && event.data.code);
        }
      });
    })
    .then(function () {
      if (streaming) streaming.remove();
      if (streamError) throw streamError;
      if (!result) return;
      const rich = !Array.isArray(result.messages) && stored && stored.meta ? stored : result;
      view.renderBotItem(rich, true);
    });
}

function send(text, retried) {
  if (!session || session.ended) return Promise.resolve();
  if (!retried) view.bubble("user", text);
  setBusy(true, config.name + " is typing…");
  return refreshIfDue()
    .then(function () {
      return complete(text);
    })
    .then(function () {
      setBusy(false);
      focusInput();
    })
    .catch(function (error) {
      if (error instanceof ApiError && error.status === 401 && !retried) {
        return replaceExpired()
          .then(function () {
            return send(text, true);
          })
          .catch(failStart);
      }
      setBusy(false);
      view.notice("error", explain(error));
      if (!input.value) input.value = text;
      focusInput();
    });
}

composer.addEventListener("submit", function (event) {
  event.preventDefault();
  const text = input.value.trim();
  if (!text || busy || !session) return;
  input.value = "";
  view.disableChoices();
  send(text);
});

input.addEventListener("keydown", function (event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

restartButton.addEventListener("click", function () {
  if (busy) return;
  restart(session ? session.contact : null);
});

function closeWidget() {
  window.parent.postMessage({ type: "botportal:close", botId: config.botId }, "*");
}

if (closeButton) closeButton.addEventListener("click", closeWidget);
if (config.embedded) {
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeWidget();
  });
  window.addEventListener("message", function (event) {
    if (event.source === window.parent && event.data && event.data.type === "botportal:focus") focusInput();
  });
}

begin();
