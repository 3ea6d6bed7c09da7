"""The embeddable chat widget: its page, who may frame it, and who may call the session routes across origins.

One rule decides both: a bot's `allowed_origins` (a list of origins such as "https://shop.example").
The widget page may be framed by those origins (CSP frame-ancestors) and the session routes answer
CORS for them; a bot with none is same-origin only. Private and protected bots have no widget.

A bot asks for a pre-chat form with `meta.widget.prechat`: `true` (name and email) or a list of
the fields to ask for (`["name"]`, `["email"]`, `["name", "email"]`); the answers become the
session's `contact`.
"""

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import Http404
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_safe

from botportal.api.permissions import public
from botportal.api.protocols import protocol_get
from botportal.validation import bot_origins, origin_allowed, origin_normalize
from sessions_app.widget.selectors import bot_allowed_origins_for_path, widget_bot_get

PRECHAT_FIELDS = ("name", "email")
WIDGET_SCRIPT = "botportal/widget.js"


def cors_allow_bot_origin(sender, request, **kwargs) -> bool:
    """django-cors-headers' check_request_enabled: answer CORS on a session route for its bot's origins."""
    origin = origin_normalize(request.headers.get("Origin"))
    if origin is None or origin == _own_origin(request):
        return False  # the widget's own same-origin calls need no CORS, nor a query to decide it
    allowed = bot_allowed_origins_for_path(path=request.path_info)
    if not allowed:
        return False
    return origin_allowed(allowed_origins=allowed, origin=request.headers.get("Origin"))


def widget_parent_origin(*, bot, request) -> str | None:
    """The page the launcher says it runs on, if that page may frame the widget at all.

    The chat frame exchanges its session with that origin only; the browser delivers a postMessage
    to a named origin only if the parent really is on it, so a false claim gets nothing.
    """
    host = origin_normalize(request.GET.get("host"))
    if host is None:
        return None
    if host in bot_origins(bot.allowed_origins) or host == _own_origin(request):
        return host
    return None


def _own_origin(request) -> str | None:
    try:
        return origin_normalize(f"{request.scheme}://{request.get_host()}")
    except DisallowedHost:
        return None


def widget_frame_ancestors(*, bot) -> str:
    return " ".join(["'self'", *bot_origins(bot.allowed_origins)])


def widget_prechat_fields(*, bot) -> list[str]:
    widget = bot.meta.get("widget") if isinstance(bot.meta, dict) else None
    asked = widget.get("prechat") if isinstance(widget, dict) else None
    if asked is True:
        return list(PRECHAT_FIELDS)
    if isinstance(asked, list):
        return [field for field in PRECHAT_FIELDS if field in asked]
    return []


def widget_script_url(*, base_url: str) -> str:
    # The unhashed name: an embedded snippet must keep working across deployments.
    return base_url.rstrip("/") + "/" + settings.STATIC_URL.strip("/") + "/" + WIDGET_SCRIPT


def bot_embed_snippet(*, bot, base_url: str) -> str:
    """The `<script>` tag a bot owner pastes into a page; `base_url` is botportal's public address."""
    return f'<script src="{widget_script_url(base_url=base_url)}" data-bot="{bot.pk}" async></script>'


def bot_embed_snippet_html(*, bot, request) -> str:
    """The snippet as shown on the bot's admin page, with what still stops it from working."""
    return render_to_string(
        "widget/embed_snippet.html",
        {
            "bot": bot,
            "snippet": bot_embed_snippet(bot=bot, base_url=request.build_absolute_uri("/")),
            "is_public": bot.is_public,
            "origins": bot_origins(bot.allowed_origins),
        },
    )


# Public: the page visitors chat on; it serves public bots only and holds no credential (the visitor's
# session token is issued by the public session route and kept in the visitor's browser).
@public
@require_safe
@xframe_options_exempt
def widget_page(request, bot_id):
    bot = widget_bot_get(bot_id=bot_id)
    if bot is None:
        raise Http404("No such public bot.")
    embedded = request.GET.get("embed") == "1"
    config = {
        "botId": str(bot.pk),
        "name": bot.name or "Assistant",
        "apiBase": protocol_get("chatbotkit").base_path,
        "prechat": widget_prechat_fields(bot=bot),
        "embedded": embedded,
        "parentOrigin": widget_parent_origin(bot=bot, request=request) if embedded else None,
    }
    response = render(request, "widget/chat.html", {"bot": bot, "config": config})
    response["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"base-uri 'none'; form-action 'self'; frame-ancestors {widget_frame_ancestors(bot=bot)}"
    )
    response["Cache-Control"] = "no-cache"
    return response
