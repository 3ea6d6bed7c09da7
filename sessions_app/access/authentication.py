"""`Authorization: Bearer ...`: an owner's API secret (`sk-...`) or a session token.

An API secret authenticates its owner (request.user, request.auth is None). A session token
authenticates no user (request.user is None) and sets request.auth to its live BotSession.
"""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from botportal.api.throttles import SLOTS_ATTRIBUTE, FailedAuthenticationThrottle, SlotsToGiveBack
from botportal.errors import NotAuthenticated
from sessions_app.access import credentials
from sessions_app.services.owners import api_key_authenticate
from sessions_app.services.sessions import SessionExpired, bot_session_authenticate


def bearer_credential(request) -> str | None:
    header = get_authorization_header(request).decode("latin-1").strip()
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise exceptions.AuthenticationFailed("Use the header 'Authorization: Bearer <API secret or session token>'.")
    return value


def credential_check_guarded(request, check, *, slots: SlotsToGiveBack | None = None):
    """Run a credential check, counting its failures per client IP; past the limit, refuse unchecked.
    A token that was issued and is no longer live (SessionExpired: revoked, expired, its conversation
    over) is no guess, so it is not counted: a stale tab must not lock out its neighbours behind one
    address. `slots`: where a good credential's slot waits to be given back with the request's rate
    throttles (one round trip less); without it, the slot is given back at once."""
    guard = FailedAuthenticationThrottle()
    wait = guard.attempt_begin(request)
    if wait is not None:
        raise exceptions.Throttled(wait=wait)
    try:
        result = check()
    except SessionExpired:
        guard.attempt_release()
        raise
    except NotAuthenticated:
        raise  # the slot taken stays counted as a failure
    except BaseException:
        guard.attempt_release()  # never judged: not a failure
        raise
    if slots is not None:
        slots.add(guard)
    else:
        guard.attempt_release()
    return result


def _live_secret_owner(secret: str):
    owner = api_key_authenticate(secret=secret) if credentials.is_api_secret(secret) else None
    if owner is None:
        raise NotAuthenticated("The API secret is not valid.")
    return owner


def api_secret_owner(request, secret: str, *, slots: SlotsToGiveBack | None = None):
    """The owner of a presented API secret, for any protocol: NotAuthenticated if it is not a live one,
    Throttled if this client IP has failed too often."""
    return credential_check_guarded(request, lambda: _live_secret_owner(secret), slots=slots)


def authenticate_bearer(request, value: str, *, slots: SlotsToGiveBack | None = None):
    """(owner, None) for an API secret, (None, BotSession) for a session token."""
    try:
        if credentials.is_api_secret(value):
            return api_secret_owner(request, value, slots=slots), None
        return None, credential_check_guarded(request, lambda: bot_session_authenticate(token=value), slots=slots)
    except NotAuthenticated as error:
        raise exceptions.AuthenticationFailed(error.message) from None


class BearerAuthentication(BaseAuthentication):
    def authenticate(self, request):
        value = bearer_credential(request)
        if value is None:
            return None
        # A JsonApiView gives the slot back with its throttles (JsonApiView.initial); anywhere else, at once.
        return authenticate_bearer(request, value, slots=getattr(request, SLOTS_ATTRIBUTE, None))

    def authenticate_header(self, request):
        return 'Bearer realm="botportal"'


class ApiSecretAuthentication(BearerAuthentication):
    """Only an owner's API secret; a session token is refused."""

    def authenticate(self, request):
        value = bearer_credential(request)
        if value is not None and not credentials.is_api_secret(value):
            raise exceptions.AuthenticationFailed("This route needs an API secret, not a session token.")
        return super().authenticate(request)
