"""Closed by default: every URL pattern of the project either declares itself open or refuses a caller
without credentials, in its protocol's own error shape.

The patterns are read from the URL resolver, so a new route is checked the day it is added: a DRF view
that declares nothing gets the default permission (an owner's API secret) and is asked here to prove it
refuses; a plain Django view that declares nothing fails; an open one must be in PUBLIC_ROUTES.
"""

import re
import uuid

import pytest
from django.contrib import admin
from django.http import HttpResponse
from django.urls import URLResolver, get_resolver
from rest_framework.permissions import AllowAny
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.views import APIView

from botportal.api.permissions import CREDENTIALS, PUBLIC, Public, declare_access, declared_access, public
from sessions_app.protocols.einstein.errors import error_name
from sessions_app.protocols.einstein.views import einstein_view

pytestmark = pytest.mark.django_db(transaction=False)

# Every route anyone may call without credentials, and why.
PUBLIC_ROUTES = {
    "api/health": "liveness for load balancers",
    "api/schema/": "the API's description, no data",
    "api/docs/": "the API's documentation page",
    "api/v1/bot/<str:bot_id>/session/create": "a visitor opens a session with a public bot",
    "v1/bot/<str:bot_id>/session/create": "the same under the short prefix",
    "widget/<uuid:bot_id>/": "the chat page of a public bot",
    "status": "Einstein readiness: UP or DOWN",
    "versions": "Einstein: the versions served",
    r"^v5\.0\.0(?:/(?P<rest>.*))?$": "Einstein's 404 for unknown paths",
    r"^(?:status|versions)/(?P<rest>.*)$": "Einstein's 404 for unknown paths",
    r"^(api|v1)(?:/|$)": "ChatBotKit's 404 for unknown paths",
    r"^(v3/directline)(?:/|$)": "Direct Line's 404 for the bare prefix",
    "v3/directline/^(?P<rest>.*)$": "Direct Line's 404 for unknown paths",
    "admin/login/": "the admin's login form",
}

CONVERTER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _walk(patterns, prefix="", namespaces=()):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = (pattern.namespace,) if pattern.namespace else ()
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), namespaces + namespace)
        else:
            yield prefix + str(pattern.pattern), namespaces, pattern


ROUTES = list(_walk(get_resolver().url_patterns))


def _drf_permissions(callback):
    view_class = getattr(callback, "cls", None)
    if not (isinstance(view_class, type) and issubclass(view_class, APIView)):
        return None
    initkwargs = getattr(callback, "initkwargs", None) or {}
    return list(initkwargs.get("permission_classes", view_class.permission_classes))


def access_of(callback, namespaces=()) -> str | None:
    """PUBLIC, CREDENTIALS (the view refuses callers without them), "admin" (the admin site's login
    guards it), or None: the view says nothing, which is a failure."""
    permissions = _drf_permissions(callback)
    if permissions is not None:
        if Public in permissions:
            return PUBLIC
        if not permissions or AllowAny in permissions:
            return None
        return CREDENTIALS
    declared = declared_access(callback)
    if declared is not None:
        return declared
    if "admin" in namespaces:
        if callback == admin.site.login:
            return PUBLIC
        # AdminSite.get_urls and ModelAdmin.get_urls wrap their views in admin_view (staff login).
        if hasattr(callback, "admin_site") or hasattr(callback, "model_admin"):
            return "admin"
        return "admin?"  # a custom admin URL: its refusal is checked by a request below
    return None


def _sample(route: str) -> str:
    def value(match):
        return "1" if match["converter"] == "int" else str(uuid.uuid4())

    return "/" + CONVERTER.sub(value, route)


def _methods(callback) -> list[str]:
    view_class = getattr(callback, "cls", None)
    if view_class is not None:
        return [m for m in view_class.http_method_names if m not in ("options", "head") and hasattr(view_class, m)]
    return [m.lower() for m in getattr(callback, "einstein_methods", getattr(callback, "directline_methods", ()))]


def test_every_route_declares_its_access():
    undeclared = [route for route, namespaces, pattern in ROUTES if access_of(pattern.callback, namespaces) is None]
    assert undeclared == [], f"routes open without declaring it (use Public / declare_access): {undeclared}"


def test_the_open_routes_are_the_ones_listed():
    open_routes = {route for route, namespaces, pattern in ROUTES if access_of(pattern.callback, namespaces) == PUBLIC}
    assert open_routes == set(PUBLIC_ROUTES)


def test_the_default_permission_refuses():
    assert api_settings.DEFAULT_PERMISSION_CLASSES, "DRF's default must refuse callers without credentials"
    assert Public not in api_settings.DEFAULT_PERMISSION_CLASSES
    assert AllowAny not in api_settings.DEFAULT_PERMISSION_CLASSES


def test_a_view_that_declares_nothing_is_caught():
    class Quiet(APIView):
        permission_classes = []

    class Open(APIView):
        permission_classes = [AllowAny]

    class Guarded(APIView):
        pass

    def plain(request):
        return HttpResponse("hi")

    assert access_of(Quiet.as_view()) is None
    assert access_of(Open.as_view()) is None
    assert access_of(plain) is None
    assert access_of(Guarded.as_view()) == CREDENTIALS
    assert access_of(Guarded.as_view(permission_classes=[Public])) == PUBLIC
    assert access_of(public(lambda request: HttpResponse())) == PUBLIC


def test_an_einstein_view_cannot_leave_its_access_unsaid():
    with pytest.raises(TypeError):
        einstein_view("GET")
    with pytest.raises(ValueError):
        declare_access(lambda request: HttpResponse(), "everyone")


CLOSED_API_ROUTES = [
    (route, pattern.callback)
    for route, namespaces, pattern in ROUTES
    if access_of(pattern.callback, namespaces) == CREDENTIALS
]


def test_the_closed_api_routes_are_all_there():
    routes = {route for route, _ in CLOSED_API_ROUTES}
    assert "api/v1/bot/create" in routes
    assert "v1/conversation/<str:conversation_id>/complete" in routes  # an async view
    assert "v5.0.0/bots/<str:bot_id>/sessions" in routes  # a plain Django (Einstein) view
    assert "v3/directline/conversations/<str:conversation_id>/activities" in routes  # Direct Line, async


@pytest.mark.parametrize(("route", "callback"), CLOSED_API_ROUTES, ids=[route for route, _ in CLOSED_API_ROUTES])
def test_a_closed_route_answers_401_in_its_protocols_shape_without_credentials(route, callback):
    client = APIClient()
    path = _sample(route)
    methods = _methods(callback)
    assert methods, route
    for method in methods:
        send = getattr(client, method)
        response = send(path, {}, format="json") if method == "post" else send(path)
        assert response.status_code == 401, (method, path, response.content)
        body = response.json()
        if callback.__module__.startswith("sessions_app.protocols.einstein"):
            assert body["status"] == 401 and body["error"] == error_name(401), body
            assert set(body) >= {"path", "requestId", "message", "timestamp"}, body
        elif callback.__module__.startswith("sessions_app.protocols.directline"):
            assert body["error"]["code"] == "Unauthorized" and body["error"]["message"], body
        else:
            assert body["code"] == "NOT_AUTHENTICATED" and body["message"], body


CUSTOM_ADMIN_ROUTES = [
    route for route, namespaces, pattern in ROUTES if access_of(pattern.callback, namespaces) == "admin?"
]


def test_custom_admin_routes_are_found():
    assert "admin/bots/bot/<path:object_id>/try/" in CUSTOM_ADMIN_ROUTES


@pytest.mark.parametrize("route", CUSTOM_ADMIN_ROUTES)
def test_a_custom_admin_route_sends_a_stranger_to_the_login(client, route):
    for method in ("get", "post"):
        response = getattr(client, method)(_sample(route))
        assert response.status_code == 302, (method, route, response.status_code)
        assert response["Location"].startswith("/admin/login/"), response["Location"]
