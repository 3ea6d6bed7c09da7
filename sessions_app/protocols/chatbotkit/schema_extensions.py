"""How drf-spectacular documents botportal's authentication classes and output shapes (imported by the URL modules)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "sessions_app.access.authentication.BearerAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An owner's API secret (`sk-...`) or, on the conversing routes, a session token.",
        }


class ApiSecretAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "sessions_app.access.authentication.ApiSecretAuthentication"
    name = "apiSecret"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An owner's API secret (`sk-...`)."}


class OutputSerializerExtension(OpenApiSerializerExtension):
    """ChatBotKit outputs leave out undefined keys (null, "", {}): only those always defined are required."""

    target_class = "sessions_app.protocols.chatbotkit.serializers.Output"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        always = set(getattr(self.target, "always_present", ()))
        required = [name for name in schema.get("required", []) if name in always]
        if required:
            schema["required"] = required
        else:
            schema.pop("required", None)
        return schema
