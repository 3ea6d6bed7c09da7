from django.apps import AppConfig


class DirectLineConfig(AppConfig):
    name = "sessions_app.protocols.directline"
    label = "directline"
    verbose_name = "Direct Line"
    default_auto_field = "django.db.models.BigAutoField"
