import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from bots.models import Bot
from bots.services.bot_definitions import bot_export


class Command(BaseCommand):
    help = "Print a bot's whole definition as one JSON document (loadbot reads it back)."

    def add_arguments(self, parser):
        parser.add_argument("bot_id")
        parser.add_argument("--output", "-o", help="Write to this file instead of standard output.")

    def handle(self, *args, bot_id, output=None, **options):
        try:
            bot = Bot.objects.get(pk=bot_id)
        except (Bot.DoesNotExist, ValueError, ValidationError) as error:
            raise CommandError(f"No bot with id {bot_id!r}.") from error
        text = json.dumps(bot_export(bot=bot), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            self.stdout.write(text, ending="")
