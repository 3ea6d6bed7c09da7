"""Runtime sessions as the Einstein Bots protocol drives them: begin, numbered turns, end.

The protocol adapter parses and renders; the rules live here: who may reach a bot (owner and org id),
the session's time zone and variables, the sequenceId order with idempotent retries, one turn per
session at a time, and sessions that are over (ended, or idle past the idle timeout).
"""

import hashlib
import json
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from django.db import DatabaseError, transaction

from botportal import validation
from botportal.asyncdb import db_phase
from botportal.errors import Busy, InvalidInput, NotFound
from botportal.rows import row_update
from bots import engine
from bots.engine import EngineReply
from bots.models import Bot, Intent
from bots.variables import variables_validate
from sessions_app.models import Conversation, EndReason, Message, MessageType, Origin, OwnerProfile
from sessions_app.protocols.einstein.models import EinsteinSession
from sessions_app.selectors.conversations import conversation_with_bot
from sessions_app.services.conversations import (
    ExchangeResult,
    TurnClaim,
    conversation_background,
    conversation_end,
    conversation_lock,
    conversation_messages_add,
    conversation_open,
    conversation_turn_claim,
    conversation_turn_stream,
    conversation_welcome,
    turn_in_progress,
)
from sessions_app.services.owners import owner_profile_ensure

# The Einstein state of a conversation (EinsteinSession), read in the statement that reads the conversation.
STATE = "einstein"
TRANSFER_FAILED_TEXT = "Sorry, the transfer did not succeed. Is there anything else I can help with?"


@dataclass
class TurnOutcome:
    """What a turn produced: the bot messages stored for it (in order) and the engine's reply."""

    conversation: Conversation
    bot_messages: list[Message] = field(default_factory=list)
    reply: EngineReply | None = None
    variables_sent: set[str] = field(default_factory=set)


@dataclass
class ContinueResult:
    response: dict
    replayed: bool


# --- access ---------------------------------------------------------------------------------------


def runtime_org_id_matches(*, owner, org_id: str) -> bool:
    """An org id names the owner: all 18 characters, or the 15-character form (its first 15)."""
    own = owner_profile_ensure(owner=owner).org_id
    return org_id == own or (len(org_id) == 15 and own[:15] == org_id)


def runtime_bot_get(*, owner, org_id: str, bot_id: str) -> Bot:
    """The owner's bot; anything else (another owner's, unknown, wrong org id) is simply not found."""
    key = validation.uuid_or_none(bot_id)
    bot = Bot.objects.filter(pk=key, owner=owner).first() if key else None
    if bot is None or not runtime_org_id_matches(owner=owner, org_id=org_id):
        raise NotFound(f"Bot '{bot_id}' not found.")
    return bot


def runtime_state(conversation: Conversation) -> EinsteinSession | None:
    """The conversation's Einstein state (None for a conversation of another protocol not yet continued
    through Einstein). Loaded with the conversation by the reads below: no query of its own."""
    try:
        return getattr(conversation, STATE)
    except EinsteinSession.DoesNotExist:
        return None


def runtime_session_get(*, owner, org_id: str, session_id: str) -> Conversation:
    """The owner's live session, its Einstein state loaded with it (`runtime_state`). An ended session,
    or one idle past the idle timeout (which is ended now, with reason Expiration), is not found and the
    message says that it ended."""
    pk = validation.uuid_or_none(session_id)
    # Every turn starts with this read: the hand-written lookup every turn's lock uses (its SQL written
    # once per process), with the live-rows rule of Conversation.objects applied to the one row found.
    conversation = conversation_with_bot(conversation_id=pk, also=(STATE,)) if pk else None
    if conversation is not None and not _live_for(conversation, owner):
        conversation = None
    if conversation is None or not runtime_org_id_matches(owner=owner, org_id=org_id):
        raise NotFound(f"Session '{session_id}' not found.")
    if conversation.is_idle():
        conversation_end(conversation=conversation, reason=EndReason.EXPIRATION)
    if conversation.ended_at is not None:
        raise NotFound(f"Session '{session_id}' has ended ({conversation.end_reason or EndReason.OTHER}).")
    return conversation


def _live_for(conversation: Conversation, owner) -> bool:
    """What `Conversation.objects.filter(owner=owner, bot__isnull=False)` would decide for this row (a
    deleted bot's conversation is None already, `conversation_with_bot`): the owner's own, with a bot,
    and the owner not deleted (their profile, loaded with the owner's API key: no query of its own)."""
    if conversation.owner_id != owner.pk or conversation.bot is None:
        return False
    try:
        profile = owner.botportal_profile
    except OwnerProfile.DoesNotExist:
        return True
    # Read in the API key's statement; owner_delete marks it in the transaction that revokes the keys.
    return profile.deleted_at is None


# --- begin ----------------------------------------------------------------------------------------


def time_zone_check(value, *, field: str = "tz") -> str:
    """An IANA time zone name (null or missing: UTC)."""
    if value is None:
        return "UTC"
    if not isinstance(value, str) or not value:
        raise InvalidInput(fields={field: "must be an IANA time zone name, e.g. 'America/Los_Angeles'"})
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(fields={field: f"{value!r} is not a known IANA time zone"}) from None
    return value


def runtime_session_begin(
    *,
    bot: Bot,
    external_session_key: str,
    text: str | None = None,
    tz=None,
    variables=None,
    declared: dict | None = None,
) -> TurnOutcome:
    """Open a session: its variables and time zone, the bot's welcome, and the answer to `text` if given.
    A begin that fails leaves nothing behind. (For synchronous callers; the API's view is async.)"""
    begun = runtime_session_begin_claim(
        bot=bot,
        external_session_key=external_session_key,
        text=text,
        tz=tz,
        variables=variables,
        declared=declared,
    )
    if isinstance(begun, BeginPending):
        return async_to_sync(runtime_session_begin_finish)(begun)
    return begun


@dataclass
class BeginPending:
    """A begin whose first answer waits on the network: the session is open, the turn claimed."""

    outcome: TurnOutcome
    claim: TurnClaim


def runtime_session_begin_claim(
    *,
    bot: Bot,
    external_session_key: str,
    text: str | None = None,
    tz=None,
    variables=None,
    declared: dict | None = None,
) -> "TurnOutcome | BeginPending":
    """The begin's one transaction: the session opened with its Einstein state, its welcome, and its first
    turn claimed (answered already unless it needs the network: then BeginPending, for
    `runtime_session_begin_finish`). `declared`: what the client declared, kept with the state
    (`force_config`, `referrers`, `rich_content`: EinsteinSession's fields)."""
    tz_name, typed, text = validation.collect(
        lambda: time_zone_check(tz),
        lambda: variables_validate(bot=bot, variables=variables),
        lambda: validation.message_text(text, field="message.text", required=False) if text else "",
    )
    variable_types = {item.name: item.type for item in typed}
    with transaction.atomic():
        conversation = conversation_open(
            owner=bot.owner,
            bot=bot,
            origin=Origin.EINSTEIN,
            variables={item.name: item.value for item in typed},
            tz=tz_name,
        )
        # Cached on the conversation both ways, as the reads of later turns load it.
        EinsteinSession.objects.create(
            conversation=conversation,
            external_session_key=external_session_key,
            variable_types=variable_types,
            **(declared or {}),
        )
        welcome = conversation_welcome(conversation=conversation)
        outcome = TurnOutcome(conversation=conversation, reply=welcome.reply, variables_sent=set(variable_types))
        if welcome.bot_message is not None:
            outcome.bot_messages.append(welcome.bot_message)
        if text:
            # The new conversation is this transaction's own: no other turn can hold it.
            claim = conversation_turn_claim(conversation=conversation, text=text, lock_held=True)
            if claim.result is None:
                return BeginPending(outcome=outcome, claim=claim)
            _begin_merge(outcome, claim.result)
    return outcome


async def runtime_session_begin_finish(begun: BeginPending) -> TurnOutcome:
    """The begin's first answer, awaited with nothing held; a failed one removes the session it opened."""
    result = None
    try:
        async for piece in conversation_turn_stream(claim=begun.claim):
            if isinstance(piece, ExchangeResult):
                result = piece
    except Exception:
        await db_phase(Conversation.objects.filter(pk=begun.outcome.conversation.pk).delete)()
        raise
    _begin_merge(begun.outcome, result)
    return begun.outcome


def runtime_session_begin_abandon(begun: BeginPending) -> None:
    """A begin whose client left before its first answer: the session it opened is removed, as a failed
    one is (the client never learnt its id)."""
    conversation_background(db_phase(Conversation.objects.filter(pk=begun.outcome.conversation.pk).delete)())


def _begin_merge(outcome: TurnOutcome, result: ExchangeResult) -> None:
    outcome.reply = _merge(outcome.reply, result.reply)
    if result.bot_message is not None:
        outcome.bot_messages.append(result.bot_message)
    conversation = outcome.conversation
    conversation.variables, conversation.engine_state = result.reply.variables, result.reply.state


def _merge(first: EngineReply, second: EngineReply) -> EngineReply:
    return EngineReply(
        messages=first.messages + second.messages,
        intents=second.intents,
        entities=second.entities,
        variables=second.variables,
        changed_variables=set(first.changed_variables) | set(second.changed_variables),
        state=second.state,
        ended=first.ended or second.ended,
    )


# --- continue -------------------------------------------------------------------------------------


def request_digest(body) -> str:
    """A fingerprint of a request body, to recognise a retry of the same request."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def runtime_session_continue(
    *,
    conversation: Conversation,
    sequence_id: int,
    digest: str,
    message: dict,
    render: Callable[[TurnOutcome], dict],
) -> ContinueResult:
    """One numbered turn, whole (for synchronous callers; the API's view is async): see
    `runtime_session_continue_claim`."""
    claimed = runtime_session_continue_claim(
        conversation=conversation, sequence_id=sequence_id, digest=digest, message=message, render=render
    )
    if isinstance(claimed, TurnClaim):
        return async_to_sync(runtime_session_continue_finish)(claimed)
    return claimed


def runtime_session_continue_claim(
    *,
    conversation: Conversation,
    sequence_id: int,
    digest: str,
    message: dict,
    render: Callable[[TurnOutcome], dict],
) -> "ContinueResult | TurnClaim":
    """One numbered turn. `message` is the validated client message (type text, choice, transferSucceeded,
    transferFailed or redirect); `render` turns the outcome into the response, which is stored with the
    turn so that a retry of the same request is answered again without being processed twice.

    sequenceIds must increase; a request while another turn of the session is in progress (its row
    locked, or its turn waiting on the network) is refused with Busy. One short transaction: a turn that
    needs no network call is answered in it (ContinueResult); one that does returns its TurnClaim,
    the sequenceId taken, for `runtime_session_continue_finish`.
    """
    with transaction.atomic():
        locked = _lock_or_busy(conversation)
        if locked.ended_at is not None:
            raise NotFound(f"Session '{conversation.pk}' has ended ({locked.end_reason or EndReason.OTHER}).")
        in_progress = turn_in_progress(locked)
        state = runtime_state(locked)
        last = state.last_sequence_id if state is not None else None
        if last is not None and sequence_id <= last:
            if sequence_id == last and digest == state.last_request_digest and state.last_response:
                return ContinueResult(response=state.last_response, replayed=True)
            if not in_progress:
                raise InvalidInput(
                    f"sequenceId {sequence_id} was not greater than the last processed sequenceId {last}.",
                    fields={"message.sequenceId": f"must be greater than the last processed sequenceId {last}"},
                )
        if in_progress:
            raise Busy("Another request for this session is being processed; retry shortly.")
        if state is None:
            # A conversation of another protocol, continued through Einstein for the first time.
            state = EinsteinSession.objects.create(conversation=locked)

        def store(conversation_: Conversation, outcome: TurnOutcome) -> tuple[dict, list[str]]:
            # In the turn's last transaction, beside the UPDATE of the conversation's new state.
            response = render(outcome)
            _state_save(state, last_sequence_id=sequence_id, last_request_digest=digest, last_response=response)
            return response, []

        done = _turn_under_lock(locked, sequence_id=sequence_id, message=message, store=store)
        if isinstance(done, TurnClaim):
            # Taken now, so that a retry while the turn waits is refused as busy; put back if it fails.
            taken_from = {"last_sequence_id": last, "last_request_digest": state.last_request_digest}
            done.on_release = lambda: _state_save(state, **taken_from, last_response=None)
            _state_save(state, last_sequence_id=sequence_id, last_request_digest=digest, last_response=None)
            return done
    return ContinueResult(response=done, replayed=False)


def _state_save(state: EinsteinSession, **values) -> None:
    """One UPDATE of the sequence state (the row exists: begin, or the turn's claim, made it)."""
    for name, value in values.items():
        setattr(state, name, value)
    row_update(state, list(values))


async def runtime_session_continue_finish(claim: TurnClaim) -> ContinueResult:
    """The rest of a turn that waits on the network: its reply, stored with the response."""
    async for _piece in conversation_turn_stream(claim=claim):
        pass
    return ContinueResult(response=claim.extra, replayed=False)


def _lock_or_busy(conversation: Conversation) -> Conversation:
    try:
        # The sequence state under the lock, in the statement that takes it.
        return conversation_lock(conversation, allow_ended=True, nowait=True, also=(STATE,))
    except DatabaseError:
        raise Busy("Another request for this session is being processed; retry shortly.") from None


def _turn_under_lock(conversation: Conversation, *, sequence_id: int, message: dict, store) -> "dict | TurnClaim":
    """The turn under the caller's lock: its response (stored by `store`), or the claim of a turn that
    waits on the network (`store` then runs in its finishing transaction)."""
    kind = message["type"]
    user_meta = {"protocol": "einstein", "type": kind}
    if message.get("inReplyToMessageId"):
        user_meta["inReplyToMessageId"] = message["inReplyToMessageId"]
    if kind in ("text", "choice", "redirect"):
        if kind == "text":
            text = validation.message_text(message["text"], field="message.text")
            choice_id = None
        elif kind == "choice":
            choice = choice_resolve(
                conversation=conversation, choice_id=message.get("choiceId"), choice_index=message.get("choiceIndex")
            )
            text, choice_id = choice["label"], choice["id"]
            user_meta["choiceId"] = choice["id"]
        else:
            intent = _dialog_intent(conversation, message["dialogId"])
            text = intent.utterances.order_by("id").values_list("text", flat=True).first() or intent.label
            choice_id = None
            user_meta["dialogId"] = message["dialogId"]
        claim = conversation_turn_claim(
            conversation=conversation,
            text=text,
            choice_id=choice_id,
            sequence_id=sequence_id,
            user_meta=user_meta,
            lock_held=True,
            on_finish=lambda locked, result: store(locked, _outcome(locked, result)),
        )
        return claim.extra if claim.result is not None else claim
    if kind == "transferSucceeded":
        _activity(conversation, "Transfer succeeded.", sequence_id, user_meta)
        outcome = TurnOutcome(conversation=conversation, reply=_quiet_reply(conversation))
    elif kind == "transferFailed":
        reason = message["reason"]
        text = f"Transfer failed: {reason}" + (f" ({message['description']})" if message.get("description") else "")
        _activity(conversation, text, sequence_id, {**user_meta, "reason": reason})
        stored = conversation_messages_add(
            conversation=conversation,
            messages=[
                {
                    "type": MessageType.BOT,
                    "text": TRANSFER_FAILED_TEXT,
                    "meta": {"messages": [{"type": "text", "text": TRANSFER_FAILED_TEXT}]},
                }
            ],
        )
        outcome = TurnOutcome(conversation=conversation, bot_messages=stored, reply=_quiet_reply(conversation))
    else:
        raise InvalidInput(fields={"message.type": f"unknown message type {kind!r}"})
    response, fields = store(conversation, outcome)
    conversation.save(update_fields=[*fields, "updated_at"])
    return response


def _outcome(conversation, result) -> TurnOutcome:
    bot_messages = [result.bot_message] if result.bot_message is not None else []
    return TurnOutcome(conversation=conversation, bot_messages=bot_messages, reply=result.reply)


def _quiet_reply(conversation: Conversation) -> EngineReply:
    return EngineReply(messages=[], variables=dict(conversation.variables), state=dict(conversation.engine_state))


def _activity(conversation: Conversation, text: str, sequence_id: int, meta: dict) -> None:
    Message.objects.create(
        conversation=conversation, type=MessageType.ACTIVITY, text=text, meta=meta, sequence_id=sequence_id
    )


def _dialog_intent(conversation: Conversation, dialog_id: str) -> Intent:
    """A redirect names a dialog: one of the bot's intents, by label (or by its numeric id)."""
    intents = Intent.objects.filter(bot=conversation.bot)
    intent = intents.filter(label=dialog_id).first()
    if intent is None and str(dialog_id).isdigit():
        intent = intents.filter(pk=int(dialog_id)).first()
    if intent is None:
        raise InvalidInput(fields={"message.dialogId": f"{dialog_id!r} is not a dialog (intent) of this bot"})
    return intent


def choice_resolve(*, conversation: Conversation, choice_id=None, choice_index=None) -> dict:
    """The offered choice a client picked, by id or by its 1-based index."""
    choices = engine.offered_choices(conversation.engine_state)
    if choice_id is not None:
        for choice in choices:
            if str(choice["id"]) == str(choice_id):
                return choice
        raise InvalidInput(fields={"message.choiceId": f"{choice_id!r} is not one of the choices offered last"})
    if not choices:
        raise InvalidInput(fields={"message.choiceIndex": "no choices are on offer"})
    if not 1 <= choice_index <= len(choices):
        raise InvalidInput(fields={"message.choiceIndex": f"must be from 1 to {len(choices)}"})
    return choices[choice_index - 1]


# --- end ------------------------------------------------------------------------------------------


def runtime_session_end(*, conversation: Conversation, reason: str) -> Conversation:
    if reason not in EndReason.values:
        raise InvalidInput(
            fields={"X-Session-End-Reason": f"must be one of {', '.join(EndReason.values)}, not {reason!r}"}
        )
    return conversation_end(conversation=conversation, reason=reason)
