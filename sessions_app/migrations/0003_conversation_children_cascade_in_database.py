"""Let PostgreSQL delete a conversation's messages and sessions itself (ON DELETE CASCADE).

Django creates its foreign keys without a database action, DEFERRABLE INITIALLY DEFERRED, and deletes
children from Python. Batched pruning deletes conversations with plain SQL and relies on the database
to cascade, which is several times faster (see docs/performance.md). Django's ORM keeps cascading in
Python as before, so nothing else changes. Only the constraint's action changes: it stays deferrable for
inserts. On SQLite this migration does nothing (the lifecycle service deletes the children first there).

A later migration that alters these two fields would recreate the constraints without the cascade;
such a migration must run this one's SQL again.
"""

from django.db import migrations

# (child table, column) -> the parent they reference.
CHILDREN = [("sessions_app_message", "conversation_id"), ("sessions_app_botsession", "conversation_id")]
PARENT = "sessions_app_conversation"


def _constraint_names(cursor, table):
    cursor.execute(
        """
        SELECT c.conname FROM pg_constraint c
        WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND c.confrelid = %s::regclass
        """,
        [table, PARENT],
    )
    return [row[0] for row in cursor.fetchall()]


def _set_action(schema_editor, action):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        for table, column in CHILDREN:
            for name in _constraint_names(cursor, table):
                # NOT VALID then VALIDATE: existing rows already satisfy the old constraint, and validating
                # separately takes only a light lock on a large table.
                cursor.execute(
                    f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}, "
                    f"ADD CONSTRAINT {quote(name)} FOREIGN KEY ({quote(column)}) REFERENCES {quote(PARENT)} (id) "
                    f"ON DELETE {action} DEFERRABLE INITIALLY DEFERRED NOT VALID"
                )
                cursor.execute(f"ALTER TABLE {quote(table)} VALIDATE CONSTRAINT {quote(name)}")


def cascade(apps, schema_editor):
    _set_action(schema_editor, "CASCADE")


def no_action(apps, schema_editor):
    _set_action(schema_editor, "NO ACTION")


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0002_groups")]

    operations = [migrations.RunPython(cascade, no_action, elidable=False)]
