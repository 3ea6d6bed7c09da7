"""Admin matrix: owner A, logged in to the console, against owner B's objects on every admin page.

Every registered model admin and every one of its per-object pages (custom ones included, read from the
URL resolver) is covered: B's objects are absent from A's lists, and each per-object page of B's is a
404, a 403 or the admin's "does not exist" redirect; posts change nothing.
"""

import re

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse

from bots.models import EntityType
from bots.tests.factories import (
    AbilityFactory,
    BotFactory,
    DatasetFactory,
    DatasetRecordFactory,
    IntentFactory,
    SkillsetFactory,
    VariableFactory,
)
from sessions_app.models import OwnerProfile
from sessions_app.protocols.directline.services import directline_secret_create
from sessions_app.services.owners import api_key_create, owner_profile_ensure
from sessions_app.tests.factories import BotSessionFactory, ContactFactory, ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

# Models whose admin is not about an owner's objects: a bot owner has no permission there at all.
NOT_OWNED = {
    "auth.Group",
    "auth.User",
    "django_celery_beat.PeriodicTask",
    "django_celery_beat.ClockedSchedule",
    "django_celery_beat.CrontabSchedule",
    "django_celery_beat.SolarSchedule",
    "django_celery_beat.IntervalSchedule",
}


def objects_of(owner) -> dict:
    """One object of every owner-scoped model, by model label."""
    bot = BotFactory(owner=owner)
    dataset = DatasetFactory(owner=owner)
    skillset = SkillsetFactory(owner=owner)
    contact = ContactFactory(owner=owner)
    conversation = ConversationFactory(bot=bot, contact=contact)
    return {
        "bots.Bot": bot,
        "bots.Intent": IntentFactory(bot=bot),
        "bots.Variable": VariableFactory(bot=bot),
        "bots.EntityType": EntityType.objects.create(bot=bot, name="size", values=[{"value": "small"}]),
        "bots.Dataset": dataset,
        "bots.DatasetRecord": DatasetRecordFactory(dataset=dataset),
        "bots.Skillset": skillset,
        "bots.Ability": AbilityFactory(skillset=skillset),
        "sessions_app.OwnerProfile": owner_profile_ensure(owner=owner),
        "sessions_app.ApiKey": api_key_create(owner=owner, name="key")[0],
        "sessions_app.Contact": contact,
        "sessions_app.Conversation": conversation,
        "sessions_app.Message": MessageFactory(conversation=conversation, text="a private matter"),
        "sessions_app.BotSession": BotSessionFactory(conversation=conversation),
        "directline.DirectLineSecret": directline_secret_create(bot=bot, name="site")[0],
    }


def registered() -> dict:
    return {model._meta.label: model_admin for model, model_admin in admin.site._registry.items()}


def per_object_routes(model_admin) -> list[str]:
    """The URL names of every page of this admin that takes an object id (custom pages included)."""
    names = []
    for entry in model_admin.get_urls():
        if isinstance(entry, URLPattern) and entry.name and "object_id" in str(entry.pattern):
            names.append(entry.name)
        elif isinstance(entry, URLResolver):  # pragma: no cover (no admin nests resolvers today)
            raise AssertionError(f"nested admin URLs in {model_admin}: add them to the matrix")
    return names


@pytest.fixture
def mine(owner):
    return objects_of(owner)


@pytest.fixture
def theirs(other_owner):
    return objects_of(other_owner)


@pytest.fixture
def console(owner):
    client = Client()
    client.force_login(owner)
    return client


def test_every_admin_is_in_the_matrix(mine):
    assert set(registered()) == set(mine) | NOT_OWNED


def refused(response) -> bool:
    if response.status_code in (403, 404):
        return True
    # The admin's answer to an id outside its queryset: back to the index with "does not exist".
    return response.status_code == 302 and response["Location"].rstrip("/").endswith(reverse("admin:index").rstrip("/"))


def test_another_owners_objects_are_absent_from_every_admin_page(console, mine, theirs):
    for label, model_admin in sorted(registered().items()):
        if label in NOT_OWNED:
            continue
        opts = model_admin.model._meta
        changelist = console.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        their_pk = str(theirs[label].pk)
        if changelist.status_code == 200:
            page = changelist.content.decode()
            # Rows link to their object's pages (change, transcript...): by id, as a path segment.
            assert f"/{their_pk}/" not in page, f"{label}: another owner's object is listed"
            assert f"/{mine[label].pk}/" in page, f"{label}: the owner's own object is not listed"
        else:
            assert changelist.status_code == 403, f"{label} changelist: {changelist.status_code}"
        for name in per_object_routes(model_admin):
            url = reverse(f"admin:{name}", args=[their_pk])
            response = console.get(url)
            if response.status_code == 405:  # a page that only takes posts (a bot's try-it actions)
                response = console.post(url, {"text": "hello"})
            assert refused(response), f"{label} {name}: {response.status_code}"


def test_posts_to_another_owners_objects_change_nothing(console, theirs):
    for label, model_admin in sorted(registered().items()):
        if label in NOT_OWNED:
            continue
        obj = theirs[label]
        before = type(obj).objects.filter(pk=obj.pk).values().first()
        opts = model_admin.model._meta
        for action in ("change", "delete"):
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_{action}", args=[obj.pk])
            response = console.post(url, {"post": "yes", "name": "Taken over", "text": "Taken over"})
            assert refused(response), f"{label} {action}: {response.status_code}"
        assert type(obj).objects.filter(pk=obj.pk).values().first() == before, label


def test_a_bot_owner_has_no_admin_outside_its_own_objects(console, other_owner):
    for label in sorted(NOT_OWNED):
        app_label, model_name = label.lower().split(".")
        response = console.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
        assert response.status_code == 403, f"{label}: {response.status_code}"
    response = console.get(reverse("admin:auth_user_change", args=[other_owner.pk]))
    assert response.status_code in (302, 403), response.status_code


def test_the_dashboard_shows_only_the_owners_own_bots(console, mine, theirs):
    Bot = type(theirs["bots.Bot"])
    Bot.objects.filter(pk=theirs["bots.Bot"].pk).update(name="Their unmistakable bot")
    Bot.objects.filter(pk=mine["bots.Bot"].pk).update(name="My own bot")
    page = console.get(reverse("admin:index")).content.decode()
    assert "My own bot" in page
    assert "Their unmistakable bot" not in page and str(theirs["bots.Bot"].pk) not in page


def test_the_owners_own_objects_open(console, mine):
    # The refusals above mean something only if the same pages open for the owner's own objects.
    for label, model_admin in sorted(registered().items()):
        if label in NOT_OWNED:
            continue
        opts = model_admin.model._meta
        if not model_admin.has_view_permission(_request(console, mine), mine[label]):
            continue
        response = console.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[mine[label].pk]))
        assert response.status_code == 200, f"{label}: {response.status_code}"


def _request(console, mine):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = OwnerProfile.objects.get(pk=mine["sessions_app.OwnerProfile"].pk).owner
    return request


def test_route_names_are_read_from_the_admins():
    names = per_object_routes(registered()["sessions_app.Conversation"])
    assert "sessions_app_conversation_change" in names
    assert all(re.match(r"^[a-z_]+$", name) for name in names)
