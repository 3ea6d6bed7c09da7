"""The owner's objects over /api/v1: bots, datasets and records, skillsets and abilities, contacts, conversations."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from botportal.api.base import JsonApiView
from botportal.api.pagination import paginate
from bots import search as bot_search
from bots import selectors as bot_selectors
from bots.services import resources as bot_services
from sessions_app.access.permissions import owner_required
from sessions_app.protocols.chatbotkit import serializers as s
from sessions_app.protocols.chatbotkit.resources import (
    LIST_PARAMETERS,
    META_FILTER_NOTE,
    Resource,
    error_responses,
    page_json,
    resource_urls,
    validated,
)
from sessions_app.selectors import contacts as contact_selectors
from sessions_app.selectors import conversations as conversation_selectors
from sessions_app.services import deletions, owner_contacts, owner_conversations
from sessions_app.services.owners import owner_profile_ensure

BOT = Resource(
    kind="bot",
    route="bot",
    output=s.BotOutput,
    input=s.BotInput,
    fetch_output=s.BotFetchOutput,
    fetch_extra=lambda owner, bot: {"orgId": owner_profile_ensure(owner=owner).org_id},
    list=lambda owner, parent: bot_selectors.bot_list(owner=owner),
    get=lambda owner, parent, item_id: bot_selectors.bot_get(owner=owner, bot_id=item_id),
    create=lambda owner, parent, fields: bot_services.bot_create(owner=owner, fields=fields),
    update=lambda bot, fields: bot_services.bot_update(bot=bot, fields=fields),
    delete=lambda bot: deletions.bot_delete(bot=bot),
)

DATASET = Resource(
    kind="dataset",
    route="dataset",
    output=s.DatasetOutput,
    input=s.DatasetInput,
    list=lambda owner, parent: bot_selectors.dataset_list(owner=owner),
    get=lambda owner, parent, item_id: bot_selectors.dataset_get(owner=owner, dataset_id=item_id),
    create=lambda owner, parent, fields: bot_services.dataset_create(owner=owner, fields=fields),
    update=lambda dataset, fields: bot_services.dataset_update(dataset=dataset, fields=fields),
    delete=lambda dataset: bot_services.dataset_delete(dataset=dataset),
)

RECORD = Resource(
    kind="record",
    route="dataset/<str:parent_id>/record",
    tags=["dataset"],
    output=s.RecordOutput,
    input=s.RecordInput,
    create_input=s.RecordCreateInput,
    get_parent=lambda owner, parent_id: bot_selectors.dataset_get(owner=owner, dataset_id=parent_id),
    list=lambda owner, dataset: bot_selectors.dataset_record_list(dataset=dataset),
    get=lambda owner, dataset, item_id: bot_selectors.dataset_record_get(dataset=dataset, record_id=item_id),
    create=lambda owner, dataset, fields: bot_services.dataset_record_create(dataset=dataset, fields=fields),
    update=lambda record, fields: bot_services.dataset_record_update(record=record, fields=fields),
    delete=lambda record: bot_services.dataset_record_delete(record=record),
)

SKILLSET = Resource(
    kind="skillset",
    route="skillset",
    output=s.SkillsetOutput,
    input=s.SkillsetInput,
    list=lambda owner, parent: bot_selectors.skillset_list(owner=owner),
    get=lambda owner, parent, item_id: bot_selectors.skillset_get(owner=owner, skillset_id=item_id),
    create=lambda owner, parent, fields: bot_services.skillset_create(owner=owner, fields=fields),
    update=lambda skillset, fields: bot_services.skillset_update(skillset=skillset, fields=fields),
    delete=lambda skillset: bot_services.skillset_delete(skillset=skillset),
)

ABILITY = Resource(
    kind="ability",
    route="skillset/<str:parent_id>/ability",
    tags=["skillset"],
    output=s.AbilityOutput,
    input=s.AbilityInput,
    get_parent=lambda owner, parent_id: bot_selectors.skillset_get(owner=owner, skillset_id=parent_id),
    list=lambda owner, skillset: bot_selectors.ability_list(skillset=skillset),
    get=lambda owner, skillset, item_id: bot_selectors.ability_get(skillset=skillset, ability_id=item_id),
    create=lambda owner, skillset, fields: bot_services.ability_create(skillset=skillset, fields=fields),
    update=lambda ability, fields: bot_services.ability_update(ability=ability, fields=fields),
    delete=lambda ability: bot_services.ability_delete(ability=ability),
)

CONTACT = Resource(
    kind="contact",
    route="contact",
    output=s.ContactOutput,
    input=s.ContactInput,
    list=lambda owner, parent: contact_selectors.contact_list(owner=owner),
    get=lambda owner, parent, item_id: contact_selectors.contact_get(owner=owner, contact_id=item_id),
    create=lambda owner, parent, fields: owner_contacts.contact_create(owner=owner, fields=fields),
    update=lambda contact, fields: owner_contacts.contact_update(contact=contact, fields=fields),
    delete=lambda contact: deletions.contact_delete(contact=contact),
)


def _conversation_create(owner, parent, fields):
    messages = fields.pop("messages", None)
    return owner_conversations.conversation_create(owner=owner, fields=fields, messages=messages)


CONVERSATION = Resource(
    kind="conversation",
    route="conversation",
    output=s.ConversationOutput,
    input=s.ConversationInput,
    create_input=s.ConversationCreateInput,
    list=lambda owner, parent: conversation_selectors.conversation_list(owner=owner),
    get=lambda owner, parent, item_id: conversation_selectors.conversation_get(owner=owner, conversation_id=item_id),
    create=_conversation_create,
    update=lambda conversation, fields: owner_conversations.conversation_update(
        conversation=conversation, fields=fields
    ),
    delete=lambda conversation: owner_conversations.conversation_delete(conversation=conversation),
)


class ContactEnsureView(JsonApiView):
    @extend_schema(
        tags=["contact"],
        summary="Create or update the contact with this fingerprint",
        request=s.ContactEnsureInput,
        responses={200: s.IdOutput, **error_responses(400, 401, 409)},
    )
    def post(self, request):
        owner = owner_required(request)
        fields = validated(s.ContactEnsureInput, self.body(request))
        contact = owner_contacts.contact_ensure(owner=owner, fields=fields)
        return Response({"id": str(contact.pk)})


class ContactConversationListView(JsonApiView):
    @extend_schema(
        tags=["contact"],
        summary="The contact's conversations, newest first",
        description="Cursor pagination." + META_FILTER_NOTE,
        parameters=LIST_PARAMETERS,
        responses={
            200: s.page_output(s.ConversationOutput, "ContactConversationPage"),
            **error_responses(400, 401, 404),
        },
    )
    def get(self, request, contact_id):
        owner = owner_required(request)
        contact = contact_selectors.contact_get(owner=owner, contact_id=contact_id)
        page = paginate(contact_selectors.contact_conversation_list(contact=contact), request.query_params)
        return Response(page_json(page, s.ConversationOutput))


class DatasetSearchView(JsonApiView):
    @extend_schema(
        tags=["dataset"],
        summary="Records of the dataset that match the search, best first",
        request=s.DatasetSearchInput,
        responses={200: s.DatasetSearchOutput, **error_responses(400, 401, 404)},
    )
    def post(self, request, dataset_id):
        owner = owner_required(request)
        dataset = bot_selectors.dataset_get(owner=owner, dataset_id=dataset_id)
        search = validated(s.DatasetSearchInput, self.body(request))["search"]
        found = bot_search.dataset_search(dataset=dataset, search=search)
        records = [{**s.RecordOutput(record).data, "score": score} for record, score in found]
        return Response({"id": str(dataset.pk), "records": records})


def owner_urls() -> list:
    urls = [
        path("contact/ensure", ContactEnsureView.as_view(), name="contact-ensure"),
        path(
            "contact/<str:contact_id>/conversation/list",
            ContactConversationListView.as_view(),
            name="contact-conversation-list",
        ),
        path("dataset/<str:dataset_id>/search", DatasetSearchView.as_view(), name="dataset-search"),
    ]
    for resource in (BOT, DATASET, RECORD, SKILLSET, ABILITY, CONTACT, CONVERSATION):
        urls += resource_urls(resource)
    return urls
