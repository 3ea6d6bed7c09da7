from django.urls import path

from .consumers import DirectLineStreamConsumer

websocket_urlpatterns = [
    path("v3/directline/conversations/<str:conversation_id>/stream", DirectLineStreamConsumer.as_asgi()),
]
