"""A conversation's news reaches every socket that follows it, in whichever web process it is held:
through the channel layer (Redis in production, in-process on the embedded default).

Sockets re-read the conversation's messages after their own watermark on `changed`, so a missed or
repeated notice costs nothing; `transient` carries an activity that is never stored (typing)."""

import logging

from channels.layers import get_channel_layer

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
