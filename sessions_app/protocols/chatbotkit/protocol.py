"""The ChatBotKit v1 format, as botportal's protocol registry knows it (settings.BOTPORTAL_PROTOCOLS)."""

from django.http import JsonResponse

from botportal.api.errors import error_body
from botportal.api.protocols import Protocol


def chatbotkit_error_response(request, status: int, message: str) -> JsonResponse:
    return JsonResponse(error_body(status, message), status=status)


CHATBOTKIT = Protocol(
    name="chatbotkit",
    urls="sessions_app.protocols.chatbotkit.urls",
    # /v1 is the short alias the official client's default base URL uses.
    mounts=(("api/v1/", "chatbotkit"), ("v1/", "chatbotkit-short")),
    # The whole of /api/ answers errors in this shape; the prefixes themselves, without their slash,
    # belong to it too (no redirect to "/api/").
    paths=("/api/", "/v1/"),
    roots=("/api", "/v1"),
    error_response=chatbotkit_error_response,
    catch_all=True,
)
