"""What the tests of a data migration share: migrating the test database there and back. Each module names
BEFORE, the migration targets just before the one it tests."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets):
    """Migrate to `targets` ((app, None) unapplies the app); the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.fixture
def before(request):
    """The models at the module's BEFORE; the schema is put back to the latest whatever the test does."""
    try:
        yield migrate(request.module.BEFORE)
    finally:
        migrate(latest())
