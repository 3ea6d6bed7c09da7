from sessions_app.management.commands._lifecycle import LifecycleCommand
from sessions_app.services.lifecycle import bot_sessions_expire


class Command(LifecycleCommand):
    help = "Mark sessions whose expiry has passed as expired."
    service = staticmethod(bot_sessions_expire)
