"""Who may call what: an owner's API secret for the owner routes; a session token only in its own conversation."""

from rest_framework.permissions import BasePermission

from botportal import validation
from botportal.errors import NotAuthenticated
from sessions_app.models import BotSession, Conversation
from sessions_app.selectors.conversations import conversation_get


def presented_session(request) -> BotSession | None:
    return request.auth if isinstance(request.auth, BotSession) else None


def owner_required(request):
    if presented_session(request) is not None:
        raise NotAuthenticated(
            "A session token may only converse in its own conversation; this route needs an API secret."
        )
    if request.user is None:
        raise NotAuthenticated("Authenticate with an API secret: 'Authorization: Bearer sk-...'.")
    return request.user


class OwnerRequired(BasePermission):
    """The default of every DRF view (settings.REST_FRAMEWORK): an owner's API secret, nothing less."""

    def has_permission(self, request, view):
        owner_required(request)
        return True


class OwnerOrSessionToken(BasePermission):
    """An owner's API secret or a session token; which conversation either may touch is `conversation_for`'s rule."""

    def has_permission(self, request, view):
        if request.user is None and presented_session(request) is None:
            raise NotAuthenticated(
                "Authenticate with an API secret or the conversation's session token: 'Authorization: Bearer ...'."
            )
        return True


def conversation_for(request, conversation_id) -> tuple[Conversation, BotSession | None]:
    """The conversation a session token or its owner may act on.

    A token gets its own conversation only: any other id is a 401, whether or not it exists.
    An owner gets its own conversations; another owner's is a 404.
    """
    bot_session = presented_session(request)
    if bot_session is not None:
        if validation.uuid_or_none(conversation_id) != bot_session.conversation_id:
            raise NotAuthenticated("This session token belongs to another conversation.")
        return bot_session.conversation, bot_session
    owner = owner_required(request)
    return conversation_get(owner=owner, conversation_id=conversation_id), None
