"""The bots routes mounted as the project mounts them, until the ChatBotKit urls include them."""

from django.urls import include, path

urlpatterns = [path("api/v1/", include("bots.api.urls"))]
