"""Bot owners manage their bots' Direct Line secrets in the admin: the group gets the model's permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ACTIONS = ["add", "change", "delete", "view"]


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the group needs them now.
    app_config = apps.get_app_config("directline")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    owners, _ = Group.objects.get_or_create(name="Bot owners")
    owners.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="directline", codename__in=[f"{a}_directlinesecret" for a in ACTIONS]
        )
    )


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name="Bot owners"):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="directline"))


class Migration(migrations.Migration):
    dependencies = [
        ("directline", "0001_initial"),
        ("sessions_app", "0002_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
