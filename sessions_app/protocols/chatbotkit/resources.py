"""The owner's CRUD routes (`<kind>/create|list`, `<kind>/{id}/fetch|update|delete`), one definition per kind.

Views parse, call a selector or a service, and render; every lookup is scoped to the owner of the API
secret, so another owner's object is a 404.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.response import Response

from botportal.api.base import JsonApiView
from botportal.api.pagination import MAX_TAKE, paginate
from sessions_app.access.permissions import owner_required
from sessions_app.protocols.chatbotkit import serializers as s

ERROR = s.ErrorOutput
LIST_PARAMETERS = [
    OpenApiParameter("cursor", str, description="The id of the last item of the previous page."),
    OpenApiParameter("order", str, enum=["asc", "desc"], description="Default: desc (messages: asc)."),
    OpenApiParameter("take", int, description=f"1..{MAX_TAKE}, default {MAX_TAKE}."),
]
META_FILTER_NOTE = " Filter on meta with `meta.<key>=<value>` query parameters."


def error_responses(*codes) -> dict:
    described = {
        400: "Invalid input: the message names every invalid field.",
        401: "No valid API secret (a session token is refused here).",
        404: "No such object among the owner's.",
        409: "Conflicts with another object (e.g. a contact with the same email).",
    }
    return {code: OpenApiResponse(ERROR, description=described[code]) for code in codes}


def validated(serializer_class, data: dict, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def page_json(page, output) -> dict:
    body = {"items": output(page.items, many=True).data}
    if page.cursor is not None:
        body["cursor"] = page.cursor
    return body


@dataclass(frozen=True)
class Resource:
    """One kind of owner object. `parent` kinds (records of a dataset...) take a `parent` argument."""

    kind: str  # "bot", "record"...
    route: str  # "bot", "dataset/<str:parent_id>/record"
    output: type
    input: type
    list: Callable  # (owner, parent) -> QuerySet
    get: Callable  # (owner, parent, item_id) -> object
    create: Callable  # (owner, parent, fields) -> object
    update: Callable  # (item, fields) -> object
    delete: Callable  # (item) -> None
    get_parent: Callable | None = None  # (owner, parent_id) -> object
    create_input: type | None = None
    fetch_output: type | None = None
    fetch_extra: Callable | None = None  # (owner, item) -> dict merged into the fetch answer
    tags: list = field(default_factory=list)


class ResourceView(JsonApiView):
    resource: Resource = None

    def scope(self, request, parent_id=None):
        owner = owner_required(request)
        parent = self.resource.get_parent(owner, parent_id) if self.resource.get_parent else None
        return owner, parent


class CreateView(ResourceView):
    def post(self, request, parent_id=None):
        owner, parent = self.scope(request, parent_id)
        fields = validated(self.resource.create_input or self.resource.input, self.body(request))
        item = self.resource.create(owner, parent, fields)
        return Response({"id": str(item.pk)})


class ListView(ResourceView):
    def get(self, request, parent_id=None):
        owner, parent = self.scope(request, parent_id)
        page = paginate(self.resource.list(owner, parent), request.query_params)
        return Response(page_json(page, self.resource.output))


class FetchView(ResourceView):
    def get(self, request, item_id, parent_id=None):
        owner, parent = self.scope(request, parent_id)
        item = self.resource.get(owner, parent, item_id)
        body = (self.resource.fetch_output or self.resource.output)(item).data
        if self.resource.fetch_extra:
            body = {**body, **self.resource.fetch_extra(owner, item)}
        return Response(body)


class UpdateView(ResourceView):
    def post(self, request, item_id, parent_id=None):
        owner, parent = self.scope(request, parent_id)
        item = self.resource.get(owner, parent, item_id)
        fields = validated(self.resource.input, self.body(request), partial=True)
        self.resource.update(item, fields)
        return Response({"id": str(item.pk)})


class DeleteView(ResourceView):
    def post(self, request, item_id, parent_id=None):
        owner, parent = self.scope(request, parent_id)
        item = self.resource.get(owner, parent, item_id)
        self.body(request)
        self.resource.delete(item)
        return Response({"id": str(item_id)})


def _view(base, resource: Resource, method: str, name: str, **schema):
    """A subclass of `base` bound to `resource`, documented for drf-spectacular."""
    cls = type(f"{resource.kind.title()}{name}View", (base,), {"resource": resource, "__module__": __name__})
    return extend_schema_view(**{method: extend_schema(tags=resource.tags or [resource.kind], **schema)})(cls)


def resource_urls(resource: Resource) -> list:
    kind, base = resource.kind, resource.route
    nested = [404] if resource.get_parent else []
    page = s.page_output(resource.output, f"{resource.output.__name__.removesuffix('Output')}Page")
    views = [
        (
            f"{base}/create",
            _view(
                CreateView,
                resource,
                "post",
                "Create",
                summary=f"Create a {kind}",
                request=resource.create_input or resource.input,
                responses={200: s.IdOutput, **error_responses(400, 401, 409, *nested)},
            ),
            "create",
        ),
        (
            f"{base}/list",
            _view(
                ListView,
                resource,
                "get",
                "List",
                summary=f"List {kind}s, newest first",
                description="Cursor pagination." + META_FILTER_NOTE,
                parameters=LIST_PARAMETERS,
                responses={200: page, **error_responses(400, 401, *nested)},
            ),
            "list",
        ),
        (
            f"{base}/<str:item_id>/fetch",
            _view(
                FetchView,
                resource,
                "get",
                "Fetch",
                summary=f"Fetch a {kind}",
                responses={200: resource.fetch_output or resource.output, **error_responses(401, 404)},
            ),
            "fetch",
        ),
        (
            f"{base}/<str:item_id>/update",
            _view(
                UpdateView,
                resource,
                "post",
                "Update",
                summary=f"Update a {kind} (only the fields given)",
                request=resource.input,
                responses={200: s.IdOutput, **error_responses(400, 401, 404, 409)},
            ),
            "update",
        ),
        (
            f"{base}/<str:item_id>/delete",
            _view(
                DeleteView,
                resource,
                "post",
                "Delete",
                summary=f"Delete a {kind}",
                request=s.EmptyInput,
                responses={200: s.IdOutput, **error_responses(401, 404)},
            ),
            "delete",
        ),
    ]
    return [path(route, view.as_view(), name=f"{kind}-{action}") for route, view, action in views]
