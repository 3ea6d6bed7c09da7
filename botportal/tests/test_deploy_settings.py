"""Production settings as the README's deployment section sets them: the deploy check passes, limits come from env."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], extra_env: dict, tmp_path) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser tests' harness in this process, never in a deployment;
    # DJANGO_SETTINGS_MODULE names the test settings.
    dropped = {"SECRET_KEY", "DEBUG", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update({"BOTPORTAL_VAR_DIR": str(tmp_path), "STATIC_ROOT": str(tmp_path / "static")}, **extra_env)
    command = [sys.executable, *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603


PRODUCTION = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "botportal.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://botportal.example.com",
}


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = {**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(50)}
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_limits_and_proxies_come_from_the_environment(tmp_path):
    env = {
        **PRODUCTION,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "BOTPORTAL_TRUSTED_PROXIES": "2",
        "BOTPORTAL_THROTTLE_SESSION_CREATE_IP": "7/minute",
        "BOTPORTAL_THROTTLE_FAILED_AUTH": "3/hour",
        "BOTPORTAL_MAX_BODY_BYTES": "1000",
        "BOTPORTAL_MAX_MESSAGE_CHARS": "50",
    }
    script = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'proxies': s.REST_FRAMEWORK['NUM_PROXIES'],"
        " 'rates': s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'],"
        " 'body': s.BOTPORTAL['MAX_BODY_BYTES'], 'upload': s.DATA_UPLOAD_MAX_MEMORY_SIZE,"
        " 'chars': s.BOTPORTAL['MAX_MESSAGE_CHARS'], 'ssl': list(s.SECURE_PROXY_SSL_HEADER)}))"
    )
    result = _run(["-c", script], {**env, "DJANGO_SETTINGS_MODULE": "botportal.settings"}, tmp_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["proxies"] == 2
    assert seen["rates"]["session_create_ip"] == "7/minute"
    assert seen["rates"]["failed_auth"] == "3/hour"
    assert seen["body"] == seen["upload"] == 1000
    assert seen["chars"] == 50
    assert seen["ssl"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_the_deploy_checks_see_botportals_security_middleware():
    # botportal/middleware.py's subclasses stand for Django's: their settings are checked as Django would.
    from django.test import override_settings

    from botportal.checks import check_security_middleware_subclasses

    def ids(**overrides):
        with override_settings(**overrides):
            return {message.id for message in check_security_middleware_subclasses(None)}

    safe = {
        "SECURE_HSTS_SECONDS": 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_SSL_REDIRECT": True,
        "CSRF_COOKIE_SECURE": True,
        "X_FRAME_OPTIONS": "DENY",
    }
    assert ids(**safe) == set()
    unsafe = {**safe, "SECURE_HSTS_SECONDS": 0, "CSRF_COOKIE_SECURE": False, "X_FRAME_OPTIONS": "SAMEORIGIN"}
    assert ids(**unsafe) == {"security.W004", "security.W016", "security.W019"}
    without = [path for path in settings.MIDDLEWARE if "Security" not in path and "Csrf" not in path]
    assert ids(**safe, MIDDLEWARE=without) == {"botportal.W001", "botportal.W003"}
