"""The Einstein runtime state in a table of its own (0002 makes it cascade in PostgreSQL, 0003 fills it)."""

import django.db.models.deletion
from django.db import migrations, models


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
    ]
