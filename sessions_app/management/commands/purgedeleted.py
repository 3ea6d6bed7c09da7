from sessions_app.management.commands._lifecycle import LifecycleCommand
from sessions_app.services.lifecycle import deleted_purge


class Command(LifecycleCommand):
    help = (
        "Remove, in batches, the rows of deleted bots, contacts and owners (what their delete left to the background)."
    )
    service = staticmethod(deleted_purge)
