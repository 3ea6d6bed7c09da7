"""A conversation's news reaches every socket that follows it, in whichever web process it is held:
through the channel layer (Redis in production, in-process on the embedded default).

Sockets re-read the conversation's messages after their own watermark on `changed`, so a missed or
repeated notice costs nothing; `transient` carries an activity that is never stored (typing)."""

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)


def group_name(conversation_id) -> str:
    return f"directline.{conversation_id}"


async def _send(conversation_id, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group_name(conversation_id), message)
    except Exception:  # noqa: BLE001 (a layer down must not fail the turn: pollers still read it)
        logger.warning("could not notify the sockets of conversation %s", conversation_id, exc_info=True)


async def conversation_changed(conversation_id) -> None:
    await _send(conversation_id, {"type": "activities.changed"})


async def conversation_transient(conversation_id, activity: dict) -> None:
    await _send(conversation_id, {"type": "activities.transient", "activity": activity})


# A notice from the core is sent while its caller waits (after its commit): bounded, so that a layer
# that does not answer delays a request by this much at most.
NOTICE_TIMEOUT_SECONDS = 2.0


def conversation_changed_received(sender, conversation_ids, **kwargs) -> None:
    """The core's `conversation_changed` (a message stored, a turn over, an end, a revoke, by any path):
    every socket of those conversations reads them again and checks its token.

    Only for a layer that reaches other processes (Redis): an in-process layer's sockets re-read their
    conversation every second anyway, and its queues belong to the event loop of the sockets, which a
    synchronous caller (a WSGI request, a task) does not run in."""
    layer = get_channel_layer()
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        return

    async def announce():
        for conversation_id in conversation_ids:
            await conversation_changed(conversation_id)

    async def bounded():
        try:
            await asyncio.wait_for(announce(), NOTICE_TIMEOUT_SECONDS)
        except TimeoutError:
            logger.warning("the channel layer did not take the notice of conversations %s", conversation_ids)

    async_to_sync(bounded)()
