from rest_framework.response import Response
from rest_framework.views import APIView


class HealthView(APIView):
    """Liveness for load balancers: answers without touching the database (see /status for readiness)."""

    authentication_classes = []
    throttle_classes = []

    def get(self, request):
        return Response({"status": "ok"})
