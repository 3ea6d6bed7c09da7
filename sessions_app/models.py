"""What happens at run time: credentials, contacts, conversations, messages and session tokens."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import now


class OwnerProfile(models.Model):
    """Per-owner identity that wire protocols need: the org id Einstein clients send as X-Org-Id."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="botportal_profile")
    org_id = models.CharField(max_length=18, unique=True)
    # When the owner was deleted: their contacts and conversations are gone for every read at once, and
    # the owner's rows (the user last) are removed in batches afterwards.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self):
        return f"{self.owner} ({self.org_id})"


class ApiKey(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=128, blank=True)
    prefix = models.CharField(max_length=16, help_text="The first characters of the secret, for recognising it.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self):
        return f"{self.name or 'API key'} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# What deletion hides, one rule for every read (API, Einstein, widget, admin): a deleted bot's
# conversations, and a deleted owner's contacts and conversations (a deleted contact is its own row).
# Each is a subquery over a handful of rows (a partial index keeps it so), so a read costs the same.


def _deleted_bots():
    from bots.models import Bot

    return Bot.all_objects.filter(deleted_at__isnull=False).values("pk")


def _deleted_owners():
    return OwnerProfile.objects.filter(deleted_at__isnull=False).values("owner_id")


class _LiveManager(models.Manager):
    """A manager whose reads see live rows only. Its writes of new rows skip that filter: an INSERT reads
    nothing, and building the filter's subqueries for it cost more than the INSERT itself."""

    def _unfiltered(self):
        return super().get_queryset()

    def create(self, **kwargs):
        return self._unfiltered().create(**kwargs)

    def bulk_create(self, objs, *args, **kwargs):
        return self._unfiltered().bulk_create(objs, *args, **kwargs)


class LiveContactManager(_LiveManager):
    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True).exclude(owner_id__in=_deleted_owners())


class LiveConversationManager(_LiveManager):
    def get_queryset(self):
        return super().get_queryset().exclude(Q(bot_id__in=_deleted_bots()) | Q(owner_id__in=_deleted_owners()))


class LiveConversationChildManager(_LiveManager):
    """Messages and sessions of conversations no read may see are not seen either."""

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .exclude(Q(conversation__bot_id__in=_deleted_bots()) | Q(conversation__owner_id__in=_deleted_owners()))
        )
class ContactSource(models.TextChoices):
    # The owner created it (API, admin, or a session opened with the owner's API secret): visitors'
    # claims never change it nor attach to it.
    OWNER = "owner", "Owner"
    # Made from what anonymous visitors said about themselves when opening sessions: nobody has
    # checked it. Claims with the same email (or phone) share one such contact.
    VISITOR = "visitor", "Visitor claim (unverified)"


class Contact(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contacts")
    fingerprint = models.CharField(max_length=256)
    name = models.CharField(max_length=256, blank=True)
    # Stored normalised: email lower-cased, phone in E.164.
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    nick = models.CharField(max_length=128, blank=True)
    description = models.TextField(blank=True)
    preferences = models.TextField(blank=True)
    meta = models.JSONField(default=dict, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(
        max_length=16, choices=ContactSource.choices, default=ContactSource.OWNER, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the contact was deleted; its conversations are detached in batches, then the row goes.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    all_objects = models.Manager()
    objects = LiveContactManager()

    class Meta:
        default_manager_name = "objects"
        base_manager_name = "all_objects"
        # An email or phone is unique among the owner's own contacts, and among visitors' claims: a claim
        # may name the same email as an owner's contact, and is then a separate, unverified contact.
        constraints = [
            models.UniqueConstraint(fields=["owner", "fingerprint"], name="contact_unique_fingerprint_per_owner"),
            models.UniqueConstraint(
                fields=["owner", "source", "email"], condition=~Q(email=""), name="contact_unique_email_per_source"
            ),
            models.UniqueConstraint(
                fields=["owner", "source", "phone"], condition=~Q(phone=""), name="contact_unique_phone_per_source"
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["deleted_at"], condition=Q(deleted_at__isnull=False), name="contact_deleted"),
        ]

    def __str__(self):
        return self.name or self.email or self.phone or self.fingerprint


class Origin(models.TextChoices):
    CHATBOTKIT = "chatbotkit", "ChatBotKit v1"
    EINSTEIN = "einstein", "Einstein Bots v5"
    ADMIN = "admin", "Admin"
    DIRECTLINE = "directline", "Direct Line"


class EndReason(models.TextChoices):
    """The Einstein runtime's session end reasons, used for every protocol."""

    USER_REQUEST = "UserRequest"
    TRANSFER = "Transfer"
    EXPIRATION = "Expiration"
    ERROR = "Error"
    OTHER = "Other"


def idle_cutoff(at=None):
    """The idle rule, once: a conversation whose last activity is before this instant is idle *past* the
    idle timeout (IDLE_TIMEOUT seconds; exactly the timeout is not yet past it), and so over, whether or
    not the lifecycle task has ended it yet. Conversation.is_idle and Conversation.objects.idle use it."""
    return (at or now()) - timedelta(seconds=settings.BOTPORTAL["IDLE_TIMEOUT"])


class ConversationQuerySet(models.QuerySet):
    def idle(self, *, now=None):
        """Open conversations idle past the idle timeout (see idle_cutoff)."""
        return self.filter(ended_at__isnull=True, last_activity_at__lt=idle_cutoff(now))


class Conversation(models.Model):
    # Also the Einstein sessionId, which the protocol requires to be a UUID.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    bot = models.ForeignKey("bots.Bot", null=True, blank=True, on_delete=models.CASCADE, related_name="conversations")
    # The bot version the conversation runs, and the knowledge it was bound to when it began.
    bot_version = models.PositiveIntegerField(null=True, blank=True)
    dataset = models.ForeignKey("bots.Dataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    skillset = models.ForeignKey("bots.Skillset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    name = models.CharField(max_length=256, blank=True)
    description = models.TextField(blank=True)
    # The owner's own: a protocol keeps its state in its own model (the Einstein runtime's:
    # sessions_app.protocols.einstein.models; Direct Line's: sessions_app.protocols.directline.models),
    # never here.
    meta = models.JSONField(default=dict, blank=True)
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.CHATBOTKIT)
    variables = models.JSONField(default=dict, blank=True)
    # Engine state between turns (pending slot filling, offered choices...).
    engine_state = models.JSONField(default=dict, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(default=now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(default=now, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    # Turns run one at a time, in arrival order, without a lock held while one waits on the network:
    # a turn that finds another in progress takes the next ticket and waits until `turn_served` reaches
    # the ticket before it; `turn_since` is when the turn now due was claimed (or became due), so that
    # a turn whose process died is released after BOTPORTAL["TURN_TIMEOUT"] seconds.
    # Defaults in the database too, so that a row written without these columns (a process still on the
    # previous release during a deploy, bulk SQL) starts with no turn queued.
    turn_ticket = models.BigIntegerField(default=0, db_default=0, editable=False)
    turn_served = models.BigIntegerField(default=0, db_default=0, editable=False)
    turn_since = models.DateTimeField(null=True, blank=True, editable=False)

    all_objects = models.Manager.from_queryset(ConversationQuerySet)()
    objects = LiveConversationManager.from_queryset(ConversationQuerySet)()

    class Meta:
        default_manager_name = "objects"
        base_manager_name = "all_objects"
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["bot", "-created_at"]),
            models.Index(fields=["contact", "-created_at"]),
        ]

    def __str__(self):
        return self.name or str(self.id)

    @property
    def is_ended(self) -> bool:
        return self.ended_at is not None

    def is_idle(self, at=None) -> bool:
        """Open and idle past the idle timeout: ConversationQuerySet.idle for one row in hand."""
        return self.ended_at is None and self.last_activity_at < idle_cutoff(at)


class MessageType(models.TextChoices):
    USER = "user"
    BOT = "bot"
    CONTEXT = "context"
    INSTRUCTION = "instruction"
    BACKSTORY = "backstory"
    ACTIVITY = "activity"


class Message(models.Model):
    # Integer keys give messages the order the server accepted them in.
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    type = models.CharField(max_length=16, choices=MessageType.choices)
    text = models.TextField(blank=True)
    name = models.CharField(max_length=256, blank=True)
    description = models.TextField(blank=True)
    # Detected intents and entities, rich content (choices, escalation targets), protocol details.
    meta = models.JSONField(default=dict, blank=True)
    sequence_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    all_objects = models.Manager()
    objects = LiveConversationChildManager()

    class Meta:
        default_manager_name = "objects"
        base_manager_name = "all_objects"
        indexes = [models.Index(fields=["conversation", "id"])]

    def __str__(self):
        return f"{self.type}: {self.text[:60]}"


class SessionStatus(models.TextChoices):
    """What a session token is now. Revoked wins over expired: a revoked token stays revoked."""

    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class BotSessionQuerySet(models.QuerySet):
    """A session's status as the database computes it; BotSession.status is the same rule for one row."""

    def live(self, *, at=None):
        """Tokens that still work: neither revoked nor past their expiry."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=at or now())

    def past_expiry(self, *, at=None):
        """Tokens whose expiry has come (a token stops working the instant expires_at is reached),
        revoked or not: what the lifecycle marks expired."""
        return self.filter(expires_at__lte=at or now())

    def expired(self, *, at=None):
        return self.not_revoked().past_expiry(at=at)

    def revoked(self):
        return self.filter(revoked_at__isnull=False)

    def not_revoked(self):
        """Live or expired: a token that may still be revoked."""
        return self.filter(revoked_at__isnull=True)

    def with_status(self, status: str, *, at=None):
        if status == SessionStatus.ACTIVE:
            return self.live(at=at)
        if status == SessionStatus.EXPIRED:
            return self.expired(at=at)
        if status == SessionStatus.REVOKED:
            return self.revoked()
        raise ValueError(f"unknown session status {status!r}")

    def revoke(self, *, at=None) -> int:
        """Revoke the tokens not yet revoked (one UPDATE; a revoked token keeps when it was revoked)."""
        return self.not_revoked().update(revoked_at=at or now())


class BotSession(models.Model):
    """A time-limited token that may converse in exactly one conversation."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="sessions")
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    duration_seconds = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=now)
    # When the first token of this line of refreshes was issued: refreshes never go beyond a limit from it.
    issued_first_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField(db_index=True)
    # Set by the lifecycle task once expiry has passed; request-time checks never depend on it.
    expired_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    all_objects = models.Manager.from_queryset(BotSessionQuerySet)()
    objects = LiveConversationChildManager.from_queryset(BotSessionQuerySet)()

    class Meta:
        default_manager_name = "objects"
        base_manager_name = "all_objects"
        verbose_name = "bot session"
        indexes = [models.Index(fields=["conversation", "-created_at"])]

    def __str__(self):
        return f"session {self.pk} of {self.conversation_id}"

    def status(self, at=None) -> SessionStatus:
        """BotSessionQuerySet.with_status for one row in hand."""
        if self.revoked_at is not None:
            return SessionStatus.REVOKED
        if self.expires_at <= (at or now()):
            return SessionStatus.EXPIRED
        return SessionStatus.ACTIVE
