from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from sessions_app.services.owners import api_key_create, bot_owner_create


class Command(BaseCommand):
    help = "Create an API secret for a user and print it alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--create-user", action="store_true", help="Create the user as a bot owner if missing.")
        parser.add_argument("--name", default="", help="A name for the key, shown in the admin.")

    def handle(self, *args, username, create_user, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            if not create_user:
                raise CommandError(f"No user named {username!r}; pass --create-user to create a bot owner.")
            user = bot_owner_create(username=username)
            self.stdout.write(f"Created bot owner {username!r} (no password set).")
        api_key, secret = api_key_create(owner=user, name=name)
        self.stdout.write(f"API key {api_key.prefix}… created for {username!r}. It is shown only once:")
        self.stdout.write(secret)
