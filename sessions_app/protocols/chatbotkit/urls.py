from django.urls import path

from botportal.api.asyncviews import async_api_view
from sessions_app.protocols.chatbotkit import (
    conversing,
    schema_extensions,  # noqa: F401 (registers the authentication schemes)
)
from sessions_app.protocols.chatbotkit.definitions import BotExportView, BotImportView
from sessions_app.protocols.chatbotkit.owner import owner_urls

app_name = "chatbotkit"

CONVERSATION = "conversation/<str:conversation_id>"

urlpatterns = [
    # Served as an async view: under ASGI its one database phase runs in the event loop's bounded thread pool,
    # not on a thread of its own per request (hundreds of visitors arriving at once would otherwise start
    # hundreds of threads contending for the GIL and for the few pooled connections).
    path("bot/<str:bot_id>/session/create", async_api_view(conversing.BotSessionCreateView), name="bot-session-create"),
    path(f"{CONVERSATION}/session/create", conversing.ConversationSessionCreateView.as_view(), name="session-create"),
    path(f"{CONVERSATION}/session/refresh", conversing.SessionRefreshView.as_view(), name="session-refresh"),
    path(f"{CONVERSATION}/session/revoke", conversing.SessionRevokeView.as_view(), name="session-revoke"),
    path(f"{CONVERSATION}/complete", async_api_view(conversing.CompleteView), name="conversation-complete"),
    path(f"{CONVERSATION}/send", conversing.SendView.as_view(), name="conversation-send"),
    path(f"{CONVERSATION}/receive", async_api_view(conversing.ReceiveView), name="conversation-receive"),
    path(f"{CONVERSATION}/message/list", async_api_view(conversing.MessageListView), name="conversation-message-list"),
]
urlpatterns += owner_urls()
# Bot definitions as one JSON document: export and import.
urlpatterns += [
    path("bot/import", BotImportView.as_view(), name="bot-import"),
    path("bot/<str:bot_id>/export", BotExportView.as_view(), name="bot-export"),
]
# Anything else under the prefix: the JSON 404 at the end of botportal/urls.py.
