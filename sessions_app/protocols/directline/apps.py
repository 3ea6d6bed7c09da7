from django.apps import AppConfig


class DirectLineConfig(AppConfig):
    name = "sessions_app.protocols.directline"
    label = "directline"
    verbose_name = "Direct Line"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from sessions_app.services.signals import conversation_changed

        from .fanout import conversation_changed_received

        conversation_changed.connect(conversation_changed_received, dispatch_uid="botportal-directline-fanout")
