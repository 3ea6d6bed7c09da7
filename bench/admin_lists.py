"""Admin pages against a large history: timings and query counts with N messages (default 1,000,000).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/botportal_bench .venv/bin/python bench/admin_lists.py
    .venv/bin/python bench/admin_lists.py --messages 200000     # smaller, e.g. on SQLite

Seeds (once; rerunning reuses the data) two owners whose conversations hold the messages, then
requests each admin page a few times as the owner and as a reviewer through Django's test client
and prints the median time and the number of queries per page. It migrates the database it is given.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botportal.settings")
os.environ.setdefault("DEBUG", "true")  # development settings: a secret generated under var/, no HTTPS redirect

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from bots.models import Bot  # noqa: E402
from sessions_app.access import credentials  # noqa: E402
from sessions_app.models import BotSession, Contact, Conversation, Message  # noqa: E402
from sessions_app.services.owners import CONVERSATION_REVIEWER_GROUP, bot_owner_create  # noqa: E402

MESSAGES_PER_CONVERSATION = 20
BATCH = 10_000


def seed(total_messages: int):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    if Message.objects.count() >= total_messages:
        return User.objects.get(username="bench-owner"), User.objects.get(username="bench-reviewer")
    owner = User.objects.filter(username="bench-owner").first() or bot_owner_create(username="bench-owner")
    other = User.objects.filter(username="bench-other").first() or bot_owner_create(username="bench-other")
    reviewer, _ = User.objects.get_or_create(username="bench-reviewer", defaults={"is_staff": True})
    reviewer.groups.add(Group.objects.get(name=CONVERSATION_REVIEWER_GROUP))
    now = timezone.now()
    bots = {user: Bot.objects.get_or_create(owner=user, name=f"{user.username} bot")[0] for user in (owner, other)}
    conversations_needed = (total_messages - Message.objects.count()) // MESSAGES_PER_CONVERSATION
    print(f"seeding {conversations_needed * MESSAGES_PER_CONVERSATION:,} messages...", flush=True)
    started = time.perf_counter()
    made = 0
    while made < conversations_needed:
        n = min(BATCH // MESSAGES_PER_CONVERSATION, conversations_needed - made)
        users = [owner if (made + i) % 2 == 0 else other for i in range(n)]
        contacts = Contact.objects.bulk_create(
            Contact(owner=user, fingerprint=f"bench-{made + i}", email=f"person{made + i}@example.com")
            for i, user in enumerate(users)
        )
        conversations = Conversation.objects.bulk_create(
            Conversation(
                owner=user,
                bot=bots[user],
                contact=contact,
                created_at=now - timedelta(minutes=(made + i) % (60 * 24 * 45)),
            )
            for i, (user, contact) in enumerate(zip(users, contacts, strict=True))
        )
        Message.objects.bulk_create(
            Message(
                conversation=conversation,
                type="user" if k % 2 == 0 else "bot",
                text=f"message {k} of conversation {made + i}: where is my order?",
                meta={"intents": [{"label": "order_status", "confidence": 0.9}]} if k % 2 == 0 else {},
            )
            for i, conversation in enumerate(conversations)
            for k in range(MESSAGES_PER_CONVERSATION)
        )
        BotSession.objects.bulk_create(
            BotSession(
                conversation=conversation,
                token_digest=credentials.digest(credentials.new_session_token()),
                duration_seconds=3600,
                expires_at=now + timedelta(minutes=30 - (made + i) % 60),
            )
            for i, conversation in enumerate(conversations)
        )
        made += n
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)
    return owner, reviewer


def measure(client, url, params=None, repeat=5):
    client.get(url, params)  # warm caches (session, content types)
    times, queries = [], 0
    for _ in range(repeat):
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, params)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        queries = len(captured)
    return statistics.median(times), queries


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    owner, reviewer = seed(args.messages)
    conversation = Conversation.objects.filter(owner=owner).order_by("-created_at").first()
    pages = [
        ("dashboard", reverse("admin:index"), None),
        ("conversations", reverse("admin:sessions_app_conversation_changelist"), None),
        ("conversations, ended=no, origin", reverse("admin:sessions_app_conversation_changelist"),
         {"ended": "no", "origin__exact": "chatbotkit"}),
        ("conversations, search email", reverse("admin:sessions_app_conversation_changelist"),
         {"q": "person12345@example.com"}),
        ("conversations, search text", reverse("admin:sessions_app_conversation_changelist"),
         {"q": "conversation 12345:"}),
        ("messages", reverse("admin:sessions_app_message_changelist"), None),
        ("sessions, active", reverse("admin:sessions_app_botsession_changelist"), {"status": "active"}),
        ("contacts", reverse("admin:sessions_app_contact_changelist"), None),
        ("transcript", reverse("admin:sessions_app_conversation_transcript", args=[conversation.pk]), None),
    ]
    total = Message.objects.count()
    print(f"\n{connection.vendor}, {total:,} messages, {Conversation.objects.count():,} conversations")
    print(f"{'page':<36} {'role':<9} {'median ms':>10} {'queries':>8}")
    for role, user in (("owner", owner), ("reviewer", reviewer)):
        client = Client()
        client.force_login(user)
        for name, url, params in pages:
            if role == "reviewer" and "sessions" in name:
                continue
            ms, queries = measure(client, url, params)
            print(f"{name:<36} {role:<9} {ms:>10.1f} {queries:>8}", flush=True)


if __name__ == "__main__":
    main()
