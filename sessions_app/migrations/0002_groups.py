"""The bot-owner and conversation-reviewer groups with their model permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

BOT_OWNER_PERMISSIONS = {
    "bots": ["bot", "intent", "utterance", "variable", "entitytype", "dataset", "datasetrecord", "skillset", "ability"],
    "sessions_app": ["contact", "conversation", "message", "botsession", "apikey"],
}
REVIEWER_VIEWS = {"bots": ["bot"], "sessions_app": ["contact", "conversation", "message"]}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def permissions(models_by_app, actions):
        codenames = [f"{action}_{model}" for models in models_by_app.values() for model in models for action in actions]
        return Permission.objects.filter(
            content_type__app_label__in=list(models_by_app), codename__in=codenames
        )

    owners, _ = Group.objects.get_or_create(name="Bot owners")
    owners.permissions.set(permissions(BOT_OWNER_PERMISSIONS, ["add", "change", "delete", "view"]))
    reviewers, _ = Group.objects.get_or_create(name="Conversation reviewers")
    reviewers.permissions.set(permissions(REVIEWER_VIEWS, ["view"]))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Bot owners", "Conversation reviewers"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0001_initial"),
        ("bots", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
