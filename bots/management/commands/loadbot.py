import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from botportal.errors import InvalidInput
from bots.services.bot_definitions import bot_import
from bots.services.intent_models import intent_model_build


class Command(BaseCommand):
    help = (
        "Create a bot from a JSON document written by dumpbot (or the export API) and build its intent model; "
        "prints the new bot's id."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--owner", help="Username of the owner (default: the only superuser).")

    def handle(self, *args, file, owner=None, **options):
        users = get_user_model().objects
        if owner:
            user = users.filter(username=owner).first()
            if user is None:
                raise CommandError(f"No user {owner!r}.")
        else:
            superusers = list(users.filter(is_superuser=True)[:2])
            if len(superusers) != 1:
                raise CommandError("Name the owner with --owner USERNAME.")
            user = superusers[0]
        try:
            with open(file, encoding="utf-8") as handle:
                document = json.load(handle)
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot read {file}: {error}") from error
        try:
            bot = bot_import(owner=user, document=document)
        except InvalidInput as error:
            raise CommandError(f"Invalid bot document: {error.message}") from error
        # Ready when this returns, however large: the first message must not wait for a worker.
        intent_model_build(bot_id=bot.id, force=True)
        self.stdout.write(str(bot.id))
