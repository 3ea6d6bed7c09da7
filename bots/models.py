"""What a bot *is*: its definition, its knowledge (datasets) and its actions (skillsets)."""

import uuid

from django.conf import settings
from django.db import models

from botportal import validation


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    PROTECTED = "protected", "Protected"
    PUBLIC = "public", "Public"


class VariableType(models.TextChoices):
    """The nine variable kinds of the Einstein Bots runtime."""

    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "dateTime"
    MONEY = "money"
    NUMBER = "number"
    TEXT = "text"
    OBJECT = "object"
    REF = "ref"
    LIST = "list"


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Dataset(TimestampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=256, blank=True)
    description = models.TextField(blank=True)
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self):
        return self.name or str(self.id)


class DatasetRecord(TimestampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="records")
    text = models.TextField()
    source = models.CharField(max_length=2048, blank=True)
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["dataset", "-created_at"])]

    def __str__(self):
        return self.text[:60]


class Skillset(TimestampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skillsets")
    name = models.CharField(max_length=256, blank=True)
    description = models.TextField(blank=True)
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self):
        return self.name or str(self.id)


class Ability(TimestampedModel):
    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Call an HTTPS webhook"
        ESCALATE = "escalate", "Escalate to a human"
        END = "end", "End the conversation"
        SET_VARIABLE = "set_variable", "Set a variable"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    skillset = models.ForeignKey(Skillset, on_delete=models.CASCADE, related_name="abilities")
    name = models.CharField(max_length=256, blank=True)
    description = models.TextField(blank=True)
    instruction = models.TextField(blank=True)
    kind = models.CharField(max_length=32, choices=Kind.choices, blank=True)
    # Kind-specific settings: {"url": ...} for a webhook, {"targets": [...]} to escalate,
    # {"name": ..., "value": ...} to set a variable.
    config = models.JSONField(default=dict, blank=True)
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "abilities"
        indexes = [models.Index(fields=["skillset", "-created_at"])]

    def __str__(self):
        return self.name or str(self.id)


class BotQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The bots `user` may open sessions with: public bots, and their own (None: anonymous, public only).
        Bot.is_visible_to is the same rule for one bot in hand."""
        public = models.Q(visibility=Visibility.PUBLIC)
        if user is None or getattr(user, "pk", None) is None:
            return self.filter(public)
        return self.filter(public | models.Q(owner_id=user.pk))


class LiveBotManager(models.Manager):
    """Bots that are not deleted. A deleted bot is gone for every read at once; its rows are removed in
    batches afterwards (sessions_app.services.lifecycle.deleted_purge), then the bot itself."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Bot(TimestampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bots")
    name = models.CharField(max_length=256, blank=True)
    description = models.TextField(blank=True)
    backstory = models.TextField(blank=True)
    model = models.CharField(max_length=256, blank=True)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE)
    privacy = models.BooleanField(default=False)
    moderation = models.BooleanField(default=False)
    meta = models.JSONField(default=dict, blank=True)
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="bots")
    skillset = models.ForeignKey(Skillset, null=True, blank=True, on_delete=models.SET_NULL, related_name="bots")
    # Bumped whenever the definition changes; sessions keep the version they began with.
    version = models.PositiveIntegerField(default=1)
    welcome_messages = models.JSONField(default=list, blank=True)
    fallback_message = models.TextField(default="Sorry, I didn't understand that.", blank=True)
    confidence_threshold = models.FloatField(default=0.5)
    # Origins allowed to frame the widget and call the session routes from a browser.
    allowed_origins = models.JSONField(default=list, blank=True)
    # Days to keep conversations after their last activity; null falls back to the global setting.
    conversation_retention_days = models.PositiveIntegerField(
        null=True, blank=True, validators=validation.RETENTION_DAYS_VALIDATORS
    )
    # When the bot was deleted: from then on no read sees it (nor its conversations) while its rows go.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Every row, deleted ones included: for the purge, and nothing else.
    all_objects = models.Manager.from_queryset(BotQuerySet)()
    objects = LiveBotManager.from_queryset(BotQuerySet)()

    class Meta:
        # Related-object access (conversation.bot) and Django's delete collector see every row.
        default_manager_name = "objects"
        base_manager_name = "all_objects"
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["deleted_at"], condition=models.Q(deleted_at__isnull=False), name="bot_deleted"),
        ]

    def __str__(self):
        return self.name or str(self.id)

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC

    def is_visible_to(self, user) -> bool:
        """BotQuerySet.visible_to for one bot in hand."""
        return self.is_public or (user is not None and user.pk is not None and user.pk == self.owner_id)


class EntityType(TimestampedModel):
    """A bot's own entity type: a list of values, each with synonyms."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="entity_types")
    name = models.CharField(max_length=128)
    # [{"value": "small", "synonyms": ["little", "tiny"]}, ...]
    values = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bot", "name"], name="entity_type_unique_name_per_bot")]

    def __str__(self):
        return self.name


class Variable(TimestampedModel):
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="variables")
    name = models.CharField(max_length=128)
    type = models.CharField(max_length=16, choices=VariableType.choices, default=VariableType.TEXT)
    default = models.JSONField(null=True, blank=True)
    # A built-in entity (EMAIL, PHONE, MONEY, NUMBER, DATE, URL) or the name of one of the bot's entity types.
    entity_type = models.CharField(max_length=128, blank=True)
    prompt = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bot", "name"], name="variable_unique_name_per_bot")]

    def __str__(self):
        return self.name


class Intent(TimestampedModel):
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="intents")
    label = models.CharField(max_length=128)
    # Messages answered when the intent is recognised: [{"type": "text", "text": ...},
    # {"type": "choices", "text": ..., "choices": [{"label": ..., "intent": ...}]},
    # {"type": "escalate", "targets": [...]}, {"type": "end"}]
    responses = models.JSONField(default=list, blank=True)
    # Variables that must be filled before answering, asked for in order with their prompts.
    required_variables = models.ManyToManyField(Variable, blank=True, related_name="required_by")
    ability = models.ForeignKey(Ability, null=True, blank=True, on_delete=models.SET_NULL, related_name="intents")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["bot", "label"], name="intent_unique_label_per_bot")]

    def __str__(self):
        return self.label


class Utterance(models.Model):
    intent = models.ForeignKey(Intent, on_delete=models.CASCADE, related_name="utterances")
    text = models.CharField(max_length=1000)

    def __str__(self):
        return self.text


class BotIntentModel(models.Model):
    """The intent model of one version of a bot, built once (bots.services.intent_models) and read by
    every process: numpy arrays in `data` (bots.engine.classifier.IntentModel.to_bytes), never a pickle."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        BUILDING = "building"
        READY = "ready"
        FAILED = "failed"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="intent_models")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    format = models.PositiveSmallIntegerField(default=0)
    data = models.BinaryField(null=True, blank=True)
    # SHA-256 of the training utterances: a version with the same ones reuses the model.
    digest = models.CharField(max_length=64, blank=True)
    utterance_count = models.PositiveIntegerField(default=0)
    build_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bot", "version"], name="bot_intent_model_unique_version"),
        ]

    def __str__(self):
        return f"{self.bot_id} v{self.version} ({self.status})"
