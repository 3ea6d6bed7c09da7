"""Direct Line 3.0, as botportal's protocol registry knows it (settings.BOTPORTAL_PROTOCOLS)."""

from botportal.api.protocols import Protocol
from sessions_app.protocols.directline.errors import PREFIX, directline_error_response


def directline_root_error_response(request, status: int, message: str):
    return directline_error_response(status, message)


DIRECTLINE = Protocol(
    name="directline",
    urls="sessions_app.protocols.directline.urls",
    # Clients pass BASE_URL + PREFIX as their domain; its urls route its own 404s below it.
    mounts=((PREFIX.lstrip("/") + "/", "directline"),),
    paths=(PREFIX + "/",),
    # The bare prefix is a 404 in Direct Line's shape too.
    roots=(PREFIX,),
    error_response=directline_root_error_response,
    catch_all=True,
    # Its contract is Microsoft's Direct Line 3.0 (plain Django views), not botportal's generated schema.
    in_generated_schema=False,
    websocket_urls="sessions_app.protocols.directline.routing.websocket_urlpatterns",
)
