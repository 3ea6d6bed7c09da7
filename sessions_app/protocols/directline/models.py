"""Direct Line's own state: the secrets a bot's site trades for tokens (tokens are BotSessions), and
what it keeps of each conversation it started."""

from django.db import models
from django.utils import timezone


class DirectLineSecret(models.Model):
    """A bot's Direct Line secret: kept by the site's back end, stored only as a digest, revocable."""

    bot = models.ForeignKey("bots.Bot", on_delete=models.CASCADE, related_name="directline_secrets")
    name = models.CharField(max_length=128, blank=True)
    prefix = models.CharField(max_length=16, editable=False, help_text="The first characters of the secret.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "Direct Line secret"
        indexes = [models.Index(fields=["bot", "-created_at"])]

    def __str__(self):
        return f"{self.name or 'Direct Line secret'} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# The conversation's reverse one-to-one to its Direct Line state: reads that need it load it in the
# same statement.
STATE = "directline"


class DirectLineConversation(models.Model):
    """What Direct Line keeps of a conversation it started: the user its token was generated for and
    the token's trustedOrigins.

    Its own table, so that nothing another protocol writes (the owner's ChatBotKit `conversation/update`
    replaces `Conversation.meta` whole) can reach it, and so that a conversation of another protocol
    carries none of it: one begun elsewhere and continued over Direct Line (its /api/v1 session token)
    has no row, and renders its user as `user-<conversation id>` with no trusted origins.
    """

    conversation = models.OneToOneField(
        "sessions_app.Conversation", primary_key=True, on_delete=models.CASCADE, related_name=STATE
    )
    # The `user` of tokens/generate (or of a start with the secret): the account its activities are from.
    user_id = models.CharField(max_length=256, blank=True)
    user_name = models.CharField(max_length=256, blank=True)
    # The token's trustedOrigins: browsers' origins allowed for this conversation besides the bot's own.
    trusted_origins = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "Direct Line conversation"

    def __str__(self):
        return f"Direct Line conversation {self.conversation_id}"
