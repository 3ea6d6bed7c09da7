"""Thin views: bot export/import and dataset search, for an owner's API secret.

Errors are domain errors, rendered in the ChatBotKit shape by the project's exception handler.
"""

from django.core.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from botportal.errors import InvalidInput, NotFound
from bots.models import Bot, Dataset
from bots.selectors import dataset_search
from bots.services import bot_export, bot_import
from sessions_app.api.authentication import ApiSecretAuthentication

MAX_SEARCH_RESULTS = 20


def _owned(model, owner, pk):
    try:
        return model.objects.get(pk=pk, owner=owner)
    except (model.DoesNotExist, ValidationError, ValueError):
        raise NotFound(f"{model.__name__} not found.") from None


class OwnerAPIView(APIView):
    authentication_classes = [ApiSecretAuthentication]
    permission_classes = [IsAuthenticated]


class BotExportView(OwnerAPIView):
    def post(self, request, bot_id):
        return Response(bot_export(bot=_owned(Bot, request.user, bot_id)))


class BotImportView(OwnerAPIView):
    def post(self, request):
        # Either the document itself or {"document": {...}}.
        body = request.data
        document = body.get("document", body) if isinstance(body, dict) else body
        bot = bot_import(owner=request.user, document=document)
        return Response({"id": str(bot.id)})


class DatasetSearchView(OwnerAPIView):
    def post(self, request, dataset_id):
        dataset = _owned(Dataset, request.user, dataset_id)
        body = request.data if isinstance(request.data, dict) else {}
        search = body.get("search")
        if not isinstance(search, str) or not search.strip():
            raise InvalidInput(fields={"search": "required, a non-empty string"})
        take = body.get("take", 5)
        if not isinstance(take, int) or isinstance(take, bool) or not 1 <= take <= MAX_SEARCH_RESULTS:
            raise InvalidInput(fields={"take": f"must be an integer from 1 to {MAX_SEARCH_RESULTS}"})
        hits = dataset_search(dataset=dataset, query=search, limit=take)
        records = []
        for hit in hits:
            record = {"id": hit.id, "text": hit.text, "score": hit.score}
            if hit.source:
                record["source"] = hit.source
            if hit.meta:
                record["meta"] = hit.meta
            records.append(record)
        return Response({"id": str(dataset.id), "records": records})
