// Microsoft's Direct Line client meeting botportal's turn throttle: three messages posted at once where the
// conversation may take two a second. Input (environment): BOTPORTAL_URL, BOTPORTAL_DL_SECRET, and
// DL_RXJS_TIMER=1 to load rxjs's Observable.timer first, as an application importing all of rxjs 5 does
// (directlinejs's 429 handler calls it but never loads it). Output: one JSON object on stdout: each
// post's outcome and how long the client took to report it, then a post sent the moment the refusal was
// reported.
import { createRequire } from 'node:module'
import { ConnectionStatus, DirectLine } from 'botframework-directlinejs'
import WebSocket from 'ws'

const require = createRequire(import.meta.url)
globalThis.XMLHttpRequest = require('xhr2')
globalThis.WebSocket = WebSocket
if (process.env.DL_RXJS_TIMER === '1') require('rxjs/add/observable/timer')

const domain = `${process.env.BOTPORTAL_URL}/v3/directline`
const user = { id: 'dl-throttled-user', name: 'Node' }
const out = { statuses: [] }

const generated = await fetch(`${domain}/tokens/generate`, {
  method: 'POST',
  headers: { Authorization: `Bearer ${process.env.BOTPORTAL_DL_SECRET}`, 'Content-Type': 'application/json' },
  body: JSON.stringify({ user }),
}).then((response) => response.json())

const directLine = new DirectLine({ token: generated.token, domain, webSocket: true })
directLine.connectionStatus$.subscribe((status) => out.statuses.push(ConnectionStatus[status]))
await new Promise((resolve, reject) => {
  setTimeout(() => reject(new Error('timed out waiting for the welcome')), 15000)
  directLine.activity$.subscribe((activity) => activity.from?.role === 'bot' && resolve())
})

function post(text) {
  const started = Date.now()
  return new Promise((resolve) => {
    directLine.postActivity({ type: 'message', from: user, text }).subscribe(
      (id) => resolve({ id, ms: Date.now() - started }),
      (error) => resolve({
        status: error.status,
        retryAfter: error.xhr?.getResponseHeader('Retry-After'),
        ms: Date.now() - started,
      })
    )
  })
}

out.burst = await Promise.all(['one', 'two', 'three'].map((text) => post(`burst ${text}`)))
out.again = await post('sent again once the refusal was reported')
directLine.end()
console.log(JSON.stringify(out))
process.exit(0)
