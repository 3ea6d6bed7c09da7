import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# What a deployment sets: none of the test run's own settings (DJANGO_SETTINGS_MODULE is the test settings).
DROPPED = {"SECRET_KEY", "DEBUG", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"}


def _manage(args: list[str], extra_env: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    env.update({"BOTPORTAL_VAR_DIR": str(tmp_path)}, **extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _django_check(extra_env: dict, tmp_path) -> subprocess.CompletedProcess:
    return _manage(["check"], extra_env, tmp_path)


def test_debug_is_off_unless_asked_for(tmp_path):
    # No technical 500 pages or URL lists for a deployment that forgets the variable.
    script = ["shell", "-v", "0", "-c", "from django.conf import settings; print(settings.DEBUG)"]
    result = _manage(script, {"SECRET_KEY": "x" * 60}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert _manage(script, {"SECRET_KEY": "x" * 60, "DEBUG": "true"}, tmp_path).stdout.strip() == "True"


@pytest.mark.parametrize("debug", [None, "false"], ids=["nothing-set", "debug-false"])
def test_production_refuses_to_start_without_secret_key(tmp_path, debug):
    result = _django_check({"DEBUG": debug} if debug else {}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is false" in result.stderr
    assert "set DEBUG=true" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_production_starts_with_secret_key(tmp_path):
    result = _django_check({"DEBUG": "false", "SECRET_KEY": "x" * 60}, tmp_path)
    assert result.returncode == 0, result.stderr


def test_development_generates_a_secret_key_once_under_var(tmp_path):
    assert _django_check({"DEBUG": "true"}, tmp_path).returncode == 0
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert _django_check({"DEBUG": "true"}, tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == key


@pytest.mark.django_db
def test_every_timestamp_is_timezone_aware(bot):
    assert bot.created_at.tzinfo is not None
    assert bot.created_at.utcoffset().total_seconds() == 0
