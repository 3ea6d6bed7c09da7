"""Full-text search of dataset records on PostgreSQL: a stored tsvector column and its GIN index.

The column is maintained by PostgreSQL itself (a generated column), so Django never writes it and
the model does not declare it. On other databases this migration does nothing.
"""

from django.db import migrations

FORWARD = [
    "ALTER TABLE bots_datasetrecord ADD COLUMN IF NOT EXISTS search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, coalesce(text, ''))) STORED",
    "CREATE INDEX IF NOT EXISTS bots_datasetrecord_search_gin ON bots_datasetrecord USING gin (search_vector)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS bots_datasetrecord_search_gin",
    "ALTER TABLE bots_datasetrecord DROP COLUMN IF EXISTS search_vector",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("bots", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
