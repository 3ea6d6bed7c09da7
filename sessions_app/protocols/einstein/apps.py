from django.apps import AppConfig


class EinsteinConfig(AppConfig):
    """The Einstein Bots runtime adapter, with the state it keeps per runtime session."""

    name = "sessions_app.protocols.einstein"
    label = "einstein"
    verbose_name = "Einstein Bots runtime"
    default_auto_field = "django.db.models.BigAutoField"
