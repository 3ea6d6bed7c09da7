"""Direct Line's own state: the secrets a bot's site trades for tokens. Tokens are BotSessions."""

from django.db import models


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
