"""The Einstein Bots Runtime API v5.0.0, as botportal's protocol registry knows it (settings.BOTPORTAL_PROTOCOLS)."""

from botportal.api.protocols import Protocol
from sessions_app.protocols.einstein import SPEC_PATH
from sessions_app.protocols.einstein.errors import einstein_error_response


def einstein_root_error_response(request, status: int, message: str):
    # The Einstein runtime has no 413: an oversized body is a bad request there.
    return einstein_error_response(request, 400 if status == 413 else status, message)


EINSTEIN = Protocol(
    name="einstein",
    urls="sessions_app.protocols.einstein.urls",
    # Mounted at the root: its routes are /status, /versions and /v5.0.0/...; its urls route its own 404s.
    mounts=(("", "einstein"),),
    paths=("/v5.0.0/", "/status", "/versions"),
    roots=("/v5.0.0",),
    error_response=einstein_root_error_response,
    spec=SPEC_PATH,
)
