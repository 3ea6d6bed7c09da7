from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from sessions_app.services.owners import api_key_authenticate

pytestmark = pytest.mark.django_db


def _run(*args) -> list[str]:
    out = StringIO()
    call_command("createapikey", *args, stdout=out)
    return out.getvalue().rstrip("\n").split("\n")


def test_prints_the_secret_alone_on_the_last_line(owner):
    lines = _run("owner", "--name", "deploy")
    secret = lines[-1]
    assert secret.startswith("sk-") and " " not in secret
    assert api_key_authenticate(secret=secret) == owner


def test_create_user_makes_a_bot_owner():
    secret = _run("newowner", "--create-user")[-1]
    user = api_key_authenticate(secret=secret)
    assert user.username == "newowner"
    assert user.groups.filter(name="Bot owners").exists()


def test_unknown_user_without_create_user_fails():
    with pytest.raises(CommandError, match="--create-user"):
        _run("nobody")


def test_setupdemo_creates_the_demo_once():
    out = StringIO()
    call_command("setupdemo", stdout=out)
    secret = next(line.split()[-1] for line in out.getvalue().splitlines() if "API secret" in line)
    assert api_key_authenticate(secret=secret).username == "demo"
    again = StringIO()
    call_command("setupdemo", stdout=again)
    assert "exists" in again.getvalue()
    assert secret not in again.getvalue()
