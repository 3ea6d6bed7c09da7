import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from bots.models import Bot, Visibility
from bots.services.bot_definitions import bot_import
from sessions_app.services.owners import api_key_create, bot_owner_create

DEMO_USERNAME = "demo"
DEMO_BOT_FILE = Path(settings.BASE_DIR) / "examples" / "order-assistant.json"


class Command(BaseCommand):
    help = "Create, once, a demo bot owner (password and API secret printed) and a public demo bot."

    @transaction.atomic
    def handle(self, *args, **options):
        if get_user_model().objects.filter(username=DEMO_USERNAME).exists():
            bot = Bot.objects.filter(owner__username=DEMO_USERNAME).order_by("created_at").first()
            self.stdout.write(
                f"Demo owner {DEMO_USERNAME!r} exists (its password and API secret were printed when it was "
                f"created; `python manage.py changepassword {DEMO_USERNAME}` and "
                f"`python manage.py createapikey {DEMO_USERNAME}` make new ones)."
            )
            if bot is not None:
                self.stdout.write(f"Demo bot: {bot.name} ({bot.id})")
            return
        password = secrets.token_urlsafe(12)
        owner = bot_owner_create(username=DEMO_USERNAME, password=password)
        _, secret = api_key_create(owner=owner, name="demo")
        document = json.loads(DEMO_BOT_FILE.read_text(encoding="utf-8"))
        bot = bot_import(owner=owner, document=document)
        if not bot.is_public:
            bot.visibility = Visibility.PUBLIC
            bot.save(update_fields=["visibility", "updated_at"])
        self.stdout.write(self.style.SUCCESS("Created the demo bot owner and a public demo bot:"))
        self.stdout.write(f"  admin:      http://127.0.0.1:8000/admin/  user {DEMO_USERNAME!r}  password {password}")
        self.stdout.write(f"  API secret: {secret}")
        self.stdout.write(f"  demo bot:   {bot.id}")
