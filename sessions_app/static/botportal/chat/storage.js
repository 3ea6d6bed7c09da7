/* Where the visitor's session is kept between page loads.
 *
 * Standalone, the page keeps the session in its own sessionStorage (this tab only). Embedded in another
 * site, its storage is third-party and browsers block or partition it, so the launcher keeps the session
 * in the host page's sessionStorage instead and hands it over on request (postMessage, to the host origin
 * the server checked against the bot's allowed origins, and from it only).
 */

export const STORAGE_PREFIX = "botportal:widget:";
// Framed by a page without the launcher, nobody answers the hello: start afresh after this long.
export const HELLO_TIMEOUT_MS = 1500;

export function storageKey(botId) {
  return STORAGE_PREFIX + botId;
}

/* `win`: the window (its sessionStorage, parent, postMessage, timers); `parentOrigin`: the host page's
 * origin when embedded by the launcher, else null. */
export function createSessionStore({ win, botId, parentOrigin, helloTimeoutMs = HELLO_TIMEOUT_MS }) {
  const key = storageKey(botId);
  let parent = parentOrigin || null;
  let memory = null; // the last session saved, for when no storage keeps it

  function ownStorage() {
    try {
      return win.sessionStorage;
    } catch (e) {
      return null; // storage disabled: the conversation lasts as long as the page
    }
  }

  function loadFromParent() {
    return new Promise(function (resolve) {
      let settled = false;
      function finish(state) {
        if (settled) return;
        settled = true;
        win.removeEventListener("message", onMessage);
        resolve(state);
      }
      function onMessage(event) {
        if (event.source !== win.parent || event.origin !== parent) return;
        if (event.data && event.data.type === "botportal:state" && event.data.botId === botId) {
          finish(event.data.state || null);
        }
      }
      win.addEventListener("message", onMessage);
      win.parent.postMessage({ type: "botportal:hello", botId: botId }, parent);
      win.setTimeout(function () {
        parent = null;
        finish(null);
      }, helloTimeoutMs);
    });
  }

  // The stored session (or null), as a promise: the launcher answers asynchronously.
  function load() {
    if (parent) return loadFromParent();
    const storage = ownStorage();
    try {
      const raw = storage ? storage.getItem(key) : null;
      return Promise.resolve(raw ? JSON.parse(raw) : memory);
    } catch (e) {
      return Promise.resolve(memory);
    }
  }

  // Keep `session`; null forgets it.
  function save(session) {
    memory = session;
    if (parent) {
      win.parent.postMessage({ type: "botportal:store", botId: botId, state: session }, parent);
      return;
    }
    const storage = ownStorage();
    try {
      if (!storage) return;
      if (session) storage.setItem(key, JSON.stringify(session));
      else storage.removeItem(key);
    } catch (e) {
      /* storage full or disabled: the conversation still works until the page is left */
    }
  }

  return { load, save };
}
