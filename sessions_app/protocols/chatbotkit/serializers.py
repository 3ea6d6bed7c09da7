"""Request and response shapes of the ChatBotKit v1 format.

Output serializers leave out keys whose value is undefined (null, an empty string or an empty
object), render ids as strings and times as epoch milliseconds. Input serializers check types;
the services check the rules.
"""

import json

from django.utils.functional import lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from botportal import validation
from botportal.api.base import epoch_ms
from botportal.rows import JsonText
from bots.models import Ability, Bot, Dataset, DatasetRecord, Skillset, Visibility
from sessions_app.models import Contact, ContactSource, Conversation, MessageType

_UNDEFINED = (None, "", {})  # left out of every output (`Output`, `message_page_json`)


@extend_schema_field(OpenApiTypes.INT)
class EpochMsField(serializers.Field):
    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return epoch_ms(value)


class IdField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return None if value is None else str(value)


class MetaField(serializers.DictField):
    """A free-form object; its rules (no keys starting with '_') live in botportal.validation."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(child=serializers.JSONField(), **kwargs)


class PublicMetaField(serializers.DictField):
    """A stored meta object as a client may read it: without botportal's own keys (starting with '_')."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return super().to_representation(validation.meta_public(value))


class Output(serializers.Serializer):
    # What the OpenAPI document marks required: every other key is left out when undefined.
    always_present = ("id", "createdAt", "updatedAt")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return {key: value for key, value in data.items() if value not in _UNDEFINED}


class Common(Output):
    id = IdField()
    createdAt = EpochMsField(source="created_at")  # noqa: N815
    updatedAt = EpochMsField(source="updated_at")  # noqa: N815
    name = serializers.CharField(read_only=True, required=False)
    description = serializers.CharField(read_only=True, required=False)
    meta = PublicMetaField()


class ErrorOutput(serializers.Serializer):
    message = serializers.CharField()
    code = serializers.ChoiceField(
        choices=[
            "BAD_REQUEST",
            "NOT_AUTHENTICATED",
            "NOT_AUTHORIZED",
            "NOT_FOUND",
            "METHOD_NOT_ALLOWED",
            "CONFLICT",
            "TOO_MANY_REQUESTS",
            "INTERNAL_SERVER_ERROR",
        ]
    )


class IdOutput(serializers.Serializer):
    id = serializers.CharField()


# --- bots, datasets, skillsets ------------------------------------------------------------------
class BotOutput(Common):
    model = serializers.CharField(read_only=True)
    backstory = serializers.CharField(read_only=True)
    datasetId = IdField(source="dataset_id", required=False)  # noqa: N815
    skillsetId = IdField(source="skillset_id", required=False)  # noqa: N815
    visibility = serializers.ChoiceField(choices=Visibility.choices, read_only=True)
    privacy = serializers.BooleanField(read_only=True)
    moderation = serializers.BooleanField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    conversationRetentionDays = serializers.IntegerField(source="conversation_retention_days", read_only=True)  # noqa: N815
    # The origins whose pages may embed the bot (widget, Direct Line): exact origins, no wildcard.
    allowedOrigins = serializers.ListField(source="allowed_origins", child=serializers.CharField(), read_only=True)  # noqa: N815


class BotFetchOutput(BotOutput):
    orgId = serializers.CharField(read_only=True)  # noqa: N815


def _name_field(model):
    """A resource's name; its bound is the model field's (botportal.validation.max_length), not a copy."""
    return serializers.CharField(required=False, allow_blank=True, max_length=validation.max_length(model, "name"))


# The session duration rule in the schema's words, read from botportal.validation when the schema is made.
_session_duration_help = lazy(validation.session_duration_rule, str)


class CommonInput(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    meta = MetaField()


class BotInput(CommonInput):
    name = _name_field(Bot)
    model = serializers.CharField(required=False, allow_blank=True, max_length=validation.max_length(Bot, "model"))
    backstory = serializers.CharField(required=False, allow_blank=True)
    datasetId = serializers.UUIDField(source="dataset_id", required=False, allow_null=True)  # noqa: N815
    skillsetId = serializers.UUIDField(source="skillset_id", required=False, allow_null=True)  # noqa: N815
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    privacy = serializers.BooleanField(required=False)
    moderation = serializers.BooleanField(required=False)
    # Days to keep conversations after their last activity (null: the server's setting); the bounds
    # are botportal.validation's, checked by the service.
    conversationRetentionDays = serializers.IntegerField(  # noqa: N815
        source="conversation_retention_days", required=False, allow_null=True
    )
    # A list of exact origins (checked by the service, which names each bad one: allowedOrigins[i]).
    allowedOrigins = serializers.JSONField(source="allowed_origins", required=False)  # noqa: N815


class DatasetOutput(Common):
    pass


class DatasetInput(CommonInput):
    name = _name_field(Dataset)


class RecordOutput(Output):
    id = IdField()
    createdAt = EpochMsField(source="created_at")  # noqa: N815
    updatedAt = EpochMsField(source="updated_at")  # noqa: N815
    text = serializers.CharField(read_only=True)
    source = serializers.CharField(read_only=True, required=False)
    meta = serializers.DictField(read_only=True, required=False)


class RecordInput(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True)
    source = serializers.CharField(
        required=False, allow_blank=True, max_length=validation.max_length(DatasetRecord, "source")
    )
    meta = MetaField()


class RecordCreateInput(RecordInput):
    text = serializers.CharField()


class DatasetSearchInput(serializers.Serializer):
    search = serializers.CharField()


class SearchRecordOutput(RecordOutput):
    score = serializers.FloatField(read_only=True)


class DatasetSearchOutput(serializers.Serializer):
    id = serializers.CharField()
    records = SearchRecordOutput(many=True)


class SkillsetOutput(Common):
    pass


class SkillsetInput(CommonInput):
    name = _name_field(Skillset)


class AbilityOutput(Common):
    instruction = serializers.CharField(read_only=True)


class AbilityInput(CommonInput):
    name = _name_field(Ability)
    instruction = serializers.CharField(required=False, allow_blank=True)


# --- contacts and conversations ------------------------------------------------------------------
class ContactOutput(Common):
    fingerprint = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True, required=False)
    phone = serializers.CharField(read_only=True, required=False)
    nick = serializers.CharField(read_only=True, required=False)
    preferences = serializers.CharField(read_only=True, required=False)
    verifiedAt = EpochMsField(source="verified_at", required=False)  # noqa: N815
    source = serializers.ChoiceField(
        choices=ContactSource.choices,
        read_only=True,
        help_text="`owner`: made by the owner. `visitor`: what anonymous visitors claimed when opening "
        "sessions, unverified; it never changes or attaches to the owner's contacts.",
    )


class ContactInput(CommonInput):
    name = _name_field(Contact)
    fingerprint = serializers.CharField(required=False, max_length=validation.max_length(Contact, "fingerprint"))
    email = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=validation.EMAIL_MAX_LENGTH
    )
    phone = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=64)
    nick = serializers.CharField(required=False, allow_blank=True, max_length=validation.max_length(Contact, "nick"))
    preferences = serializers.CharField(required=False, allow_blank=True)


class ContactEnsureInput(ContactInput):
    fingerprint = serializers.CharField(max_length=validation.max_length(Contact, "fingerprint"))


class ConversationOutput(Common):
    botId = IdField(source="bot_id", required=False)  # noqa: N815
    contactId = IdField(source="contact_id", required=False)  # noqa: N815


class MessageInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=MessageType.choices)
    text = serializers.CharField()
    meta = MetaField()


class ConversationInput(CommonInput):
    name = _name_field(Conversation)
    botId = serializers.UUIDField(source="bot_id", required=False, allow_null=True)  # noqa: N815
    contactId = serializers.UUIDField(source="contact_id", required=False, allow_null=True)  # noqa: N815


class ConversationCreateInput(ConversationInput):
    messages = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True)


class MessageOutput(Output):
    # The list writes its pages as JSON text directly (`message_page_json`), with these keys: this class
    # documents them (a docstring here would be the OpenAPI document's description of a message).
    id = IdField()
    type = serializers.ChoiceField(choices=MessageType.choices, read_only=True)
    text = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True, required=False)
    description = serializers.CharField(read_only=True, required=False)
    meta = serializers.DictField(read_only=True, required=False)
    createdAt = EpochMsField(source="created_at")  # noqa: N815
    updatedAt = EpochMsField(source="updated_at")  # noqa: N815


_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_UNDEFINED_JSON = frozenset(map(_json, _UNDEFINED))  # for a meta given as JSON text


def message_page_json(page) -> bytes:
    """A page of `message_rows` (or of `message_row_page`) as `{items: [MessageOutput...], cursor?}`, the
    JSON DRF's renderer would write, written directly: transcripts are the most requested read, and
    rendering them field by field cost more than the rest of the request. A meta given as `JsonText`
    is written as the database holds it (the same JSON, its spacing and escapes aside)."""
    items = []
    for row in page.items:
        meta = row["meta"]
        meta = meta if isinstance(meta, JsonText) else _json(meta)
        item = f'{{"id":"{row["id"]}","type":{_json(row["type"])},"text":{_json(row["text"])}'
        if row["name"]:
            item += f',"name":{_json(row["name"])}'
        if row["description"]:
            item += f',"description":{_json(row["description"])}'
        if meta not in _UNDEFINED_JSON:
            item += f',"meta":{meta}'
        items.append(
            f'{item},"createdAt":{epoch_ms(row["created_at"]):d},"updatedAt":{epoch_ms(row["updated_at"]):d}}}'
        )
    cursor = "" if page.cursor is None else f',"cursor":{_json(page.cursor)}'
    # As DRF's JSONRenderer does, so that the text is a valid JavaScript literal too.
    text = f'{{"items":[{",".join(items)}]{cursor}}}'.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode()


# --- sessions ------------------------------------------------------------------------------------
class SessionContactInput(serializers.Serializer):
    name = serializers.CharField(required=False)
    email = serializers.CharField(required=False)
    phone = serializers.CharField(required=False)


class SessionMessageInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=[MessageType.USER])
    text = serializers.CharField()


class BotSessionCreateInput(serializers.Serializer):
    """Documentation only: the session service checks these fields (botportal.validation's rules) and
    names each invalid one."""

    durationInSeconds = serializers.IntegerField(  # noqa: N815
        required=False, allow_null=True, help_text=_session_duration_help()
    )
    contact = SessionContactInput(required=False)
    messages = SessionMessageInput(many=True, required=False)
    meta = MetaField()


class SessionMessageOutput(Output):
    id = IdField()
    type = serializers.CharField(read_only=True)
    text = serializers.CharField(read_only=True)


class BotSessionCreateOutput(serializers.Serializer):
    id = serializers.CharField(help_text="The bot's id.")
    conversationId = serializers.CharField()  # noqa: N815
    token = serializers.CharField()
    expiresAt = serializers.IntegerField(help_text="Epoch milliseconds.")  # noqa: N815
    messages = SessionMessageOutput(many=True)


class ConversationSessionCreateInput(serializers.Serializer):
    durationInSeconds = serializers.IntegerField(  # noqa: N815
        required=False, allow_null=True, help_text=_session_duration_help()
    )


class ConversationSessionOutput(serializers.Serializer):
    id = serializers.CharField(help_text="The conversation's id.")
    token = serializers.CharField()
    expiresAt = serializers.IntegerField(help_text="Epoch milliseconds.")  # noqa: N815


class RevokeOutput(serializers.Serializer):
    id = serializers.CharField(help_text="The conversation's id.")
    revoked = serializers.IntegerField(help_text="How many tokens were revoked.")


class CompleteInput(serializers.Serializer):
    text = serializers.CharField(required=False, help_text="Without text, answers the message waiting for a reply.")


class SendInput(serializers.Serializer):
    text = serializers.CharField()


class EmptyInput(serializers.Serializer):
    pass


class UsageOutput(serializers.Serializer):
    token = serializers.IntegerField()


class EndOutput(serializers.Serializer):
    reason = serializers.ChoiceField(choices=["stop", "length", "activity", "abort", "error", "iteration"])


class CompleteOutput(serializers.Serializer):
    id = serializers.CharField(help_text="The bot message's id.")
    text = serializers.CharField()
    usage = UsageOutput()
    end = EndOutput()


class EntityOutput(serializers.Serializer):
    type = serializers.CharField()
    text = serializers.CharField()
    value = serializers.JSONField()


class SendOutput(serializers.Serializer):
    id = serializers.CharField(help_text="The stored user message's id.")
    entities = EntityOutput(many=True)


class StreamEventOutput(serializers.Serializer):
    """One line of an `application/jsonl` answer."""

    type = serializers.ChoiceField(choices=["token", "message", "usage", "receiveResult", "result", "error"])
    data = serializers.JSONField(help_text="`{token}` for a token event; the plain answer's body for `result`.")
    createdAt = serializers.IntegerField(help_text="Epoch milliseconds.")  # noqa: N815


class ReceiveOutput(serializers.Serializer):
    id = serializers.CharField()
    text = serializers.CharField()
    usage = UsageOutput()


def page_output(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """`{items: [...], cursor?}` for a list of `item`."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "items": item(many=True, read_only=True),
            "cursor": serializers.CharField(required=False, help_text="The id of the last item; absent when empty."),
            "__module__": __name__,
        },
    )
