"""A conversation's news reaches every socket that follows it, in whichever web process it is held.

Three paths, each enough on its own to deliver eventually, together fast:
- this process's sockets are woken at once (`Followers`), from whichever thread committed the change;
- other processes' sockets hear of it through the channel layer (Redis in production), sent from a
  thread of its own so that no request waits on Redis;
- every second, each process asks the database which of its followed conversations changed (two
  statements for all of its sockets), so a notice lost on the way (a full channel, a layer down, a change made by
  a process without a layer) costs at most that second.

A socket re-reads its conversation's messages after its own watermark when woken, so a missed or
repeated notice costs nothing but a read; `transient` carries an activity that is never stored (typing)."""

import asyncio
import contextlib
import logging
import os
import socket as sockets
import threading
import uuid
from collections import defaultdict
from datetime import timedelta

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from botportal.asyncdb import db_phase
from sessions_app.models import BotSession, Conversation, Message

logger = logging.getLogger(__name__)

WATCH_SECONDS = 1.0
# A token revoked this long before a look is still reported by it: the looks overlap, none is missed.
REVOKED_OVERLAP = timedelta(seconds=2)
WATCH_CHUNK = 1000
# A notice for other processes gives up after this long (the database look delivers it anyway).
NOTICE_TIMEOUT_SECONDS = 2.0
# Notices on their way to the layer at most; past that they are dropped (the look delivers them).
NOTICES_PENDING_MAX = 10_000


# Names this process in the notices it sends: its own sockets were woken already and skip them.
_BOOT = uuid.uuid4().hex


def process_name() -> str:
    return f"{sockets.gethostname()}:{os.getpid()}:{_BOOT}"


def socket_phase(func):
    """A database phase of the sockets' own (reads, for no request): a socket closed meanwhile does not
    wait for it (botportal.asyncdb.db_phase)."""
    return db_phase(func, finish_when_cancelled=False)


def group_name(conversation_id) -> str:
    return f"directline.{conversation_id}"


def _remote_layer():
    """The channel layer when it reaches other processes, else None."""
    layer = get_channel_layer()
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        return None
    return layer


def conversation_transient(conversation_id, activity: dict) -> None:
    """An activity that is never stored (typing, a failed answer's notice) to every socket of the
    conversation: this process's at once, the others' through the channel layer. Never waits."""
    followers.transient_from_any_thread(conversation_id, activity)
    layer = _remote_layer()
    if layer is not None:
        publisher.publish(layer, [conversation_id], {"type": "activities.transient", "activity": activity})


# What the look compares: a message stored moves the last key, a turn over or an end the row's times.
MARKS = ("updated_at", "ended_at", "last_message")


def marked(conversations):
    """`conversations` with what the look compares (MARKS) among their values."""
    last_message = Message.all_objects.filter(conversation=OuterRef("pk")).order_by("-pk").values("pk")[:1]
    return conversations.annotate(last_message=Subquery(last_message))


def _conversation_marks(conversation_ids, revoked_after) -> tuple[dict, set]:
    """What the look compares of each of `conversation_ids` still there (id -> MARKS), and which had a
    token revoked since `revoked_after`: one phase, two statements per thousand."""
    marks = {}
    revoked = set()
    for start in range(0, len(conversation_ids), WATCH_CHUNK):
        chunk = conversation_ids[start : start + WATCH_CHUNK]
        for pk, *values in marked(Conversation.objects.filter(pk__in=chunk)).values_list("pk", *MARKS):
            marks[str(pk)] = tuple(values)
        revoked.update(
            str(pk)
            for pk in BotSession.all_objects.filter(conversation_id__in=chunk, revoked_at__gte=revoked_after)
            .values_list("conversation_id", flat=True)
            .distinct()
        )
    return marks, revoked


class Followers:
    """This process's sockets, by the conversation they follow, on the event loop that serves them.

    A socket keeps what its last read saw of its conversation (`seen_marks`); the look wakes the
    sockets that have not seen what the database holds now (or whose conversation had a token revoked,
    or is gone)."""

    def __init__(self):
        self.loop = None
        self.sockets: dict[str, set] = defaultdict(set)
        self.watcher = None

    def _bind(self):
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            # A new event loop (a test's): the sockets of the old one went with it.
            self.loop, self.sockets, self.watcher = loop, defaultdict(set), None

    def add(self, conversation_id, socket) -> None:
        self._bind()
        self.sockets[str(conversation_id)].add(socket)
        if self.watcher is None or self.watcher.done():
            self.watcher = asyncio.ensure_future(self._watch())

    def discard(self, conversation_id, socket) -> None:
        if self.loop is not asyncio.get_running_loop():
            return
        key = str(conversation_id)
        followers = self.sockets.get(key)
        if followers is not None:
            followers.discard(socket)
            if not followers:
                del self.sockets[key]

    def wake(self, conversation_ids) -> None:
        """On the loop: every socket of these conversations reads them again."""
        for conversation_id in conversation_ids:
            for socket in list(self.sockets.get(str(conversation_id), ())):
                socket.wake()

    def transient(self, conversation_id, activity: dict) -> None:
        """On the loop: every socket of the conversation sends the activity."""
        for socket in list(self.sockets.get(str(conversation_id), ())):
            socket.transient(activity)

    def transient_from_any_thread(self, conversation_id, activity: dict) -> None:
        self._call_from_any_thread(self.transient, conversation_id, activity)

    def wake_from_any_thread(self, conversation_ids) -> None:
        self._call_from_any_thread(self.wake, list(conversation_ids))

    def _call_from_any_thread(self, method, *args) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(method, *args)

    async def _watch(self):
        revoked_after = timezone.now() - REVOKED_OVERLAP
        while self.sockets:
            await asyncio.sleep(WATCH_SECONDS)
            followed = list(self.sockets)
            if not followed:
                break
            looked_at = timezone.now()
            try:
                marks, revoked = await socket_phase(_conversation_marks)(followed, revoked_after)
            except Exception:  # noqa: BLE001 (the next look tries again)
                logger.warning("could not look for changes of the followed conversations", exc_info=True)
                continue
            revoked_after = looked_at - REVOKED_OVERLAP
            for conversation_id in followed:
                now = marks.get(conversation_id)
                for socket in list(self.sockets.get(conversation_id, ())):
                    if conversation_id in revoked or socket.seen_marks != now:
                        socket.wake()


followers = Followers()


class _Publisher:
    """Notices to the channel layer for the other processes, sent on an event loop of this process's own
    thread: a request (or a task) that commits hands its notice over and goes on."""

    def __init__(self):
        self.lock = threading.Lock()
        self.loop = None
        self.pid = None
        self.pending = 0

    def _running_loop(self):
        with self.lock:
            if self.loop is None or self.pid != os.getpid():  # a forked worker starts its own
                self.pid = os.getpid()
                self.loop = asyncio.new_event_loop()
                threading.Thread(target=self.loop.run_forever, name="directline-notices", daemon=True).start()
            return self.loop

    def publish(self, layer, conversation_ids, message: dict | None = None) -> None:
        """`message` (by default: they changed) to the sockets of `conversation_ids` in other processes."""
        with self.lock:
            if self.pending >= NOTICES_PENDING_MAX:
                logger.warning("too many notices waiting for the channel layer: conversations %s", conversation_ids)
                return
            self.pending += 1
        notice = {**(message or {"type": "activities.changed"}), "from": process_name()}
        asyncio.run_coroutine_threadsafe(self._send(layer, conversation_ids, notice), self._running_loop())

    async def _send(self, layer, conversation_ids, notice):
        try:
            await asyncio.wait_for(
                asyncio.gather(
                    *(
                        layer.group_send(group_name(conversation_id), notice)
                        for conversation_id in conversation_ids
                    )
                ),
                NOTICE_TIMEOUT_SECONDS,
            )
        except Exception:  # noqa: BLE001 (the other processes' looks deliver it)
            logger.warning("the channel layer did not take the notice of conversations %s", conversation_ids)
        finally:
            with self.lock:
                self.pending -= 1


publisher = _Publisher()


def conversation_changed_received(sender, conversation_ids, **kwargs) -> None:
    """The core's `conversation_changed` (a message stored, a turn over, an end, a revoke, by any path):
    every socket of those conversations reads them again and checks its token. Never waits."""
    followers.wake_from_any_thread(conversation_ids)
    layer = _remote_layer()
    if layer is not None:
        publisher.publish(layer, conversation_ids)
