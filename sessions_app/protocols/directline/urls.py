from django.urls import path, re_path

from . import views

app_name = "directline"

urlpatterns = [
    path("tokens/generate", views.tokens_generate_view, name="tokens-generate"),
    path("tokens/refresh", views.tokens_refresh_view, name="tokens-refresh"),
    path("conversations", views.conversations_view, name="conversations"),
    path("conversations/<str:conversation_id>", views.conversation_view, name="conversation"),
    path("conversations/<str:conversation_id>/activities", views.activities_view, name="activities"),
    path("conversations/<str:conversation_id>/upload", views.upload_view, name="upload"),
    # Anything else under the prefix (and the bare prefix) is a 404 in Direct Line's shape.
    re_path(r"^(?P<rest>.*)$", views.not_found_view, name="not-found"),
]
