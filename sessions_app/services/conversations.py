"""Conversations and the messages exchanged in them, for every protocol.

Turns in one conversation are processed one at a time, in arrival order, and every user message is
followed by its bot reply: concurrent requests never interleave. A turn that needs no network call
runs in one short transaction under its conversation's row lock. A turn that waits on a language model
or a webhook claims the conversation in one short transaction (its user message stored, the turn marked
in progress), awaits the upstream with no transaction, lock or connection held, and stores the reply in
a second one; turns arriving meanwhile take a ticket and wait for theirs without holding anything.
"""

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from botportal.asyncdb import db_phase
from botportal.errors import Conflict, DomainError
from botportal.rows import row_insert, row_update, rows_insert
from bots import engine
from bots.engine import EngineReply, Turn, llm
from sessions_app.models import BotSession, Conversation, EndReason, Message, MessageType
from sessions_app.selectors.conversations import conversation_with_bot, message_history
from sessions_app.services.signals import conversations_changed_announce

# How much of the conversation a language-model engine is shown.
HISTORY_LENGTH = 20


@dataclass
class ExchangeResult:
    user_message: Message | None
    bot_message: Message | None
    reply: EngineReply


def conversation_open(
    *,
    owner,
    bot=None,
    origin: str,
    contact=None,
    name: str = "",
    description: str = "",
    meta: dict | None = None,
    variables: dict | None = None,
    tz: str = "UTC",
) -> Conversation:
    """A new conversation bound to the bot's current version, dataset and skillset."""
    initial_variables = engine.variable_defaults(bot, contact=contact) if bot is not None else {}
    initial_variables.update(variables or {})
    conversation = Conversation(
        owner=owner,
        bot=bot,
        bot_version=bot.version if bot is not None else None,
        dataset_id=bot.dataset_id if bot is not None else None,
        skillset_id=bot.skillset_id if bot is not None else None,
        contact=contact,
        name=name,
        description=description,
        meta=meta or {},
        origin=origin,
        variables=initial_variables,
        timezone=tz,
    )
    # One INSERT written once per process (`botportal.rows`): what Conversation.objects.create does.
    return row_insert(conversation)


def conversation_messages_add(*, conversation: Conversation, messages: list[dict]) -> list[Message]:
    """Store already-validated messages ({type, text, meta?, name?}) in the given order."""
    if not messages:
        return []  # nothing stored, nothing to announce (a session opened without messages)
    now = timezone.now()
    rows = [
        Message(
            conversation=conversation,
            type=item["type"],
            text=item.get("text", ""),
            name=item.get("name", ""),
            meta=item.get("meta") or {},
            created_at=now,
        )
        for item in messages
    ]
    conversations_changed_announce([conversation.pk])
    # One INSERT; both PostgreSQL and SQLite (3.35+) return the new keys, in order.
    return rows_insert(rows)


def conversation_welcome(*, conversation: Conversation) -> ExchangeResult:
    """Store and return the bot's welcome, as a session begins."""
    reply = engine.welcome(_engine_turn(conversation, answered=False))
    bot_message = _bot_message(conversation, reply) if reply.messages else None
    if bot_message is not None:
        row_insert(bot_message)
    if reply.variables != conversation.variables or reply.state != conversation.engine_state or reply.ended:
        _conversation_state_save(conversation, reply)
    return ExchangeResult(user_message=None, bot_message=bot_message, reply=reply)


@dataclass
class TurnClaim:
    """A turn in progress. `result` set: it is over (it never needed the network). `run` set: it holds
    the conversation's turn and waits on the network, nothing locked and no transaction open, until
    `conversation_turn_finish` (or `conversation_turn_release`). Neither: it waits behind `ticket - 1`."""

    conversation_id: object
    text: str | None
    choice_id: str | None = None
    sequence_id: int | None = None
    user_meta: dict | None = None
    store_user_message: bool = True
    received_at: object = None
    ticket: int | None = None
    run: engine.TurnRun | None = None
    user_message: Message | None = None
    result: ExchangeResult | None = None
    # Called inside the finishing transaction with the locked conversation, its new state applied, and
    # the result; returns (extra, more fields to save): Einstein stores its response in the same UPDATE.
    on_finish: object = None
    extra: object = None
    # Called in the release of a turn that failed (one statement, like the release): a protocol puts
    # back what its claim took (Einstein: the sequenceId).
    on_release: object = None

    @property
    def waiting(self) -> bool:
        return self.result is None and self.run is None


def turn_timeout() -> float:
    """Seconds after which a claimed turn that never finished (its process died) is released."""
    return float(getattr(settings, "BOTPORTAL", {}).get("TURN_TIMEOUT", 120))


# The one turn lock is the ticket pair on the conversation row (turn_ticket, turn_served): a turn holds
# the conversation from its claim until turn_served reaches its ticket, and only the holder of the ticket
# due hands it on (every release is conditional on `turn_served == ticket - 1`). The row lock is only
# the short critical section in which tickets are taken and checked; no cache lock is involved.


def _turn_stale_since(since, *, at=None) -> bool:
    """Whether the turn due since `since` (None: never claimed) has been due past TURN_TIMEOUT: its
    holder is taken for dead. The one staleness rule: turn_is_stale, the waiters and _turn_skip_stale."""
    return since is None or since <= (at or timezone.now()) - timedelta(seconds=turn_timeout())


def turn_is_stale(conversation: Conversation, *, at=None) -> bool:
    return _turn_stale_since(conversation.turn_since, at=at)


def turn_in_progress(conversation: Conversation, *, at=None) -> bool:
    """A live turn holds the conversation (claimed, or queued behind one), its holder not taken for dead."""
    return conversation.turn_ticket > conversation.turn_served and not turn_is_stale(conversation, at=at)


def conversation_turn_claim(
    *,
    conversation: Conversation,
    text: str | None,
    choice_id: str | None = None,
    sequence_id: int | None = None,
    user_meta: dict | None = None,
    store_user_message: bool = True,
    lock_held: bool = False,
    claim: TurnClaim | None = None,
    on_finish=None,
) -> TurnClaim:
    """Claim the conversation for one turn, in one short transaction.

    When no turn is in progress (or `claim` holds the ticket now due), the engine runs up to its first
    network call: a turn that needs none is answered, stored and over right here (`result`); one that does
    stores the user's message, marks the turn in progress and returns with `run` pending, the transaction
    committed. When another turn is in progress, the claim takes the next ticket and returns waiting
    (`conversation_turn_wait` waits for its turn and claims again). With `text` None and
    `store_user_message` False, the turn answers the last message that is waiting for a reply. With
    `lock_held`, the caller's transaction already holds `conversation` locked (bot loaded).
    """
    if claim is None:
        claim = TurnClaim(
            conversation_id=conversation.pk,
            text=text,
            choice_id=choice_id,
            sequence_id=sequence_id,
            user_meta=user_meta,
            store_user_message=store_user_message,
            received_at=timezone.now(),
            on_finish=on_finish,
        )
    # Under the caller's lock, its transaction is the turn's: no savepoint (two statements) of its own.
    with transaction.atomic(savepoint=not lock_held):
        locked = _conversation_held(conversation) if lock_held else conversation_lock(conversation)
        if claim.ticket is None and locked.turn_ticket > locked.turn_served and not turn_in_progress(locked):
            # The turn due has been due for longer than any live turn takes and no turn behind it
            # skipped it (waiters poll far more often): every ticket handed out belongs to a dead
            # process. Release them all.
            locked.turn_served = locked.turn_ticket
            row_update(locked, ["turn_served"])
        if claim.ticket is None and locked.turn_ticket > locked.turn_served:
            # Another turn is in progress (or waiting): queue behind the last one.
            locked.turn_ticket += 1
            row_update(locked, ["turn_ticket"])
            claim.ticket = locked.turn_ticket
            return claim
        if claim.ticket is not None and locked.turn_served != claim.ticket - 1:
            return claim  # not yet this turn's
        _claimed_turn(locked, claim)
    if claim.result is not None and claim.ticket is not None:
        _turn_notify(claim.conversation_id)
    return claim


def _claimed_turn(locked: Conversation, claim: TurnClaim) -> None:
    """The claim's transaction, once the turn is this one's: answer it, or store its message and mark it."""
    conversations_changed_announce([locked.pk])
    text = claim.text
    user_message = None
    if not claim.store_user_message:
        user_message = _message_waiting_for_reply(locked)
        text = user_message.text
    run = engine.TurnRun(_engine_turn(locked, text=text, choice_id=claim.choice_id)).advance()
    if claim.store_user_message:
        # Stored once the engine has classified it, so that it carries what the engine detected in it
        # without a second write.
        user_message = Message(
            conversation=locked,
            type=MessageType.USER,
            text=text or "",
            meta={**(claim.user_meta or {}), **_detections_json(run.intents, run.entities)},
            sequence_id=claim.sequence_id,
            created_at=claim.received_at,
        )
    elif run.intents or run.entities:
        user_message.meta = {**user_message.meta, **_detections_json(run.intents, run.entities)}
        user_message.save(update_fields=["meta", "updated_at"])
    claim.user_message = user_message
    if run.pending is None:
        # No network call: the whole turn in this one transaction.
        reply = run.reply
        bot_message = _bot_message(locked, reply) if reply.messages else None
        new_messages = [m for m in (user_message if claim.store_user_message else None, bot_message) if m is not None]
        # One INSERT for the turn's messages; both databases return the new keys in order.
        rows_insert(new_messages)
        claim.result = ExchangeResult(user_message=user_message, bot_message=bot_message, reply=reply)
        if claim.ticket is not None:
            locked.turn_served, locked.turn_since = claim.ticket, timezone.now()
        _conversation_state_save(locked, reply, turn=claim.ticket is not None, claim=claim)
        return
    if claim.store_user_message:
        row_insert(user_message)
    if claim.ticket is None:
        locked.turn_ticket += 1
        claim.ticket = locked.turn_ticket
    locked.turn_since = locked.last_activity_at = timezone.now()
    row_update(locked, ["turn_ticket", "turn_since", "last_activity_at", "updated_at"])
    claim.run = run


def conversation_turn_finish(*, claim: TurnClaim) -> ExchangeResult:
    """Store the reply of a turn that waited on the network and hand the conversation to the next turn,
    in one short transaction. A turn released meanwhile (it outlived TURN_TIMEOUT) stores nothing."""
    reply = claim.run.reply
    with transaction.atomic():
        locked = conversation_lock(Conversation(pk=claim.conversation_id), allow_ended=True)
        if locked.turn_served != claim.ticket - 1:
            raise Conflict("The turn took too long and was released; send the message again.")
        bot_message = _bot_message(locked, reply) if reply.messages else None
        if bot_message is not None:
            row_insert(bot_message)
        locked.turn_served, locked.turn_since = claim.ticket, timezone.now()
        claim.result = ExchangeResult(user_message=claim.user_message, bot_message=bot_message, reply=reply)
        conversations_changed_announce([locked.pk])
        _conversation_state_save(locked, reply, turn=True, claim=claim)
    _turn_notify(claim.conversation_id)
    return claim.result


def conversation_turn_release(*, conversation_id, ticket: int, on_release=None) -> bool:
    """Hand the conversation on past `ticket` (a turn that failed, or whose client left), if it is still
    the turn due; its user message, if stored, stays waiting for a reply. `on_release`: called once the
    turn is released, to put back what the claim took. One statement (with `on_release`, its own too,
    in one transaction)."""
    # With `on_release`, both or neither: a turn released with its sequenceId still taken would refuse
    # the client's retry.
    with transaction.atomic() if on_release is not None else contextlib.nullcontext():
        released = Conversation.objects.filter(pk=conversation_id, turn_served=ticket - 1).update(
            turn_served=ticket, turn_since=timezone.now()
        )
        if released and on_release is not None:
            on_release()
    _turn_notify(conversation_id)
    return bool(released)


def _turn_position(conversation_id) -> tuple[int, object] | None:
    """(the last ticket served, since when the next one is due), or None for a deleted conversation."""
    return Conversation.objects.filter(pk=conversation_id).values_list("turn_served", "turn_since").first()


def _turn_skip_stale(conversation_id, served: int) -> None:
    """Release the turn due after `served` whose process died (claimed, or due, for too long): read and
    judged by _turn_stale_since under the row lock, released only if still the one due."""
    with transaction.atomic():
        row = Conversation.objects.select_for_update().filter(pk=conversation_id, turn_served=served).first()
        if row is not None and turn_is_stale(row):
            row.turn_served, row.turn_since = served + 1, timezone.now()
            row.save(update_fields=["turn_served", "turn_since"])


async def conversation_turn_wait(*, claim: TurnClaim, claim_again) -> TurnClaim:
    """Wait, holding no connection and no worker, until the turn before `claim.ticket` is over, then
    claim again (`claim_again(claim)`, a database phase). Returns the claim, no longer waiting."""
    poll = POLL_MIN_SECONDS
    while claim.waiting:
        position = await db_phase(_turn_position)(claim.conversation_id)
        if position is None:
            raise Conversation.DoesNotExist(f"No conversation {claim.conversation_id}.")
        served, since = position
        if served >= claim.ticket:
            raise Conflict("The turn waited too long and was released; send the message again.")
        if served == claim.ticket - 1:
            claim = await claim_again(claim)
            if not claim.waiting:
                return claim
        elif _turn_stale_since(since):
            await db_phase(_turn_skip_stale)(claim.conversation_id, served)
            continue
        await _turn_changed(claim.conversation_id, poll)
        poll = min(poll * 2, POLL_MAX_SECONDS)
    return claim


def conversation_turn_abandon(claim: TurnClaim) -> None:
    """A claim whose client left: release its turn now if it holds it, else when it comes due (a task of
    its own, so that the turns behind it need not wait for the stale timeout)."""
    if claim.ticket is None or claim.result is not None:
        return
    # A claim that holds its turn took what its release puts back (Einstein: the sequenceId).
    on_release = claim.on_release if claim.run is not None else None
    conversation_background(_abandon(claim.conversation_id, claim.ticket, holding=claim.run is not None,
                                     on_release=on_release))  # fmt: skip


def conversation_background(coroutine) -> None:
    """Run `coroutine` on this event loop, for a request that is gone (kept referenced until it ends)."""
    task = asyncio.ensure_future(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _abandon(conversation_id, ticket: int, *, holding: bool, on_release=None) -> None:
    poll = POLL_MIN_SECONDS
    deadline = time.monotonic() + turn_timeout()
    while time.monotonic() < deadline:
        if holding:
            await db_phase(conversation_turn_release)(
                conversation_id=conversation_id, ticket=ticket, on_release=on_release
            )
            return
        position = await db_phase(_turn_position)(conversation_id)
        if position is None or position[0] >= ticket:
            return
        if position[0] == ticket - 1:
            holding = True
            continue
        await _turn_changed(conversation_id, poll)
        poll = min(poll * 2, POLL_MAX_SECONDS)


async def conversation_turn_stream(*, claim: TurnClaim) -> AsyncIterator[str | ExchangeResult]:
    """The rest of a claimed turn: await its network calls (yielding a language model's tokens as they
    arrive), then store the reply; yields the ExchangeResult last. A failed, late or broken upstream
    fails the turn (UpstreamFailed); a turn that fails, or whose consumer stops, is released, its user
    message kept waiting for a reply."""
    if claim.result is not None:
        for piece in engine.reply_pieces(claim.result.reply):
            yield piece
        yield claim.result
        return
    finished = False
    try:
        try:
            async for token in claim.run.perform():
                yield token
        except llm.LLMTimeout as error:
            raise UpstreamFailed(str(error), status=504) from error
        except llm.LLMError as error:
            raise UpstreamFailed(str(error)) from error
        if not claim.run.streamed:
            for piece in engine.reply_pieces(claim.run.reply):
                yield piece
        result = await db_phase(conversation_turn_finish)(claim=claim)
        finished = True
        yield result
    finally:
        if not finished:
            # Shielded: a cancelled request (its client left) still hands the conversation on.
            release = db_phase(conversation_turn_release)
            await asyncio.shield(
                release(conversation_id=claim.conversation_id, ticket=claim.ticket, on_release=claim.on_release)
            )


async def conversation_exchange_astream(**kwargs) -> AsyncIterator[str | ExchangeResult]:
    """A whole turn from async code: claim, wait for its turn if need be, the network, the finish."""
    claim = await db_phase(conversation_turn_claim)(**kwargs)
    claim = await conversation_turn_wait_claim(claim)
    async for piece in conversation_turn_stream(claim=claim):
        yield piece


async def conversation_turn_wait_claim(claim: TurnClaim) -> TurnClaim:
    """`conversation_turn_wait` with the plain claim (a client that leaves while waiting gives its turn up)."""
    if not claim.waiting:
        return claim
    try:
        return await conversation_turn_wait(claim=claim, claim_again=_claim_again)
    except BaseException:
        conversation_turn_abandon(claim)
        raise


async def _claim_again(claim: TurnClaim) -> TurnClaim:
    return await db_phase(conversation_turn_claim)(
        conversation=Conversation(pk=claim.conversation_id), text=claim.text, claim=claim
    )


def conversation_exchange_stream(**kwargs) -> Iterator[str | ExchangeResult]:
    """One whole turn for synchronous callers (outside an event loop): the pieces, the ExchangeResult last.

    Network calls are awaited in an event loop of their own, with no transaction open.
    """

    async def collect():
        return [piece async for piece in conversation_exchange_astream(**kwargs)]

    if kwargs.get("lock_held"):
        claim = conversation_turn_claim(**kwargs)
        if claim.result is None:
            raise RuntimeError("a turn under the caller's lock must not need the network")
        yield from engine.reply_pieces(claim.result.reply)
        yield claim.result
        return
    yield from async_to_sync(collect)()


def conversation_exchange(**kwargs) -> ExchangeResult:
    """`conversation_exchange_stream` without the stream: the ExchangeResult alone."""
    result = None
    for piece in conversation_exchange_stream(**kwargs):
        result = piece
    return result


# In-process notification of a turn's end, per event loop; other processes' waiters poll.
POLL_MIN_SECONDS = 0.01
POLL_MAX_SECONDS = 0.25
_changes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = weakref.WeakKeyDictionary()
_background: set = set()


async def _turn_changed(conversation_id, timeout: float) -> None:
    events = _changes.setdefault(asyncio.get_running_loop(), {})
    event = events.setdefault(conversation_id, asyncio.Event())
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)


def _turn_notify(conversation_id) -> None:
    """Wake this process's waiters of the conversation (called from any thread)."""
    for loop, events in list(_changes.items()):
        event = events.pop(conversation_id, None)
        if event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)


class UpstreamFailed(DomainError):
    """The language model failed, answered late or broke off: the turn fails, the conversation goes on."""

    status = 502
    default_message = "The language model did not answer; try again."

    def __init__(self, message: str | None = None, *, status: int = 502):
        super().__init__(message)
        self.status = status


def conversation_send(*, conversation: Conversation, text: str) -> tuple[Message, list]:
    """Store a user message without answering it; `conversation_exchange_stream(store_user_message=False)`
    answers it later. Returns the message and the entities found in it."""
    with transaction.atomic():
        locked = conversation_lock(conversation)
        entities = engine.detect_entities(_engine_turn(locked, text=text, answered=False))
        message = Message.objects.create(
            conversation=locked,
            type=MessageType.USER,
            text=text,
            meta={"entities": [_entity_json(entity) for entity in entities]} if entities else {},
        )
        _conversation_touch(locked)
        conversations_changed_announce([locked.pk])
    return message, entities


def conversation_end(*, conversation: Conversation, reason: str = EndReason.USER_REQUEST) -> Conversation:
    """End the conversation for good and revoke its session tokens (see `conversations_end`)."""
    with transaction.atomic():
        locked = conversation_lock(conversation, allow_ended=True)
        if locked.ended_at is None:
            _ended_in_memory(locked, reason=reason, at=timezone.now())
    conversation.ended_at, conversation.end_reason = locked.ended_at, locked.end_reason
    return locked


def conversations_end(*, ids, reason: str, at) -> tuple[int, int]:
    """What ending a conversation means, once for every path (a client's end, the engine's, the idle
    lifecycle): those of `ids` not yet ended get `ended_at` and `end_reason`, and every token of theirs
    still unrevoked is revoked at the same instant. The caller holds the rows locked (or knows nothing
    else writes them). Two UPDATEs whatever the number of ids; returns (ended, revoked)."""
    ended = Conversation.all_objects.filter(pk__in=ids, ended_at__isnull=True).update(
        ended_at=at, end_reason=reason, updated_at=at
    )
    revoked = BotSession.all_objects.filter(conversation_id__in=ids).revoke(at=at)
    conversations_changed_announce(ids)
    return ended, revoked


def _ended_in_memory(conversation: Conversation, *, reason: str, at) -> None:
    """`conversations_end` for one conversation in hand, the instance made to match what was stored."""
    conversations_end(ids=[conversation.pk], reason=reason, at=at)
    conversation.ended_at, conversation.end_reason = at, reason


def conversation_lock(
    conversation: Conversation, *, allow_ended: bool = False, nowait: bool = False, also: tuple[str, ...] = ()
) -> Conversation:
    """The conversation re-read with its bot under its row lock, in the caller's transaction. An ended
    one is a Conflict unless `allow_ended`; with `nowait`, a row another request holds raises
    DatabaseError at once. `also`: a protocol's state of the conversation, read in the same statement."""
    locked = conversation_with_bot(conversation_id=conversation.pk, for_update=True, nowait=nowait, also=also)
    if locked is None:
        raise Conversation.DoesNotExist(f"No conversation {conversation.pk}.")
    if locked.ended_at is not None and not allow_ended:
        raise Conflict("The conversation has ended.")
    return locked


def _conversation_held(conversation: Conversation) -> Conversation:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_held needs the caller's transaction holding the conversation's row lock")
    if conversation.ended_at is not None:
        raise Conflict("The conversation has ended.")
    return conversation


def _message_waiting_for_reply(conversation: Conversation) -> Message:
    last = Message.objects.filter(conversation=conversation).order_by("-id").first()
    if last is None or last.type != MessageType.USER:
        raise Conflict("No message is waiting for a reply: send one first.")
    return last


def _engine_turn(
    conversation: Conversation, *, text: str | None = None, choice_id: str | None = None, answered: bool = True
) -> Turn:
    """What the engine is given for a turn of the conversation (its input; the turn itself is TurnClaim's).
    `answered` False: the engine will not answer it (a welcome, entities detected in a message kept for
    later), so a model-backed bot's recent messages, which only a model's answer is shown, are not read."""
    history = ()
    if answered and conversation.bot is not None and conversation.bot.model:
        # The caller holds the conversation (found live): its messages need no live-rows filter again.
        history = message_history(conversation_id=conversation.pk, take=HISTORY_LENGTH)
    return Turn(
        bot=conversation.bot,
        variables=dict(conversation.variables),
        state=dict(conversation.engine_state),
        text=text,
        choice_id=choice_id,
        timezone=conversation.timezone,
        history=history,
        dataset_id=conversation.dataset_id,
    )


def _intent_json(intent) -> dict:
    return {"label": intent.label, "confidence": intent.confidence, "source": intent.source}


def _entity_json(entity) -> dict:
    return {"type": entity.type, "value": entity.value, "text": entity.text, "confidence": entity.confidence}


def _detections_json(intents, entities) -> dict:
    """What the engine detected in a user message, kept on that message's meta."""
    if not (intents or entities):
        return {}
    return {
        "intents": [_intent_json(intent) for intent in intents],
        "entities": [_entity_json(entity) for entity in entities],
    }


def _bot_message(conversation: Conversation, reply: EngineReply) -> Message:
    """The bot's message for a reply, not yet stored."""
    return Message(conversation=conversation, type=MessageType.BOT, text=reply.text, meta={"messages": reply.messages})


def _conversation_state_save(
    conversation: Conversation, reply: EngineReply, *, turn: bool = False, claim: TurnClaim | None = None
) -> None:
    """The turn's new state in one UPDATE; a claim's `on_finish` sees it applied and may add fields."""
    conversation.variables = reply.variables
    conversation.engine_state = reply.state
    conversation.last_activity_at = timezone.now()
    fields = ["variables", "engine_state", "last_activity_at", "updated_at"]
    if turn:
        fields += ["turn_served", "turn_since"]
    if reply.ended and conversation.ended_at is None:
        _ended_in_memory(conversation, reason=EndReason.OTHER, at=conversation.last_activity_at)
    if claim is not None and claim.on_finish is not None:
        claim.extra, more = claim.on_finish(conversation, claim.result)
        fields += more
    row_update(conversation, fields)


def _conversation_touch(conversation: Conversation) -> None:
    conversation.last_activity_at = timezone.now()
    conversation.save(update_fields=["last_activity_at", "updated_at"])
