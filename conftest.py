import pytest
from rest_framework.test import APIClient

from bots.tests.factories import BotFactory, UserFactory
from sessions_app.services.owners import api_key_create, bot_owner_create


@pytest.fixture
def owner(db):
    return bot_owner_create(username="owner", password="correct horse battery staple")


@pytest.fixture
def other_owner(db):
    return bot_owner_create(username="other", password="correct horse battery staple")


@pytest.fixture
def api_secret(owner):
    return api_key_create(owner=owner, name="tests")[1]


@pytest.fixture
def other_api_secret(other_owner):
    return api_key_create(owner=other_owner, name="tests")[1]


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def owner_client(api_secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret}")
    return client


@pytest.fixture
def other_client(other_api_secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {other_api_secret}")
    return client


@pytest.fixture
def bot(owner):
    return BotFactory(owner=owner, name="Helpdesk", visibility="private")


@pytest.fixture
def public_bot(owner):
    return BotFactory(owner=owner, name="Public helper", visibility="public")


@pytest.fixture
def user_factory(db):
    return UserFactory


# --- admin console -------------------------------------------------------------------------------
@pytest.fixture
def reviewer(db):
    from django.contrib.auth.models import Group

    from sessions_app.services.owners import CONVERSATION_REVIEWER_GROUP

    user = UserFactory(username="reviewer", is_staff=True)
    user.groups.add(Group.objects.get(name=CONVERSATION_REVIEWER_GROUP))
    return user


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def login_client():
    """A Django test client logged in as the given user: `login_client(user)`."""
    from django.test import Client

    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Owners are created with passwords in most tests; the production hasher's deliberate slowness
    # would dominate the suite's run time without testing anything of ours.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    # Throttle counters live in the cache; each test starts from zero rather than from its predecessors' traffic.
    from django.core.cache import cache

    cache.clear()


# --- a language model upstream ---------------------------------------------------------------------
@pytest.fixture
def fake_upstream():
    """bench/fake_upstream.py serving in a background thread: 3 tokens, no delay, mode "ok"."""
    from bench.fake_upstream import start

    server = start(tokens=3, interval=0.0)
    yield server
    server.stop()


@pytest.fixture
def llm_settings(settings, fake_upstream):
    """A provider named "fake" on the fake upstream: a bot with model "fake/fake-<mode>" gets that mode."""
    settings.BOTPORTAL = {
        **settings.BOTPORTAL,
        "LLM_PROVIDERS": {"fake": {"base_url": fake_upstream.url, "api_key": "sk-fake", "timeout": 2}},
    }
    return settings
