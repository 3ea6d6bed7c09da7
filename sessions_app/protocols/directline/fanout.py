"""A conversation's news reaches every socket that follows it, in whichever web process it is held.

Three paths, each enough on its own to deliver eventually, together fast:
- this process's sockets are woken at once (`Followers`), from whichever thread committed the change;
- other processes' sockets hear of it through the channel layer (Redis in production): each process
  that holds sockets listens on one channel of its own, joined to one group; notices go to that group
  in batches from a thread of their own, so that no request waits on Redis and a burst of changes
  costs a few messages, not one per conversation and socket;
- every second, each process asks the database which of its followed conversations changed (two
  statements for all of its sockets), so a notice lost on the way (a full channel, a layer down, a change made by
  a process without a layer) costs at most that second.

A socket re-reads its conversation's messages after its own watermark when woken, so a missed or
repeated notice costs nothing but a read; `transient` carries an activity that is never stored (typing)."""

import asyncio
import contextlib
import itertools
import logging
import os
import socket as sockets
import threading
import time
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
# A batch of notices for other processes gives up after this long (the database look delivers them).
NOTICE_TIMEOUT_SECONDS = 2.0
# Notices on their way to the layer at most; past that they are dropped (the look delivers them).
NOTICES_PENDING_MAX = 10_000
# Conversations (and transient activities) in one message to the other processes at most.
NOTICES_PER_MESSAGE = 500
# The group of the processes that hold sockets; its membership expires in the layer unless renewed.
PROCESSES_GROUP = "directline.processes"
# Renewed this often; settings.py's group_expiry (three times as long) drops a process that died.
REJOIN_SECONDS = 600
# A listener with no sockets left stops after waiting this long for a notice.
LISTEN_SECONDS = 30.0


# Names this process in the notices it sends: its own sockets were woken already and skip them.
_BOOT = uuid.uuid4().hex


def process_name() -> str:
    return f"{sockets.gethostname()}:{os.getpid()}:{_BOOT}"


def socket_phase(func):
    """A database phase of the sockets' own (reads, for no request): a socket closed meanwhile does not
    wait for it (botportal.asyncdb.db_phase)."""
    return db_phase(func, finish_when_cancelled=False)


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
        publisher.publish(layer, transients=[(str(conversation_id), activity)])


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
        self.listener = None
        self.joined = None  # set once the listener is in the processes' group
        # One name for every listener of the loop: what a listener that failed left in the layer's
        # buffer for it is read by the next, and the group holds one name per process.
        self.channel = None

    def _bind(self):
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            # A new event loop (a test's): the sockets of the old one went with it.
            self.loop, self.sockets, self.watcher, self.listener = loop, defaultdict(set), None, None
            self.channel = None

    def add(self, conversation_id, socket) -> None:
        self._bind()
        self.sockets[str(conversation_id)].add(socket)
        if self.watcher is None or self.watcher.done():
            self.watcher = asyncio.ensure_future(self._watch())
        self._listen_if_needed()

    def _listen_if_needed(self) -> None:
        if self.listener is None or self.listener.done():
            layer = _remote_layer()
            if layer is not None:
                self.joined = asyncio.Event()
                self.listener = asyncio.ensure_future(self._listen(layer))

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

    def heard(self, notices: dict) -> None:
        """On the loop: another process's batch of notices (Publisher)."""
        self.wake(notices.get("changed", ()))
        for conversation_id, activity in notices.get("transients", ()):
            self.transient(conversation_id, activity)

    async def listening(self) -> None:
        """Once this process hears other processes' notices (at most NOTICE_TIMEOUT_SECONDS: past that,
        the look delivers): a socket that opens after it misses none of them."""
        if self.listener is not None and not self.listener.done() and not self.joined.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.joined.wait(), NOTICE_TIMEOUT_SECONDS)

    async def _listen(self, layer):
        """Other processes' notices, while this process holds sockets: one channel for all of them."""
        joined = self.joined
        if self.channel is None:
            self.channel = await layer.new_channel()
        channel = self.channel
        joined_at = None
        # One receive waits across the loop's turns: a receive cancelled just as its message arrived
        # would lose it (channels_redis pops it before keeping it), so only the listener's end cancels.
        receiving = None
        try:
            while self.sockets:
                if joined_at is None or time.monotonic() - joined_at > REJOIN_SECONDS:
                    await layer.group_add(PROCESSES_GROUP, channel)
                    joined_at = time.monotonic()
                    joined.set()
                if receiving is None:
                    receiving = asyncio.ensure_future(layer.receive(channel))
                done, _ = await asyncio.wait({receiving}, timeout=LISTEN_SECONDS)
                if not done:
                    continue
                notices, receiving = receiving.result(), None
                if notices.get("from") != process_name():  # this process's sockets were woken already
                    self.heard(notices)
        except Exception:  # noqa: BLE001 (the looks deliver meanwhile; the watcher starts another listener)
            logger.warning("stopped listening for other processes' Direct Line notices", exc_info=True)
        finally:
            if receiving is not None:
                receiving.cancel()
            if self.listener is asyncio.current_task():
                self.listener = None  # a socket that comes now starts another listener
            # The channel stays in the group (its expiry drops it): a next listener joining while this
            # one left could otherwise be left out. What is sent to it meanwhile expires in the layer.

    async def _watch(self):
        revoked_after = timezone.now() - REVOKED_OVERLAP
        while self.sockets:
            await asyncio.sleep(WATCH_SECONDS)
            followed = list(self.sockets)
            if not followed:
                break
            self._listen_if_needed()  # a listener that failed is started again
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
    """Notices to the other processes' listeners, sent on an event loop of this process's own thread: a
    request (or a task) that commits hands its notice over and goes on. What arrives while a message is
    on its way goes in the next one, so a burst costs a few messages to the layer, not one per change."""

    def __init__(self):
        self.lock = threading.Lock()
        self.loop = None
        self.pid = None
        self._reset()

    def _reset(self):
        self.changed = {}  # conversation ids, in order, once each
        self.transients = []  # (conversation id, activity), in order
        self.sending = False

    @property
    def pending(self) -> int:
        with self.lock:
            return len(self.changed) + len(self.transients) + self.sending

    def _running_loop(self):
        with self.lock:
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
                threading.Thread(target=self.loop.run_forever, name="directline-notices", daemon=True).start()
            return self.loop

    def publish(self, layer, changed=(), transients=()) -> None:
        """To the sockets of other processes: `changed` conversations read again, `transients` sent."""
        with self.lock:
            if self.pid != os.getpid():  # a forked worker starts its own thread and batch
                self.pid, self.loop = os.getpid(), None
                self._reset()
            if len(self.changed) + len(self.transients) >= NOTICES_PENDING_MAX:
                logger.warning("too many notices waiting for the channel layer: conversations %s", list(changed))
                return
            self.changed.update(dict.fromkeys(str(conversation_id) for conversation_id in changed))
            self.transients.extend(transients)
            if self.sending:
                return
            self.sending = True
        try:
            loop = self._running_loop()
            asyncio.run_coroutine_threadsafe(self._send(layer), loop)
        except BaseException:
            with self.lock:  # else no notice would ever be sent again from this process
                self._reset()
            raise

    def _next_message(self) -> dict | None:
        with self.lock:
            changed = list(itertools.islice(self.changed, NOTICES_PER_MESSAGE))
            for conversation_id in changed:
                del self.changed[conversation_id]
            transients = self.transients[:NOTICES_PER_MESSAGE]
            del self.transients[:NOTICES_PER_MESSAGE]
            if not changed and not transients:
                self.sending = False
                return None
        return {"type": "directline.notices", "changed": changed, "transients": transients, "from": process_name()}

    async def _send(self, layer):
        while (message := self._next_message()) is not None:
            try:
                await asyncio.wait_for(layer.group_send(PROCESSES_GROUP, message), NOTICE_TIMEOUT_SECONDS)
            except Exception:  # noqa: BLE001 (the other processes' looks deliver it)
                logger.warning("the channel layer did not take the notices of conversations %s", message["changed"])


publisher = _Publisher()


def conversation_changed_received(sender, conversation_ids, **kwargs) -> None:
    """The core's `conversation_changed` (a message stored, a turn over, an end, a revoke, by any path):
    every socket of those conversations reads them again and checks its token. Never waits."""
    followers.wake_from_any_thread(conversation_ids)
    layer = _remote_layer()
    if layer is not None:
        publisher.publish(layer, changed=conversation_ids)
