/* The conversation log: bubbles, notices, choices and links. Everything the bot or the visitor wrote is
 * inserted as text (textContent), never as HTML; a link's address must be http(s), mailto or tel. */

const LINK_PROTOCOLS = ["http:", "https:", "mailto:", "tel:"];

// `url` resolved against `base`, if it is a link a visitor may follow; else null.
export function safeUrl(url, base) {
  try {
    const parsed = new URL(url, base);
    return LINK_PROTOCOLS.indexOf(parsed.protocol) >= 0 ? parsed.href : null;
  } catch (e) {
    return null;
  }
}

// The engine's messages in one stored bot message: its rich messages if any, else its text.
export function botMessagesOf(item) {
  let rich = item && item.meta && Array.isArray(item.meta.messages) ? item.meta.messages : null;
  if (item && Array.isArray(item.messages)) rich = item.messages;
  if (rich && rich.length) return rich;
  return item && item.text ? [{ type: "text", text: item.text }] : [];
}

/* `document`, the `log` element, the bot's name (for screen readers), `baseUrl` for relative links,
 * `isBusy()` (a choice is ignored while a turn runs), `onChoose(label)` (a choice was picked) and
 * `onEnd()` (the bot ended the conversation). */
export function createRenderer({ document, log, botName, baseUrl, isBusy, onChoose, onEnd }) {
  function element(tag, className, text) {
    const node = document.createElement(tag);
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

  function clear() {
    log.textContent = "";
  }

  function bubble(who, text) {
    const row = element("div", "bp-message bp-" + who);
    const label = element("span", "bp-visually-hidden", who === "user" ? "You said: " : botName + " said: ");
    row.appendChild(label);
    row.appendChild(element("span", "bp-text", text));
    return append(row);
  }

  // `action`: {label, run} for a button that runs once.
  function notice(kind, text, action) {
    const row = element("div", "bp-notice bp-notice-" + kind);
    row.appendChild(element("span", "bp-text", text));
    if (action) {
      const button = element("button", "bp-button bp-button-small", action.label);
      button.type = "button";
      button.addEventListener("click", function () {
        button.disabled = true;
        action.run();
      });
      row.appendChild(button);
    }
    return append(row);
  }

  // A bot bubble that fills in as tokens arrive; removed once the turn's result is rendered.
  function streamingBubble() {
    const row = bubble("bot", "");
    row.classList.add("bp-streaming");
    const text = row.querySelector(".bp-text");
    return {
      add(token) {
        text.textContent += token;
        scrollToEnd();
      },
      remove() {
        row.remove();
      },
    };
  }

  function disableChoices() {
    const buttons = log.querySelectorAll(".bp-choice");
    for (let i = 0; i < buttons.length; i++) buttons[i].disabled = true;
  }

  function renderChoices(message, active) {
    if (message.text) bubble("bot", message.text);
    const group = element("div", "bp-choices");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", message.text || "Choices");
    (message.choices || []).forEach(function (choice) {
      const button = element("button", "bp-choice", choice.label);
      button.type = "button";
      button.disabled = !active;
      button.addEventListener("click", function () {
        if (isBusy()) return;
        disableChoices();
        button.classList.add("bp-chosen");
        button.setAttribute("aria-pressed", "true");
        onChoose(choice.label);
      });
      group.appendChild(button);
    });
    append(group);
  }

  function renderLink(message) {
    const url = safeUrl(message.url, baseUrl);
    const row = element("div", "bp-message bp-bot bp-link");
    if (url) {
      const anchor = element("a", null, message.text || message.url);
      anchor.href = url;
      anchor.target = "_blank";
      anchor.rel = "noopener noreferrer";
      row.appendChild(anchor);
    } else {
      row.appendChild(element("span", "bp-text", message.text || ""));
    }
    append(row);
  }

  // One bot message of the engine: text, choices, link, escalate or end. `active`: its choices may be picked.
  function renderBotMessage(message, active) {
    switch (message.type) {
      case "choices":
        renderChoices(message, active);
        break;
      case "link":
        renderLink(message);
        break;
      case "escalate":
        notice("escalate", message.text || "You are being transferred to a person who will reply here.");
        break;
      case "end":
        if (message.text) bubble("bot", message.text);
        onEnd();
        break;
      default:
        if (message.text) bubble("bot", message.text);
    }
  }

  function renderBotItem(item, active) {
    botMessagesOf(item).forEach(function (message) {
      renderBotMessage(message, active);
    });
  }

  // A page of stored messages (history, or a new session's greeting): only the last, if it is the
  // bot's, keeps its choices active.
  function renderItems(items) {
    items.forEach(function (item, index) {
      if (item.type === "user") bubble("user", item.text);
      else if (item.type === "bot") renderBotItem(item, index === items.length - 1);
    });
  }

  return { append, bubble, clear, disableChoices, notice, renderBotItem, renderItems, scrollToEnd, streamingBubble };
}
