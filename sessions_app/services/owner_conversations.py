"""Owner writes for conversations made through the API (not through a bot session)."""

from django.db import transaction

from botportal import validation
from botportal.errors import Conflict, InvalidInput
from bots.models import Bot
from sessions_app.models import Contact, Conversation, MessageType, Origin
from sessions_app.services.conversations import conversation_messages_add, conversation_open

CONVERSATION_FIELDS = frozenset({"name", "description", "meta", "bot_id", "contact_id"})


def _links(*, owner, bot_id, contact_id) -> tuple[Bot | None, Contact | None]:
    problems, bot, contact = {}, None, None
    if bot_id:
        bot = Bot.objects.filter(owner=owner, pk=bot_id).first()
        if bot is None:
            problems["botId"] = "is not one of your bots"
    if contact_id:
        contact = Contact.objects.filter(owner=owner, pk=contact_id).first()
        if contact is None:
            problems["contactId"] = "is not one of your contacts"
    if problems:
        raise InvalidInput(fields=problems)
    return bot, contact


def conversation_create(*, owner, fields: dict, messages=None) -> Conversation:
    unknown = set(fields) - CONVERSATION_FIELDS
    if unknown:
        raise ValueError(f"unexpected fields: {sorted(unknown)}")
    meta, checked_messages = validation.collect(
        lambda: validation.meta(fields.get("meta")),
        # An owner may store any message type (bot, context, backstory...), unlike a session's opener.
        lambda: validation.messages(messages, allowed_types=MessageType.values),
    )
    bot, contact = _links(owner=owner, bot_id=fields.get("bot_id"), contact_id=fields.get("contact_id"))
    with transaction.atomic():
        conversation = conversation_open(
            owner=owner,
            bot=bot,
            contact=contact,
            origin=Origin.CHATBOTKIT,
            name=fields.get("name") or "",
            description=fields.get("description") or "",
            meta=meta,
        )
        conversation_messages_add(conversation=conversation, messages=checked_messages)
    return conversation


def conversation_update(*, conversation: Conversation, fields: dict) -> Conversation:
    unknown = set(fields) - CONVERSATION_FIELDS
    if unknown:
        raise ValueError(f"unexpected fields: {sorted(unknown)}")
    if "meta" in fields:
        # The client's meta replaces the client's meta: keys starting with "_" are botportal's, neither
        # the client's to write nor to lose. (A protocol's state is not in meta at all: the Einstein
        # runtime's is einstein.EinsteinSession, Direct Line's directline.DirectLineConversation, which
        # no update of the conversation touches.)
        fields = {**fields, "meta": validation.meta_replace(conversation.meta, validation.meta(fields["meta"]))}
    if "bot_id" in fields and fields["bot_id"] != conversation.bot_id:
        raise InvalidInput(fields={"botId": "a conversation's bot cannot be changed"})
    fields.pop("bot_id", None)
    if "contact_id" in fields:
        _, contact = _links(owner=conversation.owner_id, bot_id=None, contact_id=fields["contact_id"])
        fields["contact_id"] = contact.pk if contact else None
    changed = [name for name, value in fields.items() if getattr(conversation, name) != value]
    if changed:
        for name in changed:
            setattr(conversation, name, fields[name])
        conversation.save(update_fields=[*changed, "updated_at"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


def conversation_converse_check(*, conversation: Conversation) -> None:
    """A conversation an owner made without a bot keeps a transcript but has nobody to answer in it."""
    if conversation.bot_id is None:
        raise Conflict("This conversation has no bot to answer; create it with a botId to converse.")
