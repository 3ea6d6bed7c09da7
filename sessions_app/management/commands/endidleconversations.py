from sessions_app.management.commands._lifecycle import LifecycleCommand
from sessions_app.services.lifecycle import conversations_end_idle


class Command(LifecycleCommand):
    help = "End conversations idle past BOTPORTAL_IDLE_TIMEOUT (reason Expiration) and revoke their tokens."
    service = staticmethod(conversations_end_idle)
