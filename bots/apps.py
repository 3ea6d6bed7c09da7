from django.apps import AppConfig


class BotsConfig(AppConfig):
    name = "bots"
    verbose_name = "Bots"

    def ready(self):
        from . import signals  # noqa: F401 - connects the version bumps
