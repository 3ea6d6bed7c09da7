"""Reads for the chat widget: which bot a widget page shows, which bot a browser request concerns."""

import re

from botportal import validation
from bots.models import Bot
from sessions_app.models import Conversation

# The /api/v1 (and /v1) routes a browser on a bot's allowed origin may call across origins.
_BOT_SESSION_CREATE = re.compile(r"^/(?:api/)?v1/bot/(?P<bot_id>[^/]+)/session/create/?$")
_CONVERSATION_ROUTE = re.compile(r"^/(?:api/)?v1/conversation/(?P<conversation_id>[^/]+)/.+$")


def widget_bot_get(*, bot_id) -> Bot | None:
    """The bot a widget page may show: public bots of active owners only (private and protected bots
    have no widget)."""
    return Bot.objects.visible_to(None).filter(pk=bot_id, owner__is_active=True).first()


def bot_allowed_origins_for_path(*, path: str) -> list | None:
    """The allowed origins of the bot a session route concerns, or None if the path is not such a route."""
    match = _BOT_SESSION_CREATE.match(path)
    if match:
        bot_id = validation.uuid_or_none(match["bot_id"])
        if bot_id is None:
            return None
        return Bot.objects.filter(pk=bot_id, owner__is_active=True).values_list("allowed_origins", flat=True).first()
    match = _CONVERSATION_ROUTE.match(path)
    if match:
        conversation_id = validation.uuid_or_none(match["conversation_id"])
        if conversation_id is None:
            return None
        return (
            Conversation.objects.filter(pk=conversation_id, bot__isnull=False, owner__is_active=True)
            .values_list("bot__allowed_origins", flat=True)
            .first()
        )
    return None
