"""What the official clients' tests share: `client_missing`, and for the Direct Line clients a live
botportal under gunicorn with uvicorn's worker (as production runs it).

Each module using `dl_env` gets a fresh SQLite file under its own var/ with one owner, the bot of bot.json and a Direct
Line secret for it, made with botportal's own management commands."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import free_port, wait_until_healthy

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


def client_missing(reason: str) -> None:
    """A JavaScript client that is not installed: a failure in CI (which installs them), a skip elsewhere."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


def manage(env, *args) -> str:
    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=180, capture_output=True,
        text=True,
    )
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


@pytest.fixture(scope="module")
def dl_env(tmp_path_factory):
    """The environment of the live servers, the database made, and what the clients need."""
    var = tmp_path_factory.mktemp("directline")
    dropped = {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE", "WEB_CONCURRENCY",
               "REDIS_URL", "CACHE_URL", "CHANNEL_LAYER_URL"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "BOTPORTAL_VAR_DIR": str(var),
            "STATIC_ROOT": str(var / "static"),
            "LOG_LEVEL": "ERROR",
            # The clients here make many requests from one address in a few seconds.
            "BOTPORTAL_THROTTLE_SESSION_TOKEN": "10000/minute",
            "BOTPORTAL_THROTTLE_FAILED_AUTH": "10000/minute",
        }
    )
    manage(env, "migrate", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    api_secret = manage(env, "createapikey", "dl-owner", "--create-user")
    bot_id = manage(env, "loadbot", str(HERE / "bot.json"), "--owner", "dl-owner").split()[-1]
    dl_secret = manage(env, "directlinesecret", bot_id)
    return {"env": env, "api_secret": api_secret, "bot_id": bot_id, "dl_secret": dl_secret}


def start_server(env, *, workers: int = 1):
    """(process, base URL) of gunicorn serving botportal.asgi with gunicorn.conf.py's uvicorn worker."""
    port = free_port()
    args = [GUNICORN, "botportal.asgi:application", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
            "--no-control-socket"]
    process = subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)  # noqa: S603
    wait_until_healthy(process, port, process.stderr.read)
    return process, f"http://127.0.0.1:{port}"


def stop_server(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def dl_server(dl_env):
    process, url = start_server(dl_env["env"])
    yield url
    stop_server(process)
