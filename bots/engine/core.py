"""One user turn in, the bot's messages out.

A turn goes, in order: a choice the bot offered (by id, index, label or alias); the answer to a
variable the bot asked for (slot filling); otherwise the intent classifier. A recognised intent first
asks for its missing required variables, then runs its ability, then answers its responses. When no
intent reaches the bot's threshold, a language model (when the bot names a configured one) or the
bot's dataset answers, else the fallback message.
"""

import copy
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from asgiref.sync import async_to_sync

from bots.search import dataset_search, record_coverage, record_covers_query

from . import llm, webhook
from .definition import Definition, definition_for
from .entities import extract
from .text import normalize, substitute
from .types import DetectedEntity, DetectedIntent, EngineReply, Turn
from .variables import coerce, contact_variables

logger = logging.getLogger(__name__)

CHOICE_NAMESPACE = uuid.UUID("6f1c3b52-8d8e-4f3a-9c49-6a2f0b7d9e11")
MAX_PROMPT_ATTEMPTS = 3
TOP_INTENTS = 5
# Above this confidence an intent answers even when a dataset record matches every word of the question.
CERTAIN = 0.95
# Below this confidence a record holding most (RECORD_COVERAGE) of the question's content words answers instead.
UNSURE = 0.85
RECORD_COVERAGE = 0.6


def welcome(turn: Turn) -> EngineReply:
    """The bot's welcome messages, sent when a session begins."""
    context = _Context(turn)
    for item in turn.bot.welcome_messages or []:
        if isinstance(item, str):
            if item:
                context.say({"type": "text", "text": substitute(item, context.variables)})
        elif isinstance(item, dict):
            context.render(item, source="welcome", position=len(context.messages))
    return context.reply()


@dataclass(frozen=True)
class LLMCall:
    """A network call the turn waits on: the language model's answer to `messages`."""

    provider: dict
    model: str
    messages: list


@dataclass(frozen=True)
class WebhookCall:
    """A network call the turn waits on: a webhook ability's reply (a dict, or the WebhookError)."""

    url: str
    payload: dict
    headers: dict


class TurnRun:
    """A turn answered in steps, so that its network calls can be awaited outside any transaction.

    `advance()` runs the turn up to its first network call (`pending`) or to its end (`reply`); a
    caller performs the pending call (`perform`) and advances with its result. The steps between
    calls are CPU only: every database read of a turn happens before its first call.
    """

    def __init__(self, turn: Turn):
        self._context = _Context(turn)
        self._steps = _run(turn, self._context)
        self.pending: LLMCall | WebhookCall | None = None
        self.reply: EngineReply | None = None
        self.streamed = False  # whether a language model streamed the reply's tokens

    def advance(self, result=None) -> "TurnRun":
        try:
            self.pending = self._steps.send(result) if self.pending is not None else next(self._steps)
        except StopIteration as done:
            self.pending, self.reply = None, done.value
        return self

    @property
    def intents(self) -> list[DetectedIntent]:
        return self._context.intents

    @property
    def entities(self) -> list[DetectedEntity]:
        return self._context.entities

    async def perform(self) -> AsyncIterator[str]:
        """Await the pending calls one after the other, yielding a language model's tokens as they
        arrive, until the turn has its reply. An LLMError (failed, timed out, ended early) fails the turn."""
        while self.pending is not None:
            call = self.pending
            if isinstance(call, LLMCall):
                pieces = []
                async for token in llm.astream_chat(call.provider, call.model, call.messages):
                    pieces.append(token)
                    self.streamed = True
                    yield token
                self.advance("".join(pieces))
            else:
                try:
                    answer = await webhook.acall(call.url, call.payload, headers=call.headers)
                except webhook.WebhookError as error:
                    answer = error
                self.advance(answer)


def reply_pieces(reply: EngineReply) -> list[str]:
    """A reply that no language model streamed, in word-sized pieces for a streaming client."""
    return [word if index == 0 else " " + word for index, word in enumerate(reply.text.split(" ")) if word or index]


def respond(turn: Turn) -> EngineReply:
    """Answer one user turn (for synchronous callers outside an event loop)."""
    return list(stream(turn))[-1]


def stream(turn: Turn) -> Iterator[str | EngineReply]:
    """Yield the reply's text in pieces as it is produced, then the whole EngineReply last (for
    synchronous callers outside an event loop: network calls run in an event loop of their own)."""
    run = TurnRun(turn).advance()
    if run.pending is not None:
        async def collect():
            return [token async for token in run.perform()]

        yield from async_to_sync(collect)()
    if not run.streamed:
        yield from reply_pieces(run.reply)
    yield run.reply


def detect_entities(turn: Turn) -> list[DetectedEntity]:
    """The entities found in the turn's text, without answering it (the `send` half of send/receive)."""
    text = (turn.text or "").strip()
    if not text:
        return []
    return extract(text, entity_types=definition_for(turn.bot).entity_types, timezone=turn.timezone)


class _Context:
    def __init__(self, turn: Turn):
        self.turn = turn
        self.bot = turn.bot
        self.definition: Definition = definition_for(turn.bot)
        self.original = dict(turn.variables or {})
        self.variables = dict(self.original)
        for spec in self.definition.variables.values():
            if self.variables.get(spec.name) is None and spec.default is not None:
                self.variables[spec.name] = spec.default
        self.state = {k: v for k, v in (turn.state or {}).items() if k not in ("choices", "pending")}
        self.messages: list[dict] = []
        self.intents: list[DetectedIntent] = []
        self.entities: list[DetectedEntity] = []
        self.ended = False
        self.escalated = False

    def say(self, message: dict):
        self.messages.append(message)

    def set_variable(self, name: str, value):
        spec = self.definition.variables.get(name)
        if spec is not None:
            value = coerce(spec.type, value, timezone=self.turn.timezone)
        self.variables[name] = value

    def render(self, message: dict, *, source: str, position: int):
        """One response message of the definition, with `{variables}` substituted as plain text."""
        kind = message.get("type", "text")
        text = substitute(str(message.get("text") or ""), self.variables)
        if kind == "text":
            if text:
                self.say({"type": "text", "text": text})
        elif kind == "choices":
            choices = []
            for index, choice in enumerate(message.get("choices") or [], start=1):
                label = substitute(str(choice.get("label") or ""), self.variables)
                target = choice.get("intent") or ""
                choice_id = choice.get("id") or str(
                    uuid.uuid5(CHOICE_NAMESPACE, f"{self.bot.pk}:{source}:{position}:{index}:{label}:{target}")
                )
                choices.append({"id": str(choice_id), "label": label, "alias": str(index), "intent": target})
            if choices:
                self.say({"type": "choices", "text": text, "choices": choices})
                self.state["choices"] = choices
        elif kind == "escalate":
            self.escalate(message.get("targets") or [], text)
        elif kind == "link":
            url = substitute(str(message.get("url") or ""), self.variables)
            if url:
                self.say({"type": "link", "text": text or url, "url": url})
        elif kind == "end":
            self.end(text)
        else:
            logger.warning("Bot %s has a response of unknown type %r", self.bot.pk, kind)

    def escalate(self, targets, text: str):
        normalised = []
        for target in targets:
            if isinstance(target, str):
                normalised.append({"type": "Salesforce:Core:Queue:Id", "target": target})
            elif isinstance(target, dict):
                value = target.get("target", target.get("value"))
                if value:
                    kind = str(target.get("type") or "Salesforce:Core:Queue:Id")
                    normalised.append({"type": kind, "target": str(value)})
        self.say({"type": "escalate", "text": text or "Let me connect you with a person.", "targets": normalised})
        self.escalated = True

    def end(self, text: str):
        self.say({"type": "end", "text": text or ""})
        self.ended = True

    def reply(self) -> EngineReply:
        changed = {name for name, value in self.variables.items() if self.original.get(name) != value}
        return EngineReply(
            messages=self.messages,
            intents=self.intents,
            entities=self.entities,
            variables=self.variables,
            changed_variables=changed,
            state=self.state,
            ended=self.ended,
            escalated=self.escalated,
        )


def variable_defaults(bot, *, contact=None) -> dict:
    """The values a new conversation's variables start with: each defined variable's default, if it has one,
    and what the conversation's contact already says (see `contact_variables`)."""
    values = {
        name: copy.deepcopy(spec.default)
        for name, spec in definition_for(bot).variables.items()
        if spec.default is not None
    }
    values.update(contact_variables(bot, contact))
    return values


def offered_choices(state: dict) -> list[dict]:
    """The choices now on offer ({id, label, alias, intent}, in order), from a conversation's engine state.

    The one record of them: a choice offered in an earlier reply and since superseded is not among them.
    """
    return list((state or {}).get("choices") or [])


def _run(turn: Turn, context: "_Context"):
    """The turn as a generator: it yields each network call it needs (LLMCall, WebhookCall), is sent its
    result, and returns the reply."""
    state = turn.state or {}
    offered = offered_choices(state)
    pending = state.get("pending")
    text = (turn.text or "").strip()
    if text:
        context.entities = extract(text, entity_types=context.definition.entity_types, timezone=turn.timezone)

    choice = _selected_choice(offered, turn, text)
    if choice is not None and choice.get("intent") in context.definition.intents:
        context.intents = [DetectedIntent(choice["intent"], 1.0, "DIRECT")]
        yield from _answer_intent(context, choice["intent"])
        return context.reply()

    if not text:
        if pending:
            context.state["pending"] = pending
        if turn.choice_id is not None or turn.choice_index is not None:
            # A choice that was not (or is no longer) on offer: say so rather than stay silent.
            context.state["choices"] = offered
            context.say({"type": "text", "text": substitute(turn.bot.fallback_message or "", context.variables)})
        return context.reply()

    # Imported on first use: the classifier brings scikit-learn, numpy and scipy (about 100 MB), which
    # processes that never classify (Celery workers pruning, management commands) should not carry.
    from .classifier import classify

    predictions = classify(turn.bot, text, top=TOP_INTENTS)
    context.intents = [DetectedIntent(p.label, p.confidence, p.source) for p in predictions]
    threshold = turn.bot.confidence_threshold
    confident = [p for p in predictions if p.confidence >= threshold and p.label in context.definition.intents]
    top = confident[0] if confident else None

    interrupted = None
    if pending and pending.get("intent") in context.definition.intents:
        # A confident different intent means the user changed the subject; otherwise the text answers the question.
        changed_subject = (
            top is not None
            and top.label != pending["intent"]
            and (
                top.source == "DIRECT"
                or not _fill(context, pending["variable"], text, dry_run=True)
                or (top.confidence >= CERTAIN and not _slot_entity_type(context, pending["variable"]))
            )
        )
        if changed_subject:
            interrupted = pending
        else:
            if _fill(context, pending["variable"], text):
                context.intents = [
                    DetectedIntent(pending["intent"], 1.0, "DIRECT"),
                    *[i for i in context.intents if i.label != pending["intent"]],
                ]
                yield from _answer_intent(context, pending["intent"])
                return context.reply()
            attempts = int(pending.get("attempts", 1)) + 1
            if attempts <= MAX_PROMPT_ATTEMPTS:
                context.state["pending"] = {**pending, "attempts": attempts}
                _ask(context, pending["variable"])
                return context.reply()

    records = None
    if top is not None and top.source != "DIRECT" and top.confidence < CERTAIN:
        records = _records(context, text)
        if records and (
            record_covers_query(records[0][0].text, text)
            or (top.confidence < UNSURE and record_coverage(records[0][0].text, text) >= RECORD_COVERAGE)
        ):
            top = None  # "do you sell gift cards?" is the FAQ's, not the payment intent's that knows "cards"
    if top is not None:
        yield from _answer_intent(context, top.label)
        if interrupted is not None:
            _resume(context, interrupted)
        return context.reply()

    yield from _fallback(context, text, records)
    return context.reply()


def _selected_choice(offered: list, turn: Turn, text: str) -> dict | None:
    if not offered:
        return None
    if turn.choice_id:
        return next((c for c in offered if c.get("id") == str(turn.choice_id)), None)
    index = turn.choice_index
    if index is not None:
        return offered[index - 1] if 1 <= index <= len(offered) else None
    key = normalize(text)
    if not key:
        return None
    return next((c for c in offered if normalize(c.get("label", "")) == key or c.get("alias") == key), None)


def _fill(context: _Context, name: str, text: str, *, dry_run: bool = False) -> bool:
    """Fill variable `name` from this turn's entities of its entity type, or, for a variable without
    one, from the whole text read as the variable's type."""
    spec = context.definition.variables.get(name)
    if spec is None:
        return False
    if spec.entity_type:
        candidates = [e.value for e in context.entities if e.type == spec.entity_type]
    else:
        candidates = [text] if text else []
    for value in candidates:
        try:
            coerced = coerce(spec.type, value, timezone=context.turn.timezone)
        except ValueError:
            continue
        if not dry_run:
            context.variables[name] = coerced
        return True
    return False


def _slot_entity_type(context: _Context, name: str) -> str:
    spec = context.definition.variables.get(name)
    return spec.entity_type if spec is not None else ""


def _resume(context: _Context, interrupted: dict):
    """After an intent that interrupted a slot prompt: the interrupted question is asked again, unless the
    new intent asks its own (it took over), ended or escalated the conversation, or filled the slot."""
    if context.state.get("pending") or context.ended or context.escalated:
        return
    if context.variables.get(interrupted["variable"]) not in (None, ""):
        return
    context.state["pending"] = {**interrupted, "attempts": 1}
    _ask(context, interrupted["variable"])


def _ask(context: _Context, name: str):
    spec = context.definition.variables.get(name)
    prompt = spec.prompt if spec and spec.prompt else f"What is your {name}?"
    context.say({"type": "text", "text": substitute(prompt, context.variables)})


def _answer_intent(context: _Context, label: str, depth: int = 0):
    intent = context.definition.intents[label]
    for name in intent.required:
        if context.variables.get(name) in (None, ""):
            spec = context.definition.variables.get(name)
            # Entities in the same message fill a slot without asking ("track order 1234").
            if spec is not None and spec.entity_type and _fill(context, name, ""):
                continue
            context.state["pending"] = {"intent": label, "variable": name, "attempts": 1}
            _ask(context, name)
            return
    if intent.ability:
        yield from _run_ability(context, intent.ability, label)
    for position, message in enumerate(intent.responses):
        if context.ended:
            break
        if isinstance(message, str):
            message = {"type": "text", "text": message}
        context.render(message, source=label, position=position)


def _run_ability(context: _Context, ability: dict, label: str):
    config = ability.get("config") or {}
    kind = ability.get("kind")
    if kind == "set_variable":
        name = config.get("name")
        if name:
            value = config.get("value")
            if isinstance(value, str):
                value = substitute(value, context.variables)
            try:
                context.set_variable(name, value)
            except ValueError:
                logger.warning("Bot %s: ability %r cannot set %s", context.bot.pk, ability.get("name"), name)
    elif kind == "escalate":
        context.escalate(config.get("targets") or [], substitute(str(config.get("text") or ""), context.variables))
    elif kind == "end":
        context.end(substitute(str(config.get("text") or ""), context.variables))
    elif kind == "webhook":
        yield from _call_webhook(context, config, label)


def _call_webhook(context: _Context, config: dict, label: str):
    payload = {
        "botId": str(context.bot.pk),
        "intent": label,
        "text": context.turn.text or "",
        "variables": context.variables,
        "entities": [{"type": e.type, "value": e.value} for e in context.entities],
    }
    headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
    answer = yield WebhookCall(url=str(config.get("url") or ""), payload=payload, headers=headers)
    if isinstance(answer, webhook.WebhookError):
        error = answer
        logger.warning("Bot %s: webhook for intent %r failed: %s", context.bot.pk, label, error)
        failure = config.get("error_message") or "Sorry, that service is not available right now."
        context.say({"type": "text", "text": str(failure)})
        return
    for name, value in (answer.get("variables") or {}).items():
        if name in context.definition.variables:
            try:
                context.set_variable(name, value)
            except ValueError:
                logger.warning("Bot %s: webhook set %s to a value of the wrong type", context.bot.pk, name)
    if isinstance(answer.get("text"), str) and answer["text"]:
        context.say({"type": "text", "text": answer["text"]})
    for position, message in enumerate(answer.get("messages") or []):
        if isinstance(message, dict):
            context.render(message, source=f"{label}:webhook", position=position)


def _records(context: _Context, text: str) -> list:
    bot = context.bot
    dataset_id = context.turn.dataset_id if context.turn.dataset_id is not None else bot.dataset_id
    return dataset_search(dataset=dataset_id, search=text, limit=3) if dataset_id else []


def _fallback(context: _Context, text: str, records=None):
    bot = context.bot
    if records is None:
        records = _records(context, text)
    provider = llm.provider_for(bot.model)
    if provider is not None:
        settings_, model_name = provider
        messages = llm.build_messages(
            backstory=bot.backstory, records=[record for record, _ in records], history=context.turn.history, text=text
        )
        answer = yield LLMCall(provider=settings_, model=model_name, messages=messages)
        if answer:
            context.say({"type": "text", "text": answer})
            return
    if records:
        best = records[0][0]
        context.say({"type": "text", "text": best.text})
        if best.source:
            title = best.meta.get("title") if isinstance(best.meta, dict) else None
            context.say({"type": "link", "text": str(title or best.source), "url": best.source})
        return
    context.say({"type": "text", "text": substitute(bot.fallback_message or "", context.variables)})
