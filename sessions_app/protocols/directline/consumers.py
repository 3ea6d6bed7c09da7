"""The WebSocket at a conversation's streamUrl: frames `{activities, watermark}`, the backlog after the
client's watermark first, then each change as it happens (through the channel layer, from any process).

The URL's signed credential names one token: the socket opens and stays open while that token's line
(it and the tokens refreshed from it) holds, and only if the browser's origin (if it sends one; Node
clients send none) is allowed. The client's frames, empty
keep-alives, are ignored: Direct Line clients post activities over HTTP."""

import asyncio
import contextlib
import json
import logging
from collections import deque
from datetime import timedelta
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from botportal.errors import DomainError

from . import activities as rendering
from . import fanout
from .access import origin_check
from .fanout import socket_phase
from .selectors import stream_line, stream_session
from .streams import stream_credential_read

logger = logging.getLogger(__name__)

# Close codes in the application range: the client reconnects (with a fresh stream URL) or gives up.
CLOSE_FORBIDDEN = 4403
WATCH_MARGIN_SECONDS = 0.05


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return value.decode("latin-1")
    return None


def _line(conversation_id, issued_first_at):
    """(until when the socket may follow its conversation, what the look compares of it (fanout.MARKS)),
    or (None, None) if the conversation is gone.

    A socket follows its token's line (the tokens refreshed from one another share `issued_first_at`):
    directlinejs refreshes every 15 minutes, and a refresh revokes the token it replaces but must not
    drop the socket. The line ends when its last token is revoked or expires, when the conversation
    ends, or once it has been idle past the idle timeout; the instant may be in the past (over) or
    the future (when to look again: a refresh or a turn moves it)."""
    line = stream_line(conversation_id=conversation_id, issued_first_at=issued_first_at)
    if line is None:
        return None, None
    if line.tokens_end is None:
        return None, line.marks
    end = min(line.tokens_end, line.last_activity_at + timedelta(seconds=settings.BOTPORTAL["IDLE_TIMEOUT"]))
    return (min(end, line.ended_at) if line.ended_at is not None else end), line.marks


def _line_end(conversation_id, issued_first_at):
    return _line(conversation_id, issued_first_at)[0]


def _line_and_page(conversation, issued_first_at, watermark, replying_to):
    """One database phase of a socket's read: (its line's end, what the look compares, the activities
    after `watermark` stored by then, the new watermark, whether more may follow). `replying_to`: as
    `activities_page` takes it."""
    return _page(conversation, watermark, replying_to, *_line(conversation.pk, issued_first_at))


def _page(conversation, watermark, replying_to, end, marks):
    if end is None:
        return None, marks, [], None, False
    over = end <= timezone.now()
    found, new_watermark, full = rendering.activities_page(
        conversation, watermark, until=end if over else None, replying_to=replying_to
    )
    return end, marks, found, new_watermark, full


def _stream_open(conversation_id, bot_session_id: int, origin: str | None, watermark):
    """(the conversation a stream may follow now, its token line's `issued_first_at`, the first read as
    `_line_and_page` gives it), or None: one database phase."""
    bot_session = stream_session(bot_session_id=bot_session_id)
    if bot_session is None or str(bot_session.conversation_id) != str(conversation_id):
        return None
    conversation = bot_session.conversation
    if conversation.bot is None:  # a conversation no bot serves has no stream
        return None
    end, marks = _line(conversation.pk, bot_session.issued_first_at)
    if end is None or end <= timezone.now():
        return None
    try:
        origin_check(origin, bot=conversation.bot, conversation=conversation)
    except DomainError:
        return None
    page = _page(conversation, watermark, rendering.REPLY_TO_UNKNOWN, end, marks)
    return conversation, bot_session.issued_first_at, page


class DirectLineStreamConsumer(AsyncWebsocketConsumer):
    # No channel of its own: the process's one listener hears other processes' notices (fanout.py),
    # where a channel per socket cost every socket its own receive and group in the layer.
    channel_layer_alias = None

    async def dispatch(self, message):
        # Channels closes old database connections before every handler, a call on its one shared
        # thread-sensitive thread per message; every read here is a db_phase, which gives its connection
        # back itself (botportal.asyncdb), so this consumer's handlers skip it.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.conversation = None
        self.followed = None  # the conversation's key, once the socket follows it
        self.opened = False  # accepted, its backlog sent
        self.woken_while_opening = False
        self.watermark = None
        # The last user message among the pages sent (None: none yet), so that a bot reply's page
        # needs no look-up of the message it answers; unknown behind a reconnect's watermark.
        self.replying_to = rendering.REPLY_TO_UNKNOWN
        self.watch = None
        self.line_end = None
        self.seen_marks = None  # what the last whole read saw of the conversation (fanout.MARKS)
        self.closed = False
        self.answered = set()  # the user messages whose bot reply this socket has sent
        self.reading = asyncio.Lock()
        self.read_wanted = False
        self.tasks = set()  # reads, and transient activities on their way
        self.transients = deque()
        self.sending_transients = None
        conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        # The signature is checked before anything else: an unsigned socket follows nothing.
        bot_session_id = stream_credential_read((query.get("t") or [""])[0], conversation_id=conversation_id)
        if bot_session_id is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.watermark = rendering.watermark_parse((query.get("watermark") or [None])[0])
        if self.watermark is None:
            self.replying_to = None  # the pages start with the conversation's first message
        # Followed before the backlog is read: a change made meanwhile is then read once, never missed.
        self.followed = conversation_id
        fanout.followers.add(conversation_id, self)
        await fanout.followers.listening()
        opened = await socket_phase(_stream_open)(
            conversation_id, bot_session_id, _header(self.scope, b"origin"), self.watermark
        )
        if opened is None:
            self._unfollow()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.conversation, self.issued_first_at, first_page = opened
        await self.accept()
        async with self.reading:
            await self._read(first_page=first_page)
        if self.closed:
            return
        self.opened = True
        if self.woken_while_opening:
            self.wake()
        self._transients_flush()
        # Closed at the line's end even when nothing else happens: its expiry, its idle timeout.
        self.watch = asyncio.ensure_future(self._watch())

    async def disconnect(self, code):
        self.closed = True
        for task in (self.watch, *self.tasks):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._unfollow()

    def _unfollow(self):
        if self.followed is not None:
            fanout.followers.discard(self.followed, self)
            self.followed = None

    def wake(self):
        """Read the conversation again, soon: notices that arrive while a read waits join it."""
        if self.closed or self.read_wanted:
            return
        if not self.opened:  # the first read may have missed it: read again once it is done
            self.woken_while_opening = True
            return
        self.read_wanted = True
        task = asyncio.ensure_future(self._read_when_free())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _read_when_free(self):
        async with self.reading:
            self.read_wanted = False  # a notice from now on wants a read after this one
            try:
                await self._read()
            except Exception:  # noqa: BLE001 (the next notice, or the next look, reads again)
                logger.warning("could not read a Direct Line conversation again", exc_info=True)

    async def _watch(self):
        end = self.line_end  # as the first read saw it
        while not self.closed:
            wait = 0 if end is None else (end - timezone.now()).total_seconds()
            if wait > 0:
                # Past the instant (a microsecond's rounding aside), then read again: it may have moved.
                await asyncio.sleep(wait + WATCH_MARGIN_SECONDS)
                try:
                    end = await socket_phase(_line_end)(self.conversation.pk, self.issued_first_at)
                except Exception:  # noqa: BLE001 (look again)
                    logger.warning("could not check a Direct Line stream's token", exc_info=True)
                continue
            try:
                async with self.reading:
                    await self._read()
            except Exception:  # noqa: BLE001 (read again)
                logger.warning("could not check a Direct Line stream's token", exc_info=True)
                await asyncio.sleep(1)
            end = self.line_end  # a refresh or a turn may have moved it

    async def receive(self, text_data=None, bytes_data=None):
        """Keep-alives (empty frames) and anything else a client sends: activities are posted over HTTP."""

    async def _read(self, first_page=None):
        # The token line is checked before anything is sent: a socket outlives neither its token's
        # revocation nor its expiry. What was stored before the line ended is still sent (an ending
        # conversation's last words), nothing after.
        if self.closed:
            return
        full = True
        while full:
            if first_page is not None:  # read while the socket opened
                end, marks, found, watermark, full = first_page
                first_page = None
            else:
                end, marks, found, watermark, full = await socket_phase(_line_and_page)(
                    self.conversation, self.issued_first_at, self.watermark, self.replying_to
                )
            self.line_end = end
            if not full:
                self.seen_marks = marks
            if watermark is not None and watermark != (None if self.watermark is None else str(self.watermark)):
                self.watermark = int(watermark)
                self.replying_to = rendering.last_user_message(found, self.replying_to)
                self.answered.update(
                    activity["replyToId"] for activity in found
                    if activity.get("replyToId") and activity.get("from", {}).get("role") == "bot"
                )
                if found:
                    await self.send(text_data=json.dumps({"activities": found, "watermark": watermark}))
            if end is None or end <= timezone.now():
                self.closed = True
                await self.close(code=CLOSE_FORBIDDEN)
                return

    def transient(self, activity: dict) -> None:
        """Send an activity that is never stored, after those sent before it."""
        if self.closed:
            return
        self.transients.append(activity)
        if self.opened:  # else once the first read is sent
            self._transients_flush()

    def _transients_flush(self):
        if self.transients and (self.sending_transients is None or self.sending_transients.done()):
            self.sending_transients = asyncio.ensure_future(self._send_transients())
            self.tasks.add(self.sending_transients)
            self.sending_transients.add_done_callback(self.tasks.discard)

    async def _send_transients(self):
        while self.transients and not self.closed:
            await self._send_transient(self.transients.popleft())

    async def _send_transient(self, activity: dict):
        if activity.get("type") == "typing" and activity.get("replyToId") in self.answered:
            # The read that the echo's notice started may already have carried the stored reply: a
            # typing indicator after it would leave the client showing the bot typing for nothing.
            return
        frame = {"activities": [activity]}
        if self.watermark is not None:
            frame["watermark"] = str(self.watermark)
        await self.send(text_data=json.dumps(frame))
