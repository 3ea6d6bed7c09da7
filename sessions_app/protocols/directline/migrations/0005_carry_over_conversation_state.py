"""Carry the Direct Line state of existing conversations over from `Conversation.meta["_directline"]`
({"user": {"id", "name"}, "trustedOrigins": [...]}, which leaves meta) into DirectLineConversation.
Reversible, so that a rollback past 0003 finds the state where the previous release reads it.

A row per conversation whose meta has the key (every one Direct Line started); in batches, so that
memory stays flat.
"""

from django.db import migrations

META_KEY = "_directline"
BATCH = 500


def _text(value) -> str:
    return value[:256] if isinstance(value, str) else ""


def forward(apps, schema_editor):
    Conversation = apps.get_model("sessions_app", "Conversation")
    DirectLineConversation = apps.get_model("directline", "DirectLineConversation")
    carried = Conversation.objects.filter(meta__has_key=META_KEY).order_by("pk")
    last = None
    while True:
        page = carried.filter(pk__gt=last) if last is not None else carried
        batch = list(page[:BATCH])
        if not batch:
            return
        last = batch[-1].pk
        states = []
        for conversation in batch:
            meta = dict(conversation.meta)
            details = meta.pop(META_KEY)
            details = details if isinstance(details, dict) else {}
            user = details.get("user") if isinstance(details.get("user"), dict) else {}
            trusted = details.get("trustedOrigins")
            states.append(
                DirectLineConversation(
                    conversation_id=conversation.pk,
                    user_id=_text(user.get("id")),
                    user_name=_text(user.get("name")),
                    trusted_origins=[o for o in trusted if isinstance(o, str)] if isinstance(trusted, list) else [],
                    created_at=conversation.created_at,
                )
            )
            conversation.meta = meta
        DirectLineConversation.objects.bulk_create(states, ignore_conflicts=True)
        Conversation.objects.bulk_update(batch, ["meta"])


def backward(apps, schema_editor):
    Conversation = apps.get_model("sessions_app", "Conversation")
    DirectLineConversation = apps.get_model("directline", "DirectLineConversation")
    states = DirectLineConversation.objects.select_related("conversation").order_by("pk")
    last = None
    while True:
        page = states.filter(pk__gt=last) if last is not None else states
        batch = list(page[:BATCH])
        if not batch:
            return
        last = batch[-1].pk
        conversations = []
        for state in batch:
            details = {"trustedOrigins": list(state.trusted_origins or [])}
            user = {key: value for key, value in (("id", state.user_id), ("name", state.user_name)) if value}
            if user:
                details["user"] = user
            conversation = state.conversation
            conversation.meta = {**(conversation.meta or {}), META_KEY: details}
            conversations.append(conversation)
        Conversation.objects.bulk_update(conversations, ["meta"])
        DirectLineConversation.objects.filter(pk__in=[state.pk for state in batch]).delete()


class Migration(migrations.Migration):
    dependencies = [("directline", "0004_conversation_cascade_in_database")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
