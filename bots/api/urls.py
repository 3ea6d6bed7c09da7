"""Mounted under /api/v1/ (and /v1/) by the project's urls."""

from django.urls import path

from .views import BotExportView, BotImportView, DatasetSearchView

urlpatterns = [
    path("bot/import", BotImportView.as_view(), name="bot-import"),
    path("bot/<str:bot_id>/export", BotExportView.as_view(), name="bot-export"),
    path("dataset/<str:dataset_id>/search", DatasetSearchView.as_view(), name="dataset-search"),
]
