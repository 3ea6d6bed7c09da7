from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from botportal.api.permissions import Public


class HealthView(APIView):
    """Liveness for load balancers: answers without touching the database (see /status for readiness)."""

    authentication_classes = []
    permission_classes = [Public]
    throttle_classes = []

    @extend_schema(
        tags=["health"],
        summary="Liveness: the web process answers",
        responses=inline_serializer("Health", {"status": serializers.CharField()}),
    )
    def get(self, request):
        return Response({"status": "ok"})
