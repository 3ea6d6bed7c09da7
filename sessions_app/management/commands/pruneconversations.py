from sessions_app.management.commands._lifecycle import LifecycleCommand
from sessions_app.services.lifecycle import conversations_prune


class Command(LifecycleCommand):
    help = "Delete conversations (with messages and sessions) past their retention."
    service = staticmethod(conversations_prune)
