/* botportal embed: <script src="https://botportal.example/static/botportal/widget.js" data-bot="BOT_ID" async></script>
 *
 * Adds a launcher button to the page; the chat itself runs in an iframe served by botportal. Browsers
 * block or partition storage inside third-party frames, so this script keeps the chat's session (a
 * token good for this one conversation only) in the page's own sessionStorage and hands it to the
 * frame when it asks: a visitor who reloads continues the same conversation in the same tab.
 * Optional attributes: data-label (the button's text), data-position ("left" or "right", default
 * right). No dependencies, no build step.
 */
(function () {
  "use strict";

  var script =
    document.currentScript ||
    (function () {
      var found = document.querySelectorAll("script[data-bot][src*='botportal/widget.js']");
      return found[found.length - 1];
    })();
  if (!script) return;
  var botId = script.getAttribute("data-bot");
  if (!botId) {
    if (window.console) console.error("botportal widget: the script tag needs a data-bot attribute.");
    return;
  }
  var origin = new URL(script.src, window.location.href).origin;
  var label = script.getAttribute("data-label") || "Chat with us";
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";
  var openKey = "botportal:widget:open:" + botId;
  var sessionKey = "botportal:widget:" + botId;
  var id = "botportal-widget-" + botId.replace(/[^A-Za-z0-9_-]/g, "");
  if (document.getElementById(id)) return; // the snippet was pasted twice

  var css =
    "#" + id + "{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;font:16px/1.4 system-ui,sans-serif}" +
    "#" + id + " .bpw-launcher{display:flex;align-items:center;gap:.5rem;min-height:48px;padding:0 1.1rem;border:0;" +
    "border-radius:24px;background:#1f5fbf;color:#fff;font:inherit;font-weight:600;cursor:pointer;" +
    "box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
    "#" + id + " .bpw-launcher:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}" +
    "#" + id + " .bpw-frame{position:fixed;bottom:84px;" + side + ":20px;width:380px;height:600px;" +
    "max-height:calc(100vh - 104px);border:0;border-radius:12px;background:#fff;box-shadow:0 8px 30px rgba(0,0,0,.3)}" +
    "#" + id + " .bpw-frame[hidden]{display:none}" +
    "@media (max-width:480px){#" + id + " .bpw-frame{top:0;left:0;right:0;bottom:0;width:100%;height:100%;" +
    "max-height:none;border-radius:0}#" + id + ".bpw-open .bpw-launcher{display:none}}";

  var root = document.createElement("div");
  root.id = id;
  var style = document.createElement("style");
  style.textContent = css;
  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "bpw-launcher";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", id + "-frame");
  launcher.setAttribute("aria-haspopup", "dialog");
  launcher.textContent = label;
  root.appendChild(style);
  root.appendChild(launcher);

  var frame = null;

  function remember(open) {
    try {
      if (open) window.sessionStorage.setItem(openKey, "1");
      else window.sessionStorage.removeItem(openKey);
    } catch (e) {
      /* storage disabled: the widget starts closed on the next page */
    }
  }

  function storedSession() {
    try {
      var raw = window.sessionStorage.getItem(sessionKey);
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return null;
    }
  }

  function storeSession(state) {
    try {
      if (state) window.sessionStorage.setItem(sessionKey, JSON.stringify(state));
      else window.sessionStorage.removeItem(sessionKey);
    } catch (e) {
      /* storage disabled: the conversation lasts as long as the page */
    }
  }

  function ensureFrame() {
    if (frame) return frame;
    frame = document.createElement("iframe");
    frame.id = id + "-frame";
    frame.className = "bpw-frame";
    frame.title = "Chat";
    frame.hidden = true;
    frame.src =
      origin + "/widget/" + encodeURIComponent(botId) + "/?embed=1&host=" + encodeURIComponent(window.location.origin);
    root.appendChild(frame);
    return frame;
  }

  function open(focus) {
    var chat = ensureFrame();
    chat.hidden = false;
    root.classList.add("bpw-open");
    launcher.setAttribute("aria-expanded", "true");
    launcher.textContent = "Close chat";
    remember(true);
    if (focus) {
      chat.focus();
      if (chat.contentWindow) chat.contentWindow.postMessage({ type: "botportal:focus" }, origin);
    }
  }

  function close() {
    if (frame) frame.hidden = true;
    root.classList.remove("bpw-open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.textContent = label;
    remember(false);
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (frame && !frame.hidden) close();
    else open(true);
  });

  window.addEventListener("message", function (event) {
    if (!frame || event.origin !== origin || event.source !== frame.contentWindow) return;
    var data = event.data || {};
    if (data.type === "botportal:close") close();
    else if (data.type === "botportal:hello" && data.botId === botId) {
      frame.contentWindow.postMessage({ type: "botportal:state", botId: botId, state: storedSession() }, origin);
    } else if (data.type === "botportal:store" && data.botId === botId) {
      storeSession(data.state || null);
    }
  });

  function mount() {
    document.body.appendChild(root);
    var reopen = false;
    try {
      reopen = window.sessionStorage.getItem(openKey) === "1";
    } catch (e) {
      reopen = false;
    }
    if (reopen) open(false);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
