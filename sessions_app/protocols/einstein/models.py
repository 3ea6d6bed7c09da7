"""What the Einstein Bots runtime keeps per session, apart from the conversation every protocol shares.

Its own table, so that nothing another protocol writes (the owner's ChatBotKit `conversation/update`
replaces `Conversation.meta` whole) can reach it, and so that a conversation of another protocol
carries none of it.
"""

from django.db import models


class EinsteinSession(models.Model):
    """One Einstein runtime session: its conversation (whose id is the sessionId) and the protocol's state.

    A conversation begun through another protocol and continued through this one gets its row at its
    first Einstein turn.
    """

    conversation = models.OneToOneField(
        "sessions_app.Conversation", primary_key=True, on_delete=models.CASCADE, related_name="einstein"
    )
    # The client's externalSessionKey, as sent at begin.
    external_session_key = models.CharField(max_length=256, blank=True)
    # What the client declared at begin: its forceConfig, its referrers, the static content formats it
    # renders ({"StaticContentMessage": ["Attachments", "Text"]}) and the types of the variables it sent.
    force_config = models.JSONField(default=dict, blank=True)
    referrers = models.JSONField(default=list, blank=True)
    rich_content = models.JSONField(default=dict, blank=True)
    variable_types = models.JSONField(default=dict, blank=True)
    # The last processed sequenceId, and the request digest and response kept so that a retry of that
    # request is answered again without being processed twice.
    last_sequence_id = models.BigIntegerField(null=True, blank=True)
    last_request_digest = models.CharField(max_length=64, blank=True)
    last_response = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = "Einstein session"

    def __str__(self):
        return f"Einstein session {self.conversation_id}"
