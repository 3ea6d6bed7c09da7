"""Mounted under /api/v1/ (and /v1/) beside the ChatBotKit routes."""

from django.urls import path

from .views import BotExportView, BotImportView

urlpatterns = [
    path("bot/import", BotImportView.as_view(), name="bot-import"),
    path("bot/<str:bot_id>/export", BotExportView.as_view(), name="bot-export"),
]
