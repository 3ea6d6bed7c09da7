"""The Einstein runtime state in a table of its own, deleted by PostgreSQL with its conversation.

As for a conversation's messages and sessions (sessions_app 0003), the foreign key cascades in the
database: the lifecycle's batched deletes remove conversations with plain SQL and leave the children
to PostgreSQL. (SQLite: the lifecycle deletes the rows first; this step does nothing there.) A later
migration that alters `conversation` would recreate the constraint without the cascade and must run
this SQL again.
"""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "einstein_einsteinsession"
PARENT = "sessions_app_conversation"


def _set_action(schema_editor, action):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass"
            " AND confrelid = %s::regclass",
            [TABLE, PARENT],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(
                f"ALTER TABLE {quote(TABLE)} DROP CONSTRAINT {quote(name)}, "
                f"ADD CONSTRAINT {quote(name)} FOREIGN KEY (conversation_id) REFERENCES {quote(PARENT)} (id) "
                f"ON DELETE {action} DEFERRABLE INITIALLY DEFERRED"
            )


def cascade(apps, schema_editor):
    _set_action(schema_editor, "CASCADE")


def no_action(apps, schema_editor):
    _set_action(schema_editor, "NO ACTION")


class Migration(migrations.Migration):
    initial = True

    dependencies = [("sessions_app", "0007_conversation_turn_queue")]

    operations = [
        migrations.CreateModel(
            name="EinsteinSession",
            fields=[
                (
                    "conversation",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="einstein",
                        serialize=False,
                        to="sessions_app.conversation",
                    ),
                ),
                ("external_session_key", models.CharField(blank=True, max_length=256)),
                ("force_config", models.JSONField(blank=True, default=dict)),
                ("referrers", models.JSONField(blank=True, default=list)),
                ("rich_content", models.JSONField(blank=True, default=dict)),
                ("variable_types", models.JSONField(blank=True, default=dict)),
                ("last_sequence_id", models.BigIntegerField(blank=True, null=True)),
                ("last_request_digest", models.CharField(blank=True, max_length=64)),
                ("last_response", models.JSONField(blank=True, null=True)),
            ],
            options={"verbose_name": "Einstein session"},
        ),
        migrations.RunPython(cascade, no_action, elidable=False),
    ]
