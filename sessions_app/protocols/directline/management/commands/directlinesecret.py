from django.core.management.base import BaseCommand, CommandError

from botportal.validation import uuid_or_none
from bots.models import Bot
from sessions_app.protocols.directline.services import directline_secret_create


class Command(BaseCommand):
    help = "Create a Direct Line secret for a bot and print it alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("bot_id")
        parser.add_argument("--name", default="", help="A name for the secret, shown in the admin.")

    def handle(self, *args, bot_id, name, **options):
        key = uuid_or_none(bot_id)
        bot = Bot.objects.filter(pk=key).first() if key is not None else None
        if bot is None:
            raise CommandError(f"No bot with id {bot_id!r}.")
        row, secret = directline_secret_create(bot=bot, name=name)
        label = bot.name or bot.pk
        self.stdout.write(f"Direct Line secret {row.prefix}… created for bot {label}. It is shown only once:")
        self.stdout.write(secret)

