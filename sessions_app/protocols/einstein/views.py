"""Einstein Bots Runtime API v5.0.0: thin views that parse, call the runtime services and render.

These are plain Django views (not DRF) so that every answer, errors included, is exactly the spec's
shape: the `einstein_view` wrapper is their exception handler.
"""

import time
from functools import wraps

from asgiref.sync import iscoroutinefunction
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import Throttled

from botportal import asyncdb
from botportal.api.permissions import CREDENTIALS, PUBLIC, declare_access, public
from botportal.api.throttles import ApiSecretThrottle, SlotsToGiveBack, throttle_wait
from botportal.asyncdb import db_phase
from botportal.errors import InvalidInput, NotAuthenticated
from sessions_app.access.authentication import api_secret_owner
from sessions_app.access.throttles import RuntimeSessionThrottle
from sessions_app.protocols.einstein.runtime import (
    BeginPending,
    TurnOutcome,
    request_digest,
    runtime_bot_get,
    runtime_session_begin_abandon,
    runtime_session_begin_claim,
    runtime_session_begin_finish,
    runtime_session_continue_claim,
    runtime_session_continue_finish,
    runtime_session_end,
    runtime_session_get,
    runtime_state,
)
from sessions_app.services.conversations import TurnClaim, conversation_turn_abandon

from . import renderers
from .errors import REQUEST_ID_HEADER, einstein_error_response, einstein_exception_response, request_id
from .serializers import begin_request_parse, continue_request_parse, json_body

END_REASON_HEADER = "X-Session-End-Reason"
MISSING_BEARER = "Access bearer token is missing or invalid: send 'Authorization: Bearer <API secret>'."


def einstein_view(*methods, access: str):
    """CSRF-exempt (callers authenticate with a bearer secret), only `methods`, every error in the spec's shape.

    `access` is required, so that no route is open by omission: PUBLIC, or CREDENTIALS for a route that
    needs an owner's API secret; such a route refuses a request without one before the view runs (the view
    then resolves the owner with `_owner`, which checks the secret). An async `func` (a turn, which can
    wait on the network) gets an async view."""

    def refused(request):
        if request.method not in methods:
            return _not_allowed(request, methods)
        if access == CREDENTIALS and _bearer(request) is None:
            return einstein_error_response(request, 401, MISSING_BEARER)
        return None

    def decorate(func):
        if iscoroutinefunction(func):

            @csrf_exempt
            @wraps(func)
            async def async_wrapper(request, *args, **kwargs):
                asyncdb.serving(request)
                request_id(request)
                if (refusal := refused(request)) is not None:
                    return refusal
                try:
                    response = await func(request, *args, **kwargs)
                except Exception as exc:  # noqa: BLE001 (every failure must answer in the protocol's shape)
                    return einstein_exception_response(request, exc)
                response[REQUEST_ID_HEADER] = request_id(request)
                return response

            wrapper = async_wrapper
        else:

            @csrf_exempt
            @wraps(func)
            def wrapper(request, *args, **kwargs):
                request_id(request)
                if (refusal := refused(request)) is not None:
                    return refusal
                try:
                    response = func(request, *args, **kwargs)
                except Exception as exc:  # noqa: BLE001 (every failure must answer in the protocol's shape)
                    return einstein_exception_response(request, exc)
                response[REQUEST_ID_HEADER] = request_id(request)
                return response

        wrapper.einstein_methods = methods
        return declare_access(wrapper, access)

    return decorate


def _not_allowed(request, methods):
    response = einstein_error_response(
        request, 405, f"Method {request.method} is not allowed here; use {', '.join(methods)}."
    )
    response["Allow"] = ", ".join(methods)
    return response


def _owner(request):
    """The owner whose API secret is presented as `Authorization: Bearer <secret>`.

    The same limits as on /api/v1: failed attempts per client IP (past the limit an IP is refused
    unchecked), then requests per API secret owner.
    """
    value = _bearer(request)
    if value is None:
        raise NotAuthenticated(MISSING_BEARER)
    # The failed-authentication slot a good secret took is given back with the owner's rate: one script.
    with SlotsToGiveBack() as slots:
        try:
            owner = api_secret_owner(request, value, slots=slots)
        except NotAuthenticated:
            raise NotAuthenticated("Access bearer token is missing or invalid.") from None
        _throttle([ApiSecretThrottle], request, user=owner, slots=slots)
    return owner


def _bearer(request) -> str | None:
    """The credential of `Authorization: Bearer <credential>`, or None."""
    scheme, _, value = (request.headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _throttle(throttle_classes, request, *, slots=None, **credential) -> None:
    wait = throttle_wait(throttle_classes, request, slots=slots, **credential)
    if wait is not None:
        raise Throttled(wait=wait)


def _org_id(request) -> str:
    value = (request.headers.get("X-Org-Id") or "").strip()
    if not value:
        raise InvalidInput("The X-Org-Id header is required: the 18-character org id of the bot's owner.")
    return value


def _json(body: dict, *, bot, begin: bool = False) -> JsonResponse:
    response = JsonResponse(body)
    response["X-Runtime-CRC"] = renderers.runtime_crc(bot)
    if begin:
        response["X-Bot-Mode"] = renderers.BOT_MODE
    return response


# Public: readiness for load balancers and Salesforce's checks; it tells only UP or DOWN.
@einstein_view("GET", access=PUBLIC)
def status_view(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return einstein_error_response(request, 503, "DOWN: the database does not answer.")
    return JsonResponse({"status": "UP"})


# Public: the versions served, as the spec has it (no credentials).
@einstein_view("GET", access=PUBLIC)
def versions_view(request):
    return JsonResponse({"versions": [{"versionNumber": renderers.API_VERSION, "status": "ACTIVE"}]})


@einstein_view("POST", access=CREDENTIALS)
async def begin_view(request, bot_id: str):
    """Async: the first answer may wait on the network. Checks, the session opened and the turn claimed
    are one database phase; the rendering of an answer that waited is another."""
    started = time.monotonic()
    begun = await db_phase(_begin_claim, abandoned=_begin_abandoned)(request, bot_id, started)
    if isinstance(begun, JsonResponse):
        return begun
    pending, parsed, bot = begun
    outcome = await runtime_session_begin_finish(pending)
    return await db_phase(_begin_render)(request, outcome, parsed, bot, started)


def _begin_abandoned(begun) -> None:
    if isinstance(begun, tuple) and isinstance(begun[0], BeginPending):
        runtime_session_begin_abandon(begun[0])


def _begin_claim(request, bot_id: str, started: float):
    owner = _owner(request)
    bot = runtime_bot_get(owner=owner, org_id=_org_id(request), bot_id=bot_id)
    parsed = begin_request_parse(json_body(request))
    begun = runtime_session_begin_claim(
        bot=bot,
        external_session_key=parsed.external_session_key,
        text=parsed.text,
        tz=parsed.tz,
        variables=parsed.variables,
        declared={
            "force_config": parsed.force_config,
            "referrers": parsed.referrers,
            "rich_content": parsed.rich_content,
        },
    )
    if isinstance(begun, BeginPending):
        return begun, parsed, bot
    return _begin_render(request, begun, parsed, bot, started)


def _begin_render(request, outcome: TurnOutcome, parsed, bot, started: float) -> JsonResponse:
    messages = renderers.bot_messages(outcome.conversation, outcome.bot_messages, rich_content=parsed.rich_content)
    body = renderers.envelope(
        request,
        outcome,
        options=parsed.options,
        processed=[0],
        messages=messages,
        started=started,
        include_session_id=True,
        state=runtime_state(outcome.conversation),
    )
    return _json(body, bot=bot, begin=True)


@einstein_view("POST", access=CREDENTIALS)
async def messages_view(request, session_id: str):
    """Async: the answer may wait on the network. Checks and the turn's claim are one database phase
    (the whole turn, when it needs no network call); its finish, rendering included, another."""
    started = time.monotonic()
    claimed, bot = await db_phase(_continue_claim, abandoned=_continue_abandoned)(request, session_id, started)
    if isinstance(claimed, TurnClaim):
        claimed = await runtime_session_continue_finish(claimed)
    return _json(claimed.response, bot=bot)


def _continue_abandoned(claimed) -> None:
    if isinstance(claimed, tuple) and isinstance(claimed[0], TurnClaim):
        conversation_turn_abandon(claimed[0])  # its sequenceId put back, for the client's retry


def _continue_claim(request, session_id: str, started: float):
    owner = _owner(request)
    conversation = runtime_session_get(owner=owner, org_id=_org_id(request), session_id=session_id)
    _throttle([RuntimeSessionThrottle], request, auth=conversation)
    body = json_body(request)
    parsed = continue_request_parse(body)
    # What the client declared at begin does not change: read with the conversation, before the lock.
    state = runtime_state(conversation)
    rich_content = state.rich_content if state is not None else {}

    def render(outcome: TurnOutcome) -> dict:
        messages = renderers.bot_messages(outcome.conversation, outcome.bot_messages, rich_content=rich_content)
        return renderers.envelope(
            request,
            outcome,
            options=parsed.options,
            processed=[parsed.sequence_id],
            messages=messages,
            started=started,
            include_session_id=False,
            state=state,
        )

    claimed = runtime_session_continue_claim(
        conversation=conversation,
        sequence_id=parsed.sequence_id,
        digest=request_digest(body),
        message=parsed.message,
        render=render,
    )
    return claimed, conversation.bot


@einstein_view("DELETE", access=CREDENTIALS)
def session_view(request, session_id: str):
    owner = _owner(request)
    org_id = _org_id(request)
    reason = (request.headers.get(END_REASON_HEADER) or "").strip()
    if not reason:
        raise InvalidInput(
            f"The {END_REASON_HEADER} header is required (UserRequest, Transfer, Expiration, Error or Other)."
        )
    conversation = runtime_session_get(owner=owner, org_id=org_id, session_id=session_id)
    ended = runtime_session_end(conversation=conversation, reason=reason)
    body = {
        "botVersion": str(ended.bot_version) if ended.bot_version is not None else None,
        "processedSequenceIds": [],
        "messages": [renderers.session_ended_message(ended)],
        "_links": renderers.links(request, ended),
    }
    return _json(body, bot=conversation.bot)


@public  # every caller gets the same 404
@csrf_exempt
def not_found_view(request, rest: str = ""):
    # Any method: an unknown path is a 404 whatever is asked of it.
    return einstein_error_response(request, 404, f"No resource at {request.path}.")
