"""Carry the Einstein state of existing conversations over: from the columns on Conversation and from
`Conversation.meta["_runtime"]` (which leaves meta) into EinsteinSession. Reversible, so that a
rollback past sessions_app 0008 finds the state where the previous release reads it.

A row per conversation that has any Einstein state: every Einstein-begun one, and one of another
protocol continued through Einstein (it has a sequenceId). In batches, so that memory stays flat.
"""

from django.db import migrations

RUNTIME_KEY = "_runtime"
BATCH = 500


def _has_state(conversation) -> bool:
    return (
        conversation.origin == "einstein"
        or conversation.last_sequence_id is not None
        or bool(conversation.last_request_digest)
        or RUNTIME_KEY in (conversation.meta or {})
    )


def forward(apps, schema_editor):
    Conversation = apps.get_model("sessions_app", "Conversation")
    EinsteinSession = apps.get_model("einstein", "EinsteinSession")
    last = None
    while True:
        page = Conversation.objects.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        batch = list(page[:BATCH])
        if not batch:
            return
        last = batch[-1].pk
        sessions, stripped = [], []
        for conversation in batch:
            if not _has_state(conversation):
                continue
            meta = dict(conversation.meta or {})
            runtime = meta.pop(RUNTIME_KEY, None)
            runtime = runtime if isinstance(runtime, dict) else {}
            sessions.append(
                EinsteinSession(
                    conversation_id=conversation.pk,
                    external_session_key=conversation.external_session_key or "",
                    force_config=runtime.get("forceConfig") or {},
                    referrers=runtime.get("referrers") or [],
                    rich_content=runtime.get("richContent") or {},
                    variable_types=runtime.get("variableTypes") or {},
                    last_sequence_id=conversation.last_sequence_id,
                    last_request_digest=conversation.last_request_digest or "",
                    last_response=conversation.last_response,
                )
            )
            if meta != (conversation.meta or {}):
                conversation.meta = meta
                stripped.append(conversation)
        EinsteinSession.objects.bulk_create(sessions, ignore_conflicts=True)
        Conversation.objects.bulk_update(stripped, ["meta"])


def backward(apps, schema_editor):
    Conversation = apps.get_model("sessions_app", "Conversation")
    EinsteinSession = apps.get_model("einstein", "EinsteinSession")
    sessions = EinsteinSession.objects.select_related("conversation").order_by("pk")
    last = None
    while True:
        page = sessions.filter(pk__gt=last) if last is not None else sessions
        batch = list(page[:BATCH])
        if not batch:
            return
        last = batch[-1].pk
        conversations = []
        for session in batch:
            conversation = session.conversation
            runtime = {
                "forceConfig": session.force_config,
                "referrers": session.referrers,
                "richContent": session.rich_content,
                "variableTypes": session.variable_types,
            }
            conversation.meta = {**(conversation.meta or {}), RUNTIME_KEY: runtime}
            conversation.external_session_key = session.external_session_key
            conversation.last_sequence_id = session.last_sequence_id
            conversation.last_request_digest = session.last_request_digest
            conversation.last_response = session.last_response
            conversations.append(conversation)
        Conversation.objects.bulk_update(
            conversations,
            ["meta", "external_session_key", "last_sequence_id", "last_request_digest", "last_response"],
        )
        EinsteinSession.objects.filter(pk__in=[session.pk for session in batch]).delete()


class Migration(migrations.Migration):
    dependencies = [("einstein", "0002_conversation_cascade_in_database"), ("sessions_app", "0007_conversation_turn_queue")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
