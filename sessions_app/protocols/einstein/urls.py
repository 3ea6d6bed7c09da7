from django.urls import path, re_path

from . import views

app_name = "einstein"

urlpatterns = [
    path("status", views.status_view, name="status"),
    path("versions", views.versions_view, name="versions"),
    path("v5.0.0/bots/<str:bot_id>/sessions", views.begin_view, name="begin"),
    path("v5.0.0/sessions/<str:session_id>/messages", views.messages_view, name="messages"),
    path("v5.0.0/sessions/<str:session_id>", views.session_view, name="session"),
    # Anything else under the version prefix is a 404 in the protocol's own error shape.
    re_path(r"^v5\.0\.0(?:/(?P<rest>.*))?$", views.not_found_view, name="not-found"),
    re_path(r"^(?:status|versions)/(?P<rest>.*)$", views.not_found_view),
]
