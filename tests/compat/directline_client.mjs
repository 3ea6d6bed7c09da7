// Drives botportal with Microsoft's Direct Line client, as Web Chat does underneath, once polling and once
// over the WebSocket. Input (environment): BOTPORTAL_URL, BOTPORTAL_DL_SECRET (a bot's Direct Line secret),
// DL_MODE ("polling" or "websocket"). Output: one JSON object on stdout with what the client saw.
import { createRequire } from 'node:module'
import { ConnectionStatus, DirectLine } from 'botframework-directlinejs'
import WebSocket from 'ws'

const require = createRequire(import.meta.url)
// Node has neither: the browser's XMLHttpRequest (rxjs ajax) and, before Node 22, WebSocket.
globalThis.XMLHttpRequest = require('xhr2')
globalThis.WebSocket = WebSocket

const base = process.env.BOTPORTAL_URL
const domain = `${base}/v3/directline`
const secret = process.env.BOTPORTAL_DL_SECRET
const mode = process.env.DL_MODE
const user = { id: 'dl-node-user', name: 'Node' }
const out = { mode, statuses: [], activities: [] }

function within(ms, what) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms))
}

// The site's back end trades its secret for a token (each call a new conversation).
const generated = await fetch(`${domain}/tokens/generate`, {
  method: 'POST',
  headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
  body: JSON.stringify({ user }),
}).then((response) => response.json())
out.generated = generated

const directLine = new DirectLine({ token: generated.token, domain, webSocket: mode === 'websocket' })
directLine.connectionStatus$.subscribe((status) => out.statuses.push(ConnectionStatus[status]))

const waiters = []
directLine.activity$.subscribe((activity) => {
  out.activities.push(activity)
  for (const waiter of [...waiters]) {
    if (waiter.test(activity)) {
      waiters.splice(waiters.indexOf(waiter), 1)
      waiter.resolve(activity)
    }
  }
})

function seen(test, what, ms = 15000) {
  const found = out.activities.find(test)
  if (found) return Promise.resolve(found)
  return Promise.race([new Promise((resolve) => waiters.push({ test, resolve })), within(ms, what)])
}

function post(text, clientActivityID) {
  return new Promise((resolve, reject) => {
    directLine
      .postActivity({ type: 'message', from: user, text, channelData: { clientActivityID } })
      .subscribe(resolve, reject)
  })
}

await seen((a) => a.from?.role === 'bot' && a.text === "Hi! I'm the Direct Line helper.", 'the welcome')

const menuId = await post('show me the menu', 'client-1')
out.menuId = menuId
out.menuEcho = await seen((a) => a.id === menuId, 'the echo of the first message')
out.menuReply = await seen((a) => a.replyToId === menuId && a.suggestedActions, 'the suggested actions')

const trackId = await post('Track my order', 'client-2')
out.trackReply = await seen((a) => a.replyToId === trackId && a.textFormat === 'markdown', 'the link')

// Polling: a few seconds of it at the default interval, which must never meet a throttle.
if (mode === 'polling') await new Promise((resolve) => setTimeout(resolve, 4000))

const byeId = await post('goodbye', 'client-3')
out.end = await seen((a) => a.replyToId === byeId && a.type === 'endOfConversation', 'the end of the conversation')
out.watermark = directLine.watermark
directLine.end()
console.log(JSON.stringify(out))
process.exit(0)
