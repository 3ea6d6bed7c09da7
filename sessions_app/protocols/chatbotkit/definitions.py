"""Thin views: export a bot's definition as one JSON document, and create a bot from one.

They follow the /api/v1 conventions (JSON only, an owner's API secret, errors in the ChatBotKit shape
through the project's exception handler). Dataset search is served by the ChatBotKit owner routes with
`bots.search.dataset_search`, the same function the engine uses.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from botportal.api.base import JsonApiView
from bots.selectors import bot_get
from bots.services.bot_definitions import bot_export, bot_import
from sessions_app.access.permissions import owner_required
from sessions_app.protocols.chatbotkit.resources import error_responses
from sessions_app.protocols.chatbotkit.serializers import IdOutput

DOCUMENT = OpenApiResponse(OpenApiTypes.OBJECT, description="The bot definition document (format botportal.bot).")


class BotExportView(JsonApiView):
    @extend_schema(
        tags=["bot"],
        summary="The bot's whole definition as one JSON document (what dumpbot prints)",
        request=None,
        responses={200: DOCUMENT, **error_responses(401, 404)},
    )
    def post(self, request, bot_id):
        owner = owner_required(request)
        return Response(bot_export(bot=bot_get(owner=owner, bot_id=bot_id)))


class BotImportView(JsonApiView):
    @extend_schema(
        tags=["bot"],
        summary="Create a bot, with its own dataset and skillset, from an exported document",
        request=OpenApiTypes.OBJECT,
        responses={200: IdOutput, **error_responses(400, 401)},
    )
    def post(self, request):
        owner = owner_required(request)
        body = self.body(request)
        # Either the exported document itself or {"document": {...}}.
        document = body["document"] if isinstance(body.get("document"), dict) else body
        bot = bot_import(owner=owner, document=document)
        return Response({"id": str(bot.id)})
