"""The WebSocket at a conversation's streamUrl: frames `{activities, watermark}`, the backlog after the
client's watermark first, then each change as it happens (through the channel layer, from any process).

The URL's signed credential names one token: the socket opens only while that token is live and the
browser's origin (if it sends one; Node clients send none) is allowed. The client's frames, empty
keep-alives, are ignored: Direct Line clients post activities over HTTP."""

import asyncio
import contextlib
import json
import logging
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import InMemoryChannelLayer
from django.utils import timezone

from botportal.asyncdb import db_phase
from botportal.errors import DomainError
from bots.models import Bot
from sessions_app.models import BotSession

from . import activities as rendering
from .access import origin_check
from .fanout import group_name
from .services import STATE
from .streams import stream_credential_read

logger = logging.getLogger(__name__)

# Close codes in the application range: the client reconnects (with a fresh stream URL) or gives up.
CLOSE_FORBIDDEN = 4403
# An in-process layer (the embedded default) reaches only the sockets of its own process, and `make run`
# serves several: such a socket also reads its conversation again this often.
IN_PROCESS_REREAD_SECONDS = 1.0


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return None


def _token_live(bot_session_id) -> bool:
    """Whether the socket's token still holds: revoked, expired or ended with its conversation, it stops."""
    return BotSession.objects.filter(
        pk=bot_session_id, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).exists()


def _stream_open(conversation_id, credential: str, origin: str | None):
    """(the conversation a stream may follow now, its token's id), or None: one database phase."""
    bot_session_id = stream_credential_read(credential, conversation_id=conversation_id)
    if bot_session_id is None:
        return None
    bot_session = (
        BotSession.objects.select_related("conversation", f"conversation__{STATE}").filter(pk=bot_session_id).first()
    )
    if bot_session is None or str(bot_session.conversation_id) != str(conversation_id):
        return None
    now, conversation = timezone.now(), bot_session.conversation
    if bot_session.revoked_at is not None or bot_session.expires_at <= now:
        return None
    if conversation.ended_at is not None or conversation.is_idle(at=now):
        return None
    bot = Bot.objects.filter(pk=conversation.bot_id, owner__is_active=True).first()
    if bot is None:
        return None
    conversation.bot = bot
    try:
        origin_check(origin, bot=bot, conversation=conversation)
    except DomainError:
        return None
    return conversation, bot_session.pk


class DirectLineStreamConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.conversation = None
        self.watermark = None
        self.reread = None
        self.closed = False
        conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        credential = (query.get("t") or [""])[0]
        origin = _header(self.scope, b"origin")
        opened = await db_phase(_stream_open)(conversation_id, credential, origin)
        if opened is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.conversation, self.bot_session_id = opened
        self.watermark = rendering.watermark_parse((query.get("watermark") or [None])[0])
        self.group = group_name(self.conversation.pk)
        # Joined before the backlog is read: a change made meanwhile is then read once, never missed.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._send_new()
        if isinstance(self.channel_layer, InMemoryChannelLayer):
            self.reread = asyncio.ensure_future(self._reread())

    async def disconnect(self, code):
        if self.reread is not None:
            self.reread.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reread
        if self.conversation is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _reread(self):
        while not self.closed:
            await asyncio.sleep(IN_PROCESS_REREAD_SECONDS)
            try:
                await self.activities_changed({})
            except Exception:  # noqa: BLE001 (the next read tries again)
                logger.warning("could not read a Direct Line conversation again", exc_info=True)

    async def receive(self, text_data=None, bytes_data=None):
        """Keep-alives (empty frames) and anything else a client sends: activities are posted over HTTP."""

    async def activities_changed(self, event):
        # What changed is sent first (an ending conversation's last words), then the token is checked
        # again: a socket outlives neither its token's revocation nor its expiry.
        if self.closed:
            return
        await self._send_new()
        if not await db_phase(_token_live)(self.bot_session_id):
            self.closed = True
            await self.close(code=CLOSE_FORBIDDEN)

    async def activities_transient(self, event):
        frame = {"activities": [event["activity"]]}
        if self.watermark is not None:
            frame["watermark"] = str(self.watermark)
        await self.send(text_data=json.dumps(frame))

    async def _send_new(self):
        full = True
        while full:
            found, watermark, full = await db_phase(rendering.activities_page)(self.conversation, self.watermark)
            if watermark is None or watermark == (None if self.watermark is None else str(self.watermark)):
                return
            self.watermark = int(watermark)
            if found:
                await self.send(text_data=json.dumps({"activities": found, "watermark": watermark}))
