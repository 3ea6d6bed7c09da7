from sessions_app.management.commands._lifecycle import LifecycleCommand
from sessions_app.services.lifecycle import bot_sessions_prune


class Command(LifecycleCommand):
    help = "Delete session records expired or revoked longer ago than BOTPORTAL_SESSION_RETENTION."
    service = staticmethod(bot_sessions_prune)
