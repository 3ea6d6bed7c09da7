"""Opening a session with a bot is served as an async view under ASGI: its database phase runs in the event
loop's bounded thread pool, not on a new thread per request (hundreds of visitors arriving at once)."""

from asgiref.sync import iscoroutinefunction
from django.urls import resolve

from sessions_app.protocols.chatbotkit.conversing import BotSessionCreateView


def test_bot_session_create_is_an_async_view_around_the_drf_view():
    match = resolve("/api/v1/bot/00000000-0000-0000-0000-000000000000/session/create")
    assert iscoroutinefunction(match.func)
    assert match.func.cls is BotSessionCreateView
