from django.urls import path

from .consumers import DirectLineStreamConsumer
from .errors import PREFIX

websocket_urlpatterns = [
    path(PREFIX.lstrip("/") + "/conversations/<str:conversation_id>/stream", DirectLineStreamConsumer.as_asgi()),
]
