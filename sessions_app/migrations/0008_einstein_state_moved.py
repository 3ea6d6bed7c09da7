"""The Einstein runtime state has left Conversation for einstein.EinsteinSession (einstein 0003 carried
it over): its columns go."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0007_conversation_turn_queue"),
        ("einstein", "0003_carry_over_runtime_state"),
    ]

    operations = [
        migrations.RemoveField(model_name="conversation", name="external_session_key"),
        migrations.RemoveField(model_name="conversation", name="last_request_digest"),
        migrations.RemoveField(model_name="conversation", name="last_response"),
        migrations.RemoveField(model_name="conversation", name="last_sequence_id"),
    ]
