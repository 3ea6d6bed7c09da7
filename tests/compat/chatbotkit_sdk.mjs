// Drives botportal with the official ChatBotKit client, as an application would.
// Input (environment): BOTPORTAL_URL, BOTPORTAL_SECRET (an owner's API secret), BOTPORTAL_EXPIRED_TOKEN and
// BOTPORTAL_EXPIRED_CONVERSATION (a session whose token has expired). Output: one JSON object on stdout
// with what the client saw; the pytest wrapper checks it against the database.
import { ChatBotKit } from '@chatbotkit/sdk'

const baseUrl = process.env.BOTPORTAL_URL
const owner = new ChatBotKit({ secret: process.env.BOTPORTAL_SECRET, baseUrl, retries: 0 })

async function errorOf(promise) {
  try {
    await promise
  } catch (error) {
    return { name: error.name, code: error.code, message: error.message }
  }
  return null
}

const out = {}

const bot = await owner.bot.create({ name: 'SDK bot', backstory: 'You help.', visibility: 'private' })
out.botId = bot.id
out.bot = await owner.bot.fetch(bot.id)

const session = await owner.bot.session.create(bot.id, {
  durationInSeconds: 1800,
  contact: { name: 'Ann', email: 'Ann@Example.com' },
  messages: [{ type: 'user', text: 'Hello from the SDK' }],
})
out.session = session
const cid = session.conversationId

const visitor = new ChatBotKit({ secret: session.token, baseUrl, retries: 0 })
out.complete = await visitor.conversation.complete(cid, { text: 'What are your opening hours?' })

out.streamed = []
for await (const event of visitor.conversation.complete(cid, { text: 'And on Sundays?' }).stream()) {
  out.streamed.push(event)
}

out.messages = await visitor.conversation.message.list(cid)
out.ownerMessages = await owner.conversation.message.list(cid, { take: 2, order: 'desc' })

out.conversationSession = await owner.conversation.session.create(cid, { durationInSeconds: 3600 })
const second = new ChatBotKit({ secret: out.conversationSession.token, baseUrl, retries: 0 })
out.secondComplete = await second.conversation.complete(cid, { text: 'Still there?' })

// A token used on another conversation, an expired token, a token on an owner route.
const other = await owner.bot.session.create(bot.id, {})
out.foreignTokenError = await errorOf(visitor.conversation.complete(other.conversationId, { text: 'hi' }))
const expired = new ChatBotKit({ secret: process.env.BOTPORTAL_EXPIRED_TOKEN, baseUrl, retries: 0 })
out.expiredTokenError = await errorOf(
  expired.conversation.complete(process.env.BOTPORTAL_EXPIRED_CONVERSATION, { text: 'hi' })
)
out.ownerRouteError = await errorOf(visitor.bot.list())
out.streamError = await errorOf(
  (async () => {
    for await (const event of expired.conversation.complete(process.env.BOTPORTAL_EXPIRED_CONVERSATION, { text: 'hi' }).stream()) {
      void event
    }
  })()
)
out.notFoundError = await errorOf(owner.bot.fetch('00000000-0000-0000-0000-000000000000'))

process.stdout.write(JSON.stringify(out))
