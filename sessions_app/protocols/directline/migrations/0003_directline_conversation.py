"""What Direct Line keeps of a conversation in a table of its own (0004 makes it cascade in PostgreSQL,
0005 carries it over from `Conversation.meta["_directline"]`)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('directline', '0002_bot_owner_permissions'),
        ('sessions_app', '0009_conversation_origin_directline'),
    ]

    operations = [
        migrations.CreateModel(
            name='DirectLineConversation',
            fields=[
                ('conversation', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='directline', serialize=False, to='sessions_app.conversation')),
                ('user_id', models.CharField(blank=True, max_length=256)),
                ('user_name', models.CharField(blank=True, max_length=256)),
                ('trusted_origins', models.JSONField(blank=True, default=list)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
            ],
            options={
                'verbose_name': 'Direct Line conversation',
            },
        ),
    ]
