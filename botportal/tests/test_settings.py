import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _django_check(extra_env: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}}
    env.update({"BOTPORTAL_VAR_DIR": str(tmp_path)}, **extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_secret_key(tmp_path):
    result = _django_check({"DEBUG": "false"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_starts_with_secret_key(tmp_path):
    result = _django_check({"DEBUG": "false", "SECRET_KEY": "x" * 60}, tmp_path)
    assert result.returncode == 0, result.stderr


def test_development_generates_a_secret_key_once_under_var(tmp_path):
    assert _django_check({}, tmp_path).returncode == 0
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert _django_check({}, tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == key


@pytest.mark.django_db
def test_every_timestamp_is_timezone_aware(bot):
    assert bot.created_at.tzinfo is not None
    assert bot.created_at.utcoffset().total_seconds() == 0
