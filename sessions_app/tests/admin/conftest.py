from types import SimpleNamespace

import pytest

from sessions_app.tests.admin.world import owned_objects


@pytest.fixture
def world(owner, other_owner):
    return SimpleNamespace(mine=owned_objects(owner, "Alpha"), theirs=owned_objects(other_owner, "Beta"))
