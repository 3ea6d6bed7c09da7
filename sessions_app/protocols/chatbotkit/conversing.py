"""Bot sessions and conversing with a session token: the seed of the ChatBotKit v1 adapter."""

import json
import logging
from functools import partial

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from botportal import validation
from botportal.api.asyncviews import PendingResponse
from botportal.api.base import JsonApiView, epoch_ms
from botportal.api.errors import error_body, error_parts
from botportal.api.pagination import paginate_fetched
from botportal.api.permissions import Public
from botportal.asyncdb import iterate_in_caller_thread, under_sync_server
from botportal.errors import NotAuthenticated
from bots import engine
from bots.selectors import bot_get_any
from sessions_app.access.permissions import OwnerOrSessionToken, conversation_for, owner_required, presented_session
from sessions_app.access.throttles import SESSION_CREATE_THROTTLES
from sessions_app.protocols.chatbotkit import serializers as s
from sessions_app.selectors.conversations import conversation_get, message_row_page, message_rows
from sessions_app.services.conversations import (
    ExchangeResult,
    UpstreamFailed,
    conversation_send,
    conversation_turn_abandon,
    conversation_turn_claim,
    conversation_turn_stream,
    conversation_turn_wait_claim,
)
from sessions_app.services.owner_conversations import conversation_converse_check
from sessions_app.services.sessions import (
    bot_session_create,
    bot_session_refresh,
    bot_session_revoke,
    conversation_session_create,
    conversation_sessions_revoke,
)

logger = logging.getLogger(__name__)

ERRORS = {
    code: OpenApiResponse(s.ErrorOutput, description=text)
    for code, text in {
        400: "Invalid input: the message names every invalid field.",
        401: "Missing, invalid, expired or revoked credentials, or a session token used outside its conversation.",
        404: "No such object among the caller's.",
    }.items()
}
SESSION_TAG = ["sessions"]
CONVERSE_TAG = ["conversing"]
JSONL = "application/jsonl"


def token_error_responses(*codes):
    return {code: ERRORS[code] for code in codes}


class BotSessionCreateView(JsonApiView):
    # Public: anyone may open sessions with a public bot (per-IP and per-bot limits besides the credential
    # ones); a private or protected bot needs its owner, which bot_session_create decides.
    permission_classes = [Public]
    throttle_classes = SESSION_CREATE_THROTTLES

    @extend_schema(
        tags=SESSION_TAG,
        summary="Open a conversation with a bot and issue its session token",
        description="A public bot: anyone, no credentials. A private or protected bot: its owner's API secret "
        "(none: 401; another owner's: 403).",
        request=s.BotSessionCreateInput,
        responses={
            200: s.BotSessionCreateOutput,
            **token_error_responses(400, 401),
            403: OpenApiResponse(s.ErrorOutput, description="Another owner's API secret on a non-public bot."),
            404: ERRORS[404],
        },
    )
    def post(self, request, bot_id):
        if presented_session(request) is not None:
            raise NotAuthenticated("A session token cannot open sessions; use an API secret or no credentials.")
        body = self.body(request)
        bot = bot_get_any(bot_id=bot_id)
        opened = bot_session_create(
            bot=bot,
            actor=request.user,
            duration_seconds=body.get("durationInSeconds"),
            contact=body.get("contact"),
            messages=body.get("messages"),
            meta=body.get("meta"),
        )
        return Response(
            {
                "id": str(bot.pk),
                "conversationId": str(opened.conversation.pk),
                "token": opened.issued.token,
                "expiresAt": epoch_ms(opened.issued.bot_session.expires_at),
                "messages": [{"id": str(m.pk), "type": m.type, "text": m.text} for m in opened.messages],
            }
        )


class ConversationSessionCreateView(JsonApiView):
    @extend_schema(
        tags=SESSION_TAG,
        summary="Issue a new session token for an existing conversation (owner only)",
        request=s.ConversationSessionCreateInput,
        responses={200: s.ConversationSessionOutput, **token_error_responses(400, 401, 404)},
    )
    def post(self, request, conversation_id):
        owner = owner_required(request)
        body = self.body(request)
        conversation = conversation_get(owner=owner, conversation_id=conversation_id)
        issued = conversation_session_create(
            conversation=conversation, actor=owner, duration_seconds=body.get("durationInSeconds")
        )
        return Response(_issued_json(conversation.pk, issued))


class SessionRefreshView(JsonApiView):
    permission_classes = [OwnerOrSessionToken]

    @extend_schema(
        tags=SESSION_TAG,
        summary="Trade a live session token for a new one with a fresh expiry (the old one is revoked)",
        request=s.EmptyInput,
        responses={200: s.ConversationSessionOutput, **token_error_responses(401)},
    )
    def post(self, request, conversation_id):
        conversation, bot_session = conversation_for(request, conversation_id)
        if bot_session is None:
            raise NotAuthenticated("Refreshing needs the session token itself; an owner uses session/create.")
        self.body(request)
        issued = bot_session_refresh(bot_session=bot_session)
        return Response(_issued_json(conversation.pk, issued))


class SessionRevokeView(JsonApiView):
    permission_classes = [OwnerOrSessionToken]

    @extend_schema(
        tags=SESSION_TAG,
        summary="Revoke the presenting session token; with an API secret, every token of the conversation",
        request=s.EmptyInput,
        responses={200: s.RevokeOutput, **token_error_responses(401, 404)},
    )
    def post(self, request, conversation_id):
        conversation, bot_session = conversation_for(request, conversation_id)
        self.body(request)
        if bot_session is not None:
            bot_session_revoke(bot_session=bot_session)
            revoked = 1
        else:
            revoked = conversation_sessions_revoke(conversation=conversation)
        return Response({"id": str(conversation.pk), "revoked": revoked})


def _issued_json(conversation_id, issued) -> dict:
    return {
        "id": str(conversation_id),
        "token": issued.token,
        "expiresAt": epoch_ms(issued.bot_session.expires_at),
    }


class MessageListView(JsonApiView):
    permission_classes = [OwnerOrSessionToken]

    @extend_schema(
        tags=CONVERSE_TAG,
        summary="The conversation's messages, oldest first (owner, or the conversation's own session token)",
        responses={200: s.page_output(s.MessageOutput, "MessagePage"), **token_error_responses(400, 401, 404)},
    )
    def get(self, request, conversation_id):
        conversation, _ = conversation_for(request, conversation_id)
        page = paginate_fetched(
            request.query_params,
            fetch=partial(message_row_page, conversation_id=conversation.pk, meta_as_text=True),
            queryset=partial(message_rows, conversation_id=conversation.pk),
            default_order="asc",
        )
        return HttpResponse(s.message_page_json(page), content_type="application/json")


def _wants_stream(request) -> bool:
    return JSONL in request.META.get("HTTP_ACCEPT", "").lower()


def _event(kind: str, data) -> bytes:
    return (json.dumps({"type": kind, "data": data, "createdAt": epoch_ms(timezone.now())}) + "\n").encode()


def _token_event(token: str) -> bytes:
    """`_event("token", {"token": token})`, byte for byte, written directly: one per token streamed."""
    created = epoch_ms(timezone.now())
    return f'{{"type": "token", "data": {{"token": {json.dumps(token)}}}, "createdAt": {created}}}\n'.encode()


def _stream_headers(response):
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _error_response(exc) -> JsonResponse:
    status, message, headers = error_parts(exc)
    if status >= 500 and not isinstance(exc, UpstreamFailed):
        logger.error("error in a turn", exc_info=exc)
    response = JsonResponse(error_body(status, message), status=status)
    for name, value in headers.items():
        response[name] = value
    return response


class _ExchangeView(JsonApiView):
    """Runs one turn and answers with its result, or streams it as JSON lines.

    Served by `async_api_view`: this sync half (authentication, throttles, checks, the turn's claim) is
    one database phase; a turn that needs the network continues in `continue_turn`, on the event loop.
    """

    permission_classes = [OwnerOrSessionToken]
    kind = "complete"

    def exchange(self, request, **kwargs):
        conversation_converse_check(conversation=kwargs["conversation"])
        claim = conversation_turn_claim(**kwargs)
        stream = _wants_stream(request)
        if claim.result is not None:
            # Answered without the network: the whole answer at once, streamed or not.
            pieces = engine.reply_pieces(claim.result.reply)
            if not stream:
                return Response(self.result_json(claim.result, len(pieces)))
            body = b"".join(self._token_events(pieces)) + b"".join(self._closing_events(claim.result, len(pieces)))
            return _stream_headers(HttpResponse(body, content_type=JSONL))
        return PendingResponse(
            partial(self.continue_turn, claim, stream), abandon=partial(conversation_turn_abandon, claim)
        )

    async def continue_turn(self, claim, stream: bool):
        # Errors before the stream starts (the conversation ended while this turn waited, nothing to
        # answer) are plain HTTP errors rather than a stream holding only an error.
        try:
            claim = await conversation_turn_wait_claim(claim)
        except Exception as exc:  # noqa: BLE001 (answered in the protocol's error shape)
            return _error_response(exc)
        if stream:
            events = partial(self.events, conversation_turn_stream(claim=claim))
            # A sync server (WSGI) iterates the response on its own thread, as the events come.
            content = iterate_in_caller_thread(events) if under_sync_server() else events()
            return _stream_headers(StreamingHttpResponse(content, content_type=JSONL))
        pieces = conversation_turn_stream(claim=claim)
        count, result = 0, None
        try:
            async for piece in pieces:
                if isinstance(piece, ExchangeResult):
                    result = piece
                else:
                    count += 1
        except Exception as exc:  # noqa: BLE001
            return _error_response(exc)
        return JsonResponse(self.result_json(result, count))

    async def events(self, pieces):
        count, result = 0, None
        try:
            async for piece in pieces:
                if isinstance(piece, ExchangeResult):
                    result = piece
                else:
                    count += 1
                    yield _token_event(piece)
            for event in self._closing_events(result, count):
                yield event
        except Exception as exc:  # noqa: BLE001 (an error inside the stream is an `error` event)
            status, message, _ = error_parts(exc)
            if status >= 500 and not isinstance(exc, UpstreamFailed):
                logger.exception("error while streaming a %s", self.kind)
            yield _event("error", error_body(status, message))
        finally:
            await pieces.aclose()

    @staticmethod
    def _token_events(pieces):
        return [_token_event(piece) for piece in pieces]

    def _closing_events(self, result: ExchangeResult, count: int) -> list[bytes]:
        body = self.result_json(result, count)
        events = []
        if result.bot_message is not None:
            message = {"id": str(result.bot_message.pk), "type": "bot", "text": result.bot_message.text}
            # The stored message's meta, as message/list shows it: the engine's rich messages
            # (choices, links, escalation, end) for clients that render more than text.
            if result.bot_message.meta:
                message["meta"] = result.bot_message.meta
            events.append(_event("message", message))
        events.append(_event("usage", {"token": count}))
        if self.kind == "receive":
            events.append(_event("receiveResult", body))
        events.append(_event("result", body))
        return events

    def result_json(self, result: ExchangeResult, count: int) -> dict:
        body = {"text": result.reply.text, "usage": {"token": count}}
        if result.bot_message is not None:
            body = {"id": str(result.bot_message.pk), **body}
        if self.kind == "complete":
            body["end"] = {"reason": "stop"}
        return body


STREAM_NOTE = (
    " With `Accept: application/jsonl` the answer is one JSON event per line: `token` events as the reply is "
    "produced, then `message`, `usage` and a last `result` whose data is the body documented here; an error "
    "inside the stream is an `error` event `{message, code}`."
)


class CompleteView(_ExchangeView):
    kind = "complete"

    @extend_schema(
        tags=CONVERSE_TAG,
        summary="Send a user message and get the bot's reply",
        description="With a session token (its own conversation) or the owner's API secret." + STREAM_NOTE,
        request=s.CompleteInput,
        responses={
            (200, "application/json"): s.CompleteOutput,
            (200, JSONL): OpenApiResponse(s.StreamEventOutput, description="One event per line (Accept: jsonl)."),
            **token_error_responses(400, 401, 404),
            409: OpenApiResponse(s.ErrorOutput, description="The conversation has ended."),
        },
    )
    def post(self, request, conversation_id):
        conversation, _ = conversation_for(request, conversation_id)
        text = self.body(request).get("text")
        if text is None:
            return self.exchange(request, conversation=conversation, text=None, store_user_message=False)
        text = validation.message_text(text, field="text")
        return self.exchange(request, conversation=conversation, text=text)


class ReceiveView(_ExchangeView):
    kind = "receive"

    @extend_schema(
        tags=CONVERSE_TAG,
        summary="The bot's reply to the message stored by send",
        description="With a session token (its own conversation) or the owner's API secret." + STREAM_NOTE,
        request=s.EmptyInput,
        responses={
            (200, "application/json"): s.ReceiveOutput,
            (200, JSONL): OpenApiResponse(s.StreamEventOutput, description="One event per line (Accept: jsonl)."),
            **token_error_responses(401, 404),
            409: OpenApiResponse(s.ErrorOutput, description="No message is waiting for a reply."),
        },
    )
    def post(self, request, conversation_id):
        conversation, _ = conversation_for(request, conversation_id)
        self.body(request)
        return self.exchange(request, conversation=conversation, text=None, store_user_message=False)


class SendView(JsonApiView):
    permission_classes = [OwnerOrSessionToken]

    @extend_schema(
        tags=CONVERSE_TAG,
        summary="Store a user message without answering it (receive answers it)",
        request=s.SendInput,
        responses={200: s.SendOutput, **token_error_responses(400, 401, 404)},
    )
    def post(self, request, conversation_id):
        conversation, _ = conversation_for(request, conversation_id)
        text = validation.message_text(self.body(request).get("text"), field="text")
        conversation_converse_check(conversation=conversation)
        message, entities = conversation_send(conversation=conversation, text=text)
        return Response(
            {
                "id": str(message.pk),
                "entities": [{"type": e.type, "text": e.text, "value": e.value} for e in entities],
            }
        )
