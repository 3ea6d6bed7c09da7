/* botportal chat widget page: one conversation with a public bot over the /api/v1 session routes.
 *
 * The session token lives in sessionStorage (this tab only), so a visitor who reloads the page
 * continues the same conversation; an expired token is replaced by a new session automatically.
 * Everything the bot or the visitor wrote is inserted as text, never as HTML.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("bp-config").textContent);
  var api = config.apiBase.replace(/\/$/, "");
  var storageKey = "botportal:widget:" + config.botId;
  var PAGE_SIZE = 100;
  // A token this close to its expiry is traded for a fresh one before use, keeping the conversation.
  var REFRESH_MARGIN_MS = 5 * 60 * 1000;

  var log = document.getElementById("bp-log");
  var statusLine = document.getElementById("bp-status");
  var composer = document.getElementById("bp-composer");
  var input = document.getElementById("bp-input");
  var sendButton = document.getElementById("bp-send");
  var prechat = document.getElementById("bp-prechat");
  var prechatError = document.getElementById("bp-prechat-error");
  var restartButton = document.getElementById("bp-restart");
  var closeButton = document.getElementById("bp-close");

  var session = null; // {conversationId, token, expiresAt, contact, ended}
  var busy = false;

  // --- storage -----------------------------------------------------------------------------
  // Standalone, the page keeps the session in its own sessionStorage. Embedded in another site, its
  // storage is third-party and browsers block or partition it, so the launcher keeps the session in
  // the host page's sessionStorage instead and hands it over on request (postMessage, to the host
  // origin the server checked against the bot's allowed origins, and from it only).
  var parentOrigin = config.embedded && window.parent !== window ? config.parentOrigin : null;
  var memory = null;

  function ownStorage() {
    try {
      return window.sessionStorage;
    } catch (e) {
      return null; // storage disabled: the conversation lasts as long as the page
    }
  }

  function loadStored() {
    if (parentOrigin) {
      return new Promise(function (resolve) {
        var settled = false;
        function finish(state) {
          if (settled) return;
          settled = true;
          window.removeEventListener("message", onMessage);
          resolve(state);
        }
        function onMessage(event) {
          if (event.source !== window.parent || event.origin !== parentOrigin) return;
          if (event.data && event.data.type === "botportal:state" && event.data.botId === config.botId) {
            finish(event.data.state || null);
          }
        }
        window.addEventListener("message", onMessage);
        window.parent.postMessage({ type: "botportal:hello", botId: config.botId }, parentOrigin);
        // Framed by a page without the launcher: nobody answers, so start afresh.
        window.setTimeout(function () {
          parentOrigin = null;
          finish(null);
        }, 1500);
      });
    }
    var storage = ownStorage();
    try {
      var raw = storage ? storage.getItem(storageKey) : null;
      return Promise.resolve(raw ? JSON.parse(raw) : memory);
    } catch (e) {
      return Promise.resolve(memory);
    }
  }

  function saveSession() {
    memory = session;
    if (parentOrigin) {
      window.parent.postMessage({ type: "botportal:store", botId: config.botId, state: session }, parentOrigin);
      return;
    }
    var storage = ownStorage();
    try {
      if (!storage) return;
      if (session) storage.setItem(storageKey, JSON.stringify(session));
      else storage.removeItem(storageKey);
    } catch (e) {
      /* storage full or disabled: the conversation still works until the page is left */
    }
  }

  // --- rendering ---------------------------------------------------------------------------
  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function append(node) {
    log.appendChild(node);
    scrollToEnd();
    return node;
  }

  function bubble(who, text) {
    var row = element("div", "bp-message bp-" + who);
    var label = element("span", "bp-visually-hidden", who === "user" ? "You said: " : config.name + " said: ");
    row.appendChild(label);
    row.appendChild(element("span", "bp-text", text));
    return append(row);
  }

  function notice(kind, text, action) {
    var row = element("div", "bp-notice bp-notice-" + kind);
    row.appendChild(element("span", "bp-text", text));
    if (action) {
      var button = element("button", "bp-button bp-button-small", action.label);
      button.type = "button";
      button.addEventListener("click", function () {
        button.disabled = true;
        action.run();
      });
      row.appendChild(button);
    }
    return append(row);
  }

  function safeUrl(url) {
    try {
      var parsed = new URL(url, window.location.href);
      return ["http:", "https:", "mailto:", "tel:"].indexOf(parsed.protocol) >= 0 ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function disableChoices() {
    var buttons = log.querySelectorAll(".bp-choice");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
  }

  function renderChoices(message, active) {
    if (message.text) bubble("bot", message.text);
    var group = element("div", "bp-choices");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", message.text || "Choices");
    (message.choices || []).forEach(function (choice) {
      var button = element("button", "bp-choice", choice.label);
      button.type = "button";
      button.disabled = !active;
      button.addEventListener("click", function () {
        if (busy) return;
        disableChoices();
        button.classList.add("bp-chosen");
        button.setAttribute("aria-pressed", "true");
        send(choice.label);
      });
      group.appendChild(button);
    });
    append(group);
  }

  // One bot message of the engine: text, choices, link, escalate or end.
  function renderBotMessage(message, active) {
    switch (message.type) {
      case "choices":
        renderChoices(message, active);
        break;
      case "link": {
        var url = safeUrl(message.url);
        var row = element("div", "bp-message bp-bot bp-link");
        if (url) {
          var anchor = element("a", null, message.text || message.url);
          anchor.href = url;
          anchor.target = "_blank";
          anchor.rel = "noopener noreferrer";
          row.appendChild(anchor);
        } else {
          row.appendChild(element("span", "bp-text", message.text || ""));
        }
        append(row);
        break;
      }
      case "escalate":
        notice("escalate", message.text || "You are being transferred to a person who will reply here.");
        break;
      case "end":
        if (message.text) bubble("bot", message.text);
        conversationEnded();
        break;
      default:
        if (message.text) bubble("bot", message.text);
    }
  }

  function botMessagesOf(item) {
    var rich = item && item.meta && Array.isArray(item.meta.messages) ? item.meta.messages : null;
    if (item && Array.isArray(item.messages)) rich = item.messages;
    if (rich && rich.length) return rich;
    return item && item.text ? [{ type: "text", text: item.text }] : [];
  }

  function renderBotItem(item, active) {
    botMessagesOf(item).forEach(function (message) {
      renderBotMessage(message, active);
    });
  }

  // --- composer state ------------------------------------------------------------------------
  function setBusy(value, statusText) {
    busy = value;
    var usable = !value && session && !session.ended;
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
    notice("end", "This conversation has ended.", {
      label: "Start a new conversation",
      run: function () {
        restart(null);
      },
    });
  }

  // --- HTTP --------------------------------------------------------------------------------
  function ApiError(status, message, code, retryAfter) {
    this.status = status;
    this.message = message;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  function request(method, path, body, accept) {
    var headers = { Accept: accept || "application/json" };
    if (session && session.token && path.indexOf("/session/create") < 0) {
      headers.Authorization = "Bearer " + session.token;
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(api + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    }).then(
      function (response) {
        if (response.ok) return response;
        return response
          .json()
          .catch(function () {
            return {};
          })
          .then(function (payload) {
            throw new ApiError(
              response.status,
              payload.message || response.statusText,
              payload.code,
              parseInt(response.headers.get("Retry-After") || "", 10)
            );
          });
      },
      function () {
        throw new ApiError(0, "network", "NETWORK");
      }
    );
  }

  function explain(error) {
    if (!(error instanceof ApiError)) return "Something went wrong. Please try again.";
    if (error.status === 429) {
      var wait = error.retryAfter > 0 ? " Please wait " + error.retryAfter + " seconds and try again." : " Please wait a moment and try again.";
      return "Too many messages right now." + wait;
    }
    if (error.status === 404) return "This assistant is no longer available.";
    if (error.status === 403) return "This assistant can't be reached from this page.";
    if (error.status === 0) return "Can't reach the server. Check your connection and try again.";
    if (error.status === 400) return "That message couldn't be sent: " + error.message;
    return "Something went wrong on our side. Please try again.";
  }

  // --- sessions ------------------------------------------------------------------------------
  // `intro`: a notice shown once the new session exists, before its first messages.
  function startSession(contact, intro) {
    setBusy(true, "Connecting…");
    var body = {};
    if (contact) body.contact = contact;
    return request("POST", "/bot/" + encodeURIComponent(config.botId) + "/session/create", body)
      .then(function (response) {
        return response.json();
      })
      .then(function (created) {
        session = {
          conversationId: created.conversationId,
          token: created.token,
          expiresAt: created.expiresAt,
          contact: contact || null,
          ended: false,
        };
        saveSession();
        if (intro) notice("info", intro);
        (created.messages || []).forEach(function (item, index, all) {
          if (item.type === "bot") renderBotItem(item, index === all.length - 1);
          else if (item.type === "user") bubble("user", item.text);
        });
        setBusy(false);
        focusInput();
      });
  }

  function failStart(error) {
    session = null;
    saveSession();
    setBusy(false);
    notice("error", explain(error), {
      label: "Try again",
      run: function () {
        begin();
      },
    });
  }

  // A new conversation after the old token stopped working, said out loud (if one could be opened:
  // a bot that is gone gets its own message instead).
  function replaceExpired() {
    var contact = session ? session.contact : null;
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
    return request("POST", "/conversation/" + encodeURIComponent(session.conversationId) + "/session/refresh", {})
      .then(function (response) {
        return response.json();
      })
      .then(function (issued) {
        session.token = issued.token;
        session.expiresAt = issued.expiresAt;
        saveSession();
      })
      .catch(function () {});
  }

  function loadHistory() {
    setBusy(true, "Loading the conversation…");
    var items = [];
    function page(cursor) {
      var query = "?order=asc&take=" + PAGE_SIZE + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      return request("GET", "/conversation/" + encodeURIComponent(session.conversationId) + "/message/list" + query)
        .then(function (response) {
          return response.json();
        })
        .then(function (payload) {
          var got = payload.items || [];
          items = items.concat(got);
          if (got.length === PAGE_SIZE && payload.cursor) return page(payload.cursor);
          return items;
        });
    }
    return page(null).then(function (all) {
      var lastBot = -1;
      all.forEach(function (item, index) {
        if (item.type === "bot") lastBot = index;
      });
      all.forEach(function (item, index) {
        if (item.type === "user") bubble("user", item.text);
        else if (item.type === "bot") renderBotItem(item, index === lastBot && lastBot === all.length - 1);
      });
      setBusy(false);
    });
  }

  function begin() {
    return loadStored().then(resume);
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
          notice("error", explain(error), {
            label: "Try again",
            run: function () {
              log.textContent = "";
              resume(session);
            },
          });
        });
    }
    var contact = stored ? stored.contact : null;
    if (config.prechat.length && !contact) return showPrechat();
    return startSession(contact).catch(failStart);
  }

  function restart(contact) {
    session = null;
    saveSession();
    log.textContent = "";
    if (config.prechat.length && !contact) return showPrechat();
    return startSession(contact).catch(failStart);
  }

  // --- the pre-chat form ---------------------------------------------------------------------
  function showPrechat() {
    config.prechat.forEach(function (field) {
      var wrapper = prechat.querySelector('[data-field="' + field + '"]');
      wrapper.hidden = false;
      wrapper.querySelector("input").required = true;
    });
    prechat.hidden = false;
    setBusy(false);
    input.disabled = true;
    sendButton.disabled = true;
    var first = prechat.querySelector("input[required]");
    if (first) first.focus();
  }

  prechat.addEventListener("submit", function (event) {
    event.preventDefault();
    prechatError.textContent = "";
    var contact = {};
    var invalid = null;
    config.prechat.forEach(function (field) {
      var control = prechat.elements[field];
      var value = control.value.trim();
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
  // Reads a JSONL body line by line; `onEvent` gets each parsed {type, data}.
  function readJsonl(response, onEvent) {
    var type = response.headers.get("Content-Type") || "";
    if (type.indexOf("jsonl") < 0 && type.indexOf("ndjson") < 0) {
      return response.json().then(function (body) {
        onEvent({ type: "result", data: body });
      });
    }
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function flush(final) {
      var lines = buffer.split("\n");
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

  function complete(text) {
    var streaming = null;
    var result = null;
    var stored = null; // the `message` event: the bot message as stored, with its meta
    var streamError = null;
    return request(
      "POST",
      "/conversation/" + encodeURIComponent(session.conversationId) + "/complete",
      { text: text },
      "application/jsonl"
    )
      .then(function (response) {
        return readJsonl(response, function (event) {
          if (event.type === "token" && event.data && typeof event.data.token === "string") {
            if (!streaming) {
              streaming = bubble("bot", "");
              streaming.classList.add("bp-streaming");
              statusLine.textContent = "";
            }
            streaming.querySelector(".bp-text").textContent += event.data.token;
            scrollToEnd();
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
        var rich = !Array.isArray(result.messages) && stored && stored.meta ? stored : result;
        renderBotItem(rich, true);
      });
  }

  function send(text, retried) {
    if (!session || session.ended) return Promise.resolve();
    if (!retried) bubble("user", text);
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
        notice("error", explain(error));
        if (!input.value) input.value = text;
        focusInput();
      });
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || busy || !session) return;
    input.value = "";
    disableChoices();
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
})();
