from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Sessions and conversations"

    def ready(self):
        from corsheaders.signals import check_request_enabled

        import botportal.checks  # noqa: F401 (registers the deploy checks of botportal's middleware)
        from sessions_app.widget.views import cors_allow_bot_origin

        check_request_enabled.connect(cors_allow_bot_origin, dispatch_uid="botportal-widget-cors")
