from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from bots.tests.factories import BotFactory
from sessions_app.selectors.admin import bot_activity_list
from sessions_app.tests.factories import BotSessionFactory, ConversationFactory


def test_activity_counts_conversations_per_day_and_active_sessions(owner, bot):
    now = timezone.now()
    for days_ago, n in [(0, 3), (2, 1), (29, 2), (30, 5)]:
        for _ in range(n):
            ConversationFactory(bot=bot, created_at=now - timedelta(days=days_ago))
    conversation = ConversationFactory(bot=bot, created_at=now - timedelta(days=40))
    BotSessionFactory(conversation=conversation, expires_at=now + timedelta(minutes=5))
    BotSessionFactory(conversation=conversation, expires_at=now - timedelta(minutes=5))
    BotSessionFactory(conversation=conversation, expires_at=now + timedelta(minutes=5), revoked_at=now)
    quiet = BotFactory(owner=owner, name="Quiet")

    activities = {a.bot.pk: a for a in bot_activity_list(bots_queryset=owner.bots.all(), now=now)}
    busy = activities[bot.pk]
    assert len(busy.per_day) == 30
    assert busy.per_day[-1] == (timezone.localdate(now), 3)
    assert busy.per_day[-3][1] == 1
    assert busy.per_day[0][1] == 2
    assert busy.total == 6 and busy.peak == 3
    assert busy.active_sessions == 1
    assert activities[quiet.pk].total == 0 and activities[quiet.pk].active_sessions == 0


def test_activity_takes_three_queries_whatever_the_number_of_bots(owner, django_assert_num_queries):
    for n in range(8):
        bot = BotFactory(owner=owner)
        for _ in range(n):
            ConversationFactory(bot=bot)
    with django_assert_num_queries(3):
        activities = bot_activity_list(bots_queryset=owner.bots.all())
    assert sorted(a.total for a in activities) == list(range(8))


def test_dashboard_shows_the_viewers_bots_with_a_chart(world, owner, login_client):
    for _ in range(4):
        ConversationFactory(bot=world.mine.bot)
    content = login_client(owner).get(reverse("admin:index")).content.decode()
    assert 'id="bot-dashboard"' in content
    assert "Alpha bot" in content and "Beta bot" not in content
    assert content.count('<svg class="bp-chart"') == 1
    assert "<title>" in content and ": 5</title>" in content  # today's bar: 4 + the world's conversation


def test_reviewer_dashboard_spans_all_bots_without_org_ids(world, reviewer, login_client):
    content = login_client(reviewer).get(reverse("admin:index")).content.decode()
    assert "Alpha bot" in content and "Beta bot" in content
    assert world.mine.profile.org_id not in content
