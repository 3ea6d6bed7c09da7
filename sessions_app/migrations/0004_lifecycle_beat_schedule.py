"""The lifecycle's Celery beat entries, so that `make run` (and any deployment) schedules them with no
manual step. They are ordinary django-celery-beat rows: an admin may change or disable them, and this
migration never overwrites an entry that already exists."""

from django.db import migrations
from django.utils import timezone

# name, task, every (seconds)
ENTRIES = [
    ("botportal: expire sessions", "sessions_app.expire_sessions", 5 * 60),
    ("botportal: end idle conversations", "sessions_app.end_idle_conversations", 15 * 60),
    ("botportal: prune sessions", "sessions_app.prune_sessions", 60 * 60),
    ("botportal: prune conversations", "sessions_app.prune_conversations", 60 * 60),
]


def create_entries(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, task, every in ENTRIES:
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period="seconds")
        # A run that waited longer than its interval in the queue is dropped: the next one does its work.
        PeriodicTask.objects.create(
            name=name,
            task=task,
            interval=interval,
            enabled=True,
            expire_seconds=every,
            description="Session lifecycle (see the README's Lifecycle section).",
        )
    # Tell a running DatabaseScheduler that its entries changed (historical models send no signals).
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_entries(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _, _ in ENTRIES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0003_conversation_children_cascade_in_database"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_entries, remove_entries)]
