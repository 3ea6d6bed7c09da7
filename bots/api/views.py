"""Thin views: export a bot's definition as one JSON document, and create a bot from one.

They follow the /api/v1 conventions (JSON only, an owner's API secret, errors in the ChatBotKit shape
through the project's exception handler). Dataset search is served by the ChatBotKit owner routes with
`bots.selectors.dataset_search`, the same function the engine uses.
"""

from rest_framework.response import Response

from botportal.api.base import JsonApiView
from bots.selectors import bot_get
from bots.services.bot_definitions import bot_export, bot_import
from sessions_app.api.chatbotkit.access import owner_required


class BotExportView(JsonApiView):
    def post(self, request, bot_id):
        owner = owner_required(request)
        return Response(bot_export(bot=bot_get(owner=owner, bot_id=bot_id)))


class BotImportView(JsonApiView):
    def post(self, request):
        owner = owner_required(request)
        body = self.body(request)
        # Either the exported document itself or {"document": {...}}.
        document = body["document"] if isinstance(body.get("document"), dict) else body
        bot = bot_import(owner=owner, document=document)
        return Response({"id": str(bot.id)})
