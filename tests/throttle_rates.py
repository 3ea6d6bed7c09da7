"""Throttle rates for one test. DRF reads the rates once, into `SimpleRateThrottle.THROTTLE_RATES`: a test
sets its own there, for every scope that counts requests from one client."""

from rest_framework.throttling import SimpleRateThrottle

SCOPES = ("session_create_ip", "session_create_bot", "session_token", "api_secret", "failed_auth")


def rates_set(monkeypatch, rate: str, **overrides: str) -> None:
    """Every scope of SCOPES at `rate`, but those given as overrides (scope="2/minute"), until the test ends."""
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**dict.fromkeys(SCOPES, rate), **overrides})
