"""Reads for the admin console: the dashboard figures and transcript pages."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.core.paginator import Paginator
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from bots.models import Bot
from sessions_app.models import BotSession, Conversation, Message

DASHBOARD_DAYS = 30
DASHBOARD_MAX_BOTS = 20
TRANSCRIPT_PAGE_SIZE = 50


@dataclass
class BotActivity:
    bot: Bot
    active_sessions: int = 0
    # (day, conversations started that day), oldest first, one entry per day of the window.
    per_day: list[tuple[date, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.per_day)

    @property
    def peak(self) -> int:
        return max((n for _, n in self.per_day), default=0)


def bot_activity_list(*, bots_queryset, days: int = DASHBOARD_DAYS, limit: int = DASHBOARD_MAX_BOTS, now=None):
    """Per bot: active sessions now and conversations started per day over the last `days` days.

    Three queries whatever the number of bots and conversations: the bots, one aggregate of
    conversations grouped by bot and day, one aggregate of active sessions grouped by bot.
    """
    now = now or timezone.now()
    bots = list(bots_queryset.order_by("-created_at")[:limit])
    if not bots:
        return []
    today = timezone.localdate(now)
    first_day = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first_day, time.min))
    bot_ids = [bot.pk for bot in bots]

    counts: dict = {}
    rows = (
        Conversation.objects.filter(bot_id__in=bot_ids, created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("bot_id", "day")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[(row["bot_id"], row["day"])] = row["n"]

    active = dict(
        BotSession.objects.filter(conversation__bot_id__in=bot_ids)
        .live(at=now)
        .values_list("conversation__bot_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    window = [first_day + timedelta(days=i) for i in range(days)]
    return [
        BotActivity(
            bot=bot,
            active_sessions=active.get(bot.pk, 0),
            per_day=[(day, counts.get((bot.pk, day), 0)) for day in window],
        )
        for bot in bots
    ]


def transcript_page(*, conversation: Conversation, page_number=1, page_size: int = TRANSCRIPT_PAGE_SIZE):
    """One page of a conversation's messages, in the order the server accepted them."""
    messages = Message.objects.filter(conversation=conversation).order_by("id")
    return Paginator(messages, page_size).get_page(page_number)


def conversation_sessions(*, conversation: Conversation):
    return list(
        BotSession.objects.filter(conversation=conversation)
        .only("id", "conversation_id", "created_at", "expires_at", "revoked_at", "last_used_at", "duration_seconds")
        .order_by("-created_at")
    )


def transcript_messages_for_export(*, conversations_queryset):
    """Messages of the given conversations, streamed in conversation then message order."""
    return (
        Message.objects.filter(conversation__in=conversations_queryset.values("pk"))
        .select_related("conversation", "conversation__bot", "conversation__contact")
        .order_by("conversation__created_at", "conversation_id", "id")
    )
