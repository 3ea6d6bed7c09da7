"""How drf-spectacular documents botportal's authentication classes (imported by the URL modules)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "sessions_app.api.authentication.BearerAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An owner's API secret (`sk-...`) or, on the conversing routes, a session token.",
        }


class ApiSecretAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "sessions_app.api.authentication.ApiSecretAuthentication"
    name = "apiSecret"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An owner's API secret (`sk-...`)."}
