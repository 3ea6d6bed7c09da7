"""Let PostgreSQL delete a conversation's Direct Line state with its conversation (ON DELETE CASCADE).

As for a conversation's messages and sessions (sessions_app 0003) and its Einstein state (einstein
0002), the foreign key cascades in the database: the lifecycle's batched deletes remove conversations
with plain SQL and leave the children to PostgreSQL. (SQLite: the lifecycle deletes the rows first; this
step does nothing there.) A later migration that alters `conversation` would recreate the constraint
without the cascade and must run this SQL again. A migration of its own: Django adds a new table's
foreign keys as the migration that creates it ends, so 0003 cannot alter them.
"""

from django.db import migrations

TABLE = "directline_directlineconversation"
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
        names = [name for (name,) in cursor.fetchall()]
        if not names:
            raise RuntimeError(f"no foreign key from {TABLE} to {PARENT} to make cascade")
        for name in names:
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
    dependencies = [("directline", "0003_directline_conversation")]

    operations = [migrations.RunPython(cascade, no_action, elidable=False)]
