"""Browser tests of the admin and the widget (the browser itself: tests/conftest.py's `browser`)."""

import importlib

import pytest

PASSWORD = "correct horse battery staple"

@pytest.fixture
def new_page(browser, live_server):
    contexts = []

    def make():
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def log_in(page, username, password=PASSWORD):
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


@pytest.fixture(autouse=True)
def roles(transactional_db):
    """The two role groups with their permissions, as the data migration creates them.

    A live-server test runs on a flushed database (transactional_db), which loses the rows data
    migrations made; the permissions are recreated by the flush, the groups are not.
    """
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    from sessions_app.services.owners import BOT_OWNER_GROUP, CONVERSATION_REVIEWER_GROUP

    groups_migration = importlib.import_module("sessions_app.migrations.0002_groups")
    ContentType.objects.clear_cache()
    for name, models_by_app, actions in (
        (BOT_OWNER_GROUP, groups_migration.BOT_OWNER_PERMISSIONS, ["add", "change", "delete", "view"]),
        (CONVERSATION_REVIEWER_GROUP, groups_migration.REVIEWER_VIEWS, ["view"]),
    ):
        codenames = [f"{action}_{model}" for models in models_by_app.values() for model in models for action in actions]
        permissions = Permission.objects.filter(content_type__app_label__in=list(models_by_app), codename__in=codenames)
        assert permissions.count() == len(codenames)
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)
