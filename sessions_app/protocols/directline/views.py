"""Direct Line 3.0's routes: thin views that authenticate, parse, call the services and render activities.

Plain Django views (not DRF), so that every answer, errors included, is the protocol's own shape; the
`directline_view` wrapper answers preflights, refuses other methods and renders every failure.
"""

import logging
import uuid
from functools import wraps

from asgiref.sync import iscoroutinefunction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from botportal import asyncdb, validation
from botportal.api.permissions import CREDENTIALS, declare_access, public
from botportal.api.throttles import SlotsToGiveBack
from botportal.asyncdb import db_phase
from botportal.background import background_start
from botportal.errors import Conflict, InvalidInput, NotAuthenticated
from sessions_app.models import MessageType
from sessions_app.services.conversations import (
    TurnClaim,
    conversation_messages_add,
    conversation_turn_abandon,
    conversation_turn_claim,
    conversation_turn_stream,
    conversation_turn_wait_claim,
)
from sessions_app.services.owner_conversations import conversation_converse_check
from sessions_app.services.sessions import bot_session_refresh, conversation_session_create

from . import activities as rendering
from . import fanout
from .access import (
    caller_authenticate,
    caller_conversation,
    origin_check,
    poll_throttle,
    signal_throttle,
    turn_throttle,
)
from .errors import CORS_HEADERS, directline_error_response, directline_exception_response
from .services import TOKEN_SECONDS, directline_conversation_start, directline_start_parse
from .streams import stream_url

logger = logging.getLogger(__name__)

# What a browser's preflight may ask for: directlinejs sends x-ms-bot-agent, its ajax x-requested-with.
ALLOWED_HEADERS = "authorization, content-type, x-ms-bot-agent, x-requested-with"
PREFLIGHT_MAX_AGE = "86400"
MAX_ATTACHMENTS = 10


def directline_view(*methods):
    """CSRF-exempt (callers send a bearer credential, never cookies), preflights answered for any origin,
    only `methods`, every error in Direct Line's shape. An async `func` gets an async view."""

    def preflight_or_refusal(request):
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Origin"] = "*"
            response["Access-Control-Allow-Methods"] = ", ".join((*methods, "OPTIONS"))
            response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
            return response
        if request.method not in methods:
            response = directline_error_response(405, f"Use {', '.join(methods)} here.")
            response["Allow"] = ", ".join(methods)
            return response
        return None

    def finish(response):
        for name, value in CORS_HEADERS.items():
            if not response.has_header(name):
                response[name] = value
        response["Cache-Control"] = "no-store"
        return response

    def decorate(func):
        if iscoroutinefunction(func):

            @csrf_exempt
            @wraps(func)
            async def async_wrapper(request, *args, **kwargs):
                asyncdb.serving(request)
                refused = preflight_or_refusal(request)
                if refused is not None:
                    return refused
                try:
                    return finish(await func(request, *args, **kwargs))
                except Exception as exc:  # noqa: BLE001 (every failure answers in the protocol's shape)
                    return directline_exception_response(exc)

            return _declared(async_wrapper)

        @csrf_exempt
        @wraps(func)
        def wrapper(request, *args, **kwargs):
            refused = preflight_or_refusal(request)
            if refused is not None:
                return refused
            try:
                return finish(func(request, *args, **kwargs))
            except Exception as exc:  # noqa: BLE001
                return directline_exception_response(exc)

        return _declared(wrapper)

    def _declared(view):
        # Every Direct Line route refuses a caller without a secret or a token, in its own error shape.
        view.directline_methods = methods
        return declare_access(view, CREDENTIALS)

    return decorate


def _json_body(request, *, required: bool = False):
    # A body is read as JSON whatever its declared type (clients differ), except an empty form's.
    if not request.body or (not required and request.content_type.startswith(("multipart/", "application/x-www"))):
        if required:
            raise InvalidInput("The body must be a JSON activity.")
        return None
    try:
        body = validation.json_loads(request.body)
    except UnicodeDecodeError:
        raise InvalidInput("The body is not valid JSON.") from None
    except ValueError as error:
        raise InvalidInput(f"The body is not valid JSON: {error}.") from None
    # NUL or a lone surrogate would fail only when stored (a 500, which clients do not retry): a 400 now.
    validation.refuse_unstorable(body)
    return body


def _expires_in(bot_session) -> int:
    return max(0, int((bot_session.expires_at - timezone.now()).total_seconds()))


def _conversation_json(request, conversation, bot_session, token, *, watermark=None, stream=True) -> dict:
    body = {"conversationId": str(conversation.pk), "token": token, "expires_in": _expires_in(bot_session)}
    if stream:
        body["streamUrl"] = stream_url(
            request, conversation_id=conversation.pk, bot_session_id=bot_session.pk, watermark=watermark
        )
    return body


def _authenticated(request, *, reading: bool = False, slots=None):
    caller = caller_authenticate(request, reading=reading, slots=slots)
    origin_check(request.headers.get("Origin"), bot=caller.bot, conversation=caller.conversation)
    return caller


@directline_view("POST")
def tokens_generate_view(request):
    """A secret trades for a token of a new conversation (its welcome already stored)."""
    caller = _authenticated(request)
    if caller.bot_session is not None:
        raise NotAuthenticated("Generating a token needs the bot's Direct Line secret.")
    user, trusted = directline_start_parse(_json_body(request))
    opened = directline_conversation_start(bot=caller.bot, user=user, trusted_origins=trusted)
    return JsonResponse(
        _conversation_json(request, opened.conversation, opened.issued.bot_session, opened.issued.token, stream=False)
    )


@directline_view("POST")
def tokens_refresh_view(request):
    caller = _authenticated(request)
    if caller.bot_session is None:
        raise NotAuthenticated("Refreshing needs a token; a secret generates one instead.")
    issued = bot_session_refresh(bot_session=caller.bot_session)
    body = _conversation_json(request, caller.conversation, issued.bot_session, issued.token, stream=False)
    return JsonResponse(body)


@directline_view("POST")
def conversations_view(request):
    """Start: with a token, its conversation (200); with the secret, a new one (201)."""
    caller = _authenticated(request)
    if caller.bot_session is not None:
        conversation = caller.conversation
        conversation_converse_check(conversation=conversation)
        return JsonResponse(_conversation_json(request, conversation, caller.bot_session, caller.token))
    user, trusted = directline_start_parse(_json_body(request))
    opened = directline_conversation_start(bot=caller.bot, user=user, trusted_origins=trusted)
    body = _conversation_json(request, opened.conversation, opened.issued.bot_session, opened.issued.token)
    return JsonResponse(body, status=201)


@directline_view("GET")
def conversation_view(request, conversation_id):
    """Reconnect: the token to go on with and a fresh stream URL carrying the watermark."""
    caller = _authenticated(request)
    conversation = caller_conversation(caller, conversation_id)
    watermark = rendering.watermark_parse(request.GET.get("watermark"))
    if caller.bot_session is not None:
        bot_session, token = caller.bot_session, caller.token
    else:  # the site's back end, with the secret: a token of its own for this conversation
        issued = conversation_session_create(
            conversation=conversation, actor=caller.bot.owner, duration_seconds=TOKEN_SECONDS
        )
        bot_session, token = issued.bot_session, issued.token
    return JsonResponse(
        _conversation_json(
            request, conversation, bot_session, token, watermark=None if watermark is None else str(watermark)
        )
    )


def _poll(request, conversation_id) -> JsonResponse:
    # A good token's failed-authentication slot is given back with the poll's rate: one round trip.
    with SlotsToGiveBack() as slots:
        caller = _authenticated(request, reading=True, slots=slots)
        conversation = caller_conversation(caller, conversation_id)
        poll_throttle(request, conversation, slots=slots)
    found, watermark = rendering.activities_after(conversation, rendering.watermark_parse(request.GET.get("watermark")))
    body = {"activities": found}
    if watermark is not None:
        body["watermark"] = watermark
    return JsonResponse(body)


def _posted_activity(body) -> dict:
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON activity object.")
    if not isinstance(body.get("type", "message"), str):
        raise InvalidInput(fields={"type": "must be a string"})
    if body.get("text") is not None and not isinstance(body["text"], str):
        # Refused here, for an upload's activity too, where a file alone would otherwise drop it.
        raise InvalidInput(fields={"text": "must be a string"})
    sender = body.get("from")
    if sender is not None:
        if not isinstance(sender, dict) or not isinstance(sender.get("id", ""), str):
            raise InvalidInput(fields={"from": "must be an object {id, name}"})
        body["from"] = {key: str(sender[key])[:256] for key in ("id", "name") if sender.get(key)}
    if body.get("channelData") is not None and not isinstance(body["channelData"], dict):
        raise InvalidInput(fields={"channelData": "must be an object"})
    return body


def _sender_conversation(request, conversation_id, *, turn: bool = True, caller=None, slots=None):
    """The conversation a caller may post to: credentials, origin and the throttle checked (a message's
    the turns', typing's and events' their own: they are no turn). `slots`: SlotsToGiveBack."""
    caller = caller or _authenticated(request, slots=slots)
    conversation = caller_conversation(caller, conversation_id)
    (turn_throttle if turn else signal_throttle)(request, conversation, slots=slots)
    return conversation


def _send_claim(request, conversation_id):
    """One database phase: checks, then the turn claimed (the user's message stored; the whole turn when
    it needs no network call)."""
    # A good token's failed-authentication slot is given back with the throttle: one round trip.
    with SlotsToGiveBack() as slots:
        caller = _authenticated(request, slots=slots)  # credentials first: a stranger learns nothing more
        activity = _posted_activity(_json_body(request, required=True))
        is_message = activity.get("type", "message") == "message"
        conversation = _sender_conversation(request, conversation_id, turn=is_message, caller=caller, slots=slots)
    return _activity_claim(conversation, activity)


def _activity_claim(conversation, activity_body, attachments=None):
    """Activities other than messages (typing, events) are acknowledged only."""
    activity = _posted_activity(activity_body)
    if activity.get("type", "message") != "message":
        return JsonResponse({"id": f"{conversation.pk}|{uuid.uuid4().hex}"}), None
    conversation_converse_check(conversation=conversation)
    meta = rendering.user_meta_from_activity(activity, attachments=attachments)
    text = activity.get("text")
    if text is None and activity.get("value") is not None:
        text = activity["value"] if isinstance(activity["value"], str) else None
    if attachments and not (isinstance(text, str) and text.strip()):
        # A file alone: stored as the user's message for the transcript, with nothing for the bot to answer.
        if conversation.ended_at is not None:
            raise Conflict("The conversation has ended.")
        (message,) = conversation_messages_add(
            conversation=conversation, messages=[{"type": MessageType.USER, "text": "", "meta": meta}]
        )
        return JsonResponse({"id": str(message.pk)}), conversation
    text = validation.message_text(text, field="text")
    claim = conversation_turn_claim(conversation=conversation, text=text, user_meta=meta)
    return claim, conversation


def _claim_abandoned(claimed) -> None:
    if isinstance(claimed[0], TurnClaim):
        conversation_turn_abandon(claimed[0])


async def _turn(claim, conversation) -> JsonResponse:
    """The rest of a post: once its message is stored (its echo on its way to the streams), the answer
    `{id}`; a reply that waits on the network follows over the stream, after the answer (directlinejs
    gives a post 20 s, a model may take longer). A post behind a turn still in progress is answered
    when its own turn begins: its message is stored only then, to keep the transcript in order."""
    if isinstance(claim, JsonResponse):
        return claim
    claim = await conversation_turn_wait_claim(claim)
    if claim.result is None:
        if asyncdb.loop_ends_with_request():
            await _answer(claim, conversation)
        else:
            background_start(_answer(claim, conversation))
    return JsonResponse({"id": str(claim.user_message.pk)})


async def _answer(claim, conversation) -> None:
    """A turn's network part: a typing activity when a streamed answer begins; the reply reaches the
    streams when it is stored (conversation_changed), or a notice that it failed."""
    user_message_id = claim.user_message.pk
    typing = False
    try:
        async for piece in conversation_turn_stream(claim=claim):
            if isinstance(piece, str) and not typing:
                typing = True
                fanout.conversation_transient(
                    conversation.pk,
                    rendering.typing_activity(conversation, reply_to=user_message_id, at=timezone.now()),
                )
    except Exception as exc:  # noqa: BLE001 (the message is taken; its answer failed, said in the stream)
        logger.info("a Direct Line turn failed: %s", exc)
        failed = rendering.typing_activity(conversation, reply_to=user_message_id, at=timezone.now())
        failed.update(type="message", id=f"failed-{user_message_id}", text="The bot could not answer; try again.")
        fanout.conversation_transient(conversation.pk, failed)


@directline_view("GET", "POST")
async def activities_view(request, conversation_id):
    if request.method == "GET":
        return await db_phase(_poll)(request, conversation_id)
    claim, conversation = await db_phase(_send_claim, abandoned=_claim_abandoned)(request, conversation_id)
    return await _turn(claim, conversation)


def _upload_claim(request, conversation_id):
    conversation = _sender_conversation(request, conversation_id)
    files = request.FILES
    activity = {"type": "message"}
    part = files.get("activity")
    raw = part.read() if part is not None else request.POST.get("activity")
    if raw:
        try:
            activity = validation.json_loads(raw)
        except (ValueError, UnicodeDecodeError):  # RecursionError too: json_loads says it as a ValueError
            raise InvalidInput(fields={"activity": "is not a JSON activity"}) from None
        validation.refuse_unstorable(activity, "activity")
    uploaded = [item for name, items in files.lists() if name != "activity" for item in items]
    if not uploaded:
        raise InvalidInput(fields={"file": "send at least one file part"})
    if len(uploaded) > MAX_ATTACHMENTS:
        raise InvalidInput(fields={"file": f"at most {MAX_ATTACHMENTS} files"})
    for index, item in enumerate(uploaded):
        validation.refuse_unstorable(item.name or "", f"file[{index}].name")
        validation.refuse_unstorable(item.content_type or "", f"file[{index}].contentType")
    # botportal keeps what was sent (its name, type and size), not the file itself.
    attachments = [
        {
            "contentType": item.content_type or "application/octet-stream",
            "name": (item.name or "file")[:256],
            "content": {"size": item.size},
        }
        for item in uploaded
    ]
    return _activity_claim(conversation, activity, attachments=attachments)


@directline_view("POST")
async def upload_view(request, conversation_id):
    claim, conversation = await db_phase(_upload_claim, abandoned=_claim_abandoned)(request, conversation_id)
    return await _turn(claim, conversation)


@public  # every caller gets the same 404
@csrf_exempt
def not_found_view(request, rest: str = ""):
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        response["Access-Control-Allow-Origin"] = "*"
        return response
    return directline_error_response(404, f"No resource at {request.path}.")
