"""Responses of the Einstein Bots runtime: botportal's stored messages in the spec's message types."""

import mimetypes
import time
import uuid
import zlib

from django.urls import reverse

from bots.models import VariableType
from bots.variables import type_of, value_problem
from sessions_app.protocols.einstein.runtime import TurnOutcome

from .serializers import ResponseOptions

API_VERSION = "5.0.0"
BOT_MODE = "default"

ESCALATION_TARGET_TYPES = {
    "bot": "Salesforce:Core:Bot:Id",
    "queue": "Salesforce:Core:Queue:Id",
    "skill": "Salesforce:Core:Skill:Id",
    "flow": "Salesforce:Core:Flow:Id",
}
INTENT_SOURCES = ("DIRECT", "CORE_NLP", "EINSTEIN_NLP")

# Message ids are derived from the stored message, so the same message always has the same id.
_MESSAGE_NAMESPACE = uuid.UUID("6f1f5c1e-4b7e-4a43-9d55-2f1b6a0f0c51")


def runtime_crc(bot) -> str:
    """Opaque, and different for every version of the bot."""
    return format(zlib.crc32(f"{bot.pk}:{bot.version}".encode()), "08x")


def message_id(conversation_id, key: str) -> str:
    return str(uuid.uuid5(_MESSAGE_NAMESPACE, f"{conversation_id}:{key}"))


def _escalation_target(target: dict) -> dict:
    kind = str(target.get("type") or "")
    if kind not in ESCALATION_TARGET_TYPES.values():
        kind = ESCALATION_TARGET_TYPES.get(kind.lower().rsplit(":", 1)[-1], "Salesforce:Core:Queue:Id")
    value = target.get("value") or target.get("target") or target.get("id") or ""
    return {"type": kind, "value": str(value)}


def _link_messages(item: dict, mid: str, rich_content: dict) -> list[dict]:
    url = str(item.get("url") or "")
    formats = rich_content.get("StaticContentMessage") or []
    if "Attachments" in formats:
        name = item.get("name") or item.get("text") or url
        mime = item.get("mimeType") or mimetypes.guess_type(url)[0] or "text/html"
        attachment = {"id": message_id(mid, "attachment"), "name": str(name), "mimeType": mime, "url": url}
        return [
            {
                "type": "messageDefinition",
                "id": mid,
                "messageType": "StaticContentMessage",
                "staticContent": {"formatType": "Attachments", "attachments": [attachment]},
            }
        ]
    if "Text" in formats:
        return [
            {
                "type": "messageDefinition",
                "id": mid,
                "messageType": "StaticContentMessage",
                "staticContent": {"formatType": "Text", "text": url},
            }
        ]
    # A client that declared no static content capability gets the link as text.
    text = item.get("text") or ""
    return [{"type": "text", "id": mid, "text": f"{text}\n{url}".strip() if url not in text else text}]


def bot_messages(conversation, stored_messages, *, rich_content: dict | None = None) -> list[dict]:
    """The spec's messages for stored bot messages, in order."""
    rich_content = rich_content or {}
    rendered = []
    for stored in stored_messages:
        items = (stored.meta or {}).get("messages")
        if items is None:
            items = [{"type": "text", "text": stored.text}] if stored.text else []
        for index, item in enumerate(items):
            key = f"{stored.pk}:{index}"
            mid = message_id(conversation.pk, key)
            kind = item.get("type")
            text = item.get("text") or ""
            if kind == "text":
                rendered.append({"type": "text", "id": mid, "text": text})
            elif kind == "choices":
                if text:
                    rendered.append({"type": "text", "id": message_id(conversation.pk, key + ":text"), "text": text})
                choices = [
                    {"id": str(choice.get("id")), "label": str(choice.get("label") or ""), "alias": str(number)}
                    for number, choice in enumerate(item.get("choices") or [], start=1)
                ]
                rendered.append({"type": "choices", "id": mid, "choices": choices, "widget": "buttons"})
            elif kind == "escalate":
                if text:
                    rendered.append({"type": "text", "id": message_id(conversation.pk, key + ":text"), "text": text})
                targets = [_escalation_target(t) for t in item.get("targets") or [] if isinstance(t, dict)]
                rendered.append({"type": "escalate", "id": mid, "targets": targets})
            elif kind == "link":
                if text and (rich_content.get("StaticContentMessage")):
                    rendered.append({"type": "text", "id": message_id(conversation.pk, key + ":text"), "text": text})
                rendered.extend(_link_messages(item, mid, rich_content))
            elif kind == "end":
                if text:
                    rendered.append({"type": "text", "id": message_id(conversation.pk, key + ":text"), "text": text})
                rendered.append({"type": "sessionEnded", "id": mid, "reason": "Action"})
            elif text:
                rendered.append({"type": "text", "id": mid, "text": text})
    if conversation.ended_at is not None and not any(m["type"] == "sessionEnded" for m in rendered):
        rendered.append({"type": "sessionEnded", "id": message_id(conversation.pk, "ended"), "reason": "Action"})
    return rendered


def session_ended_message(conversation) -> dict:
    return {"type": "sessionEnded", "id": message_id(conversation.pk, "ended"), "reason": "ClientRequest"}


def typed_value(name: str, kind: str | None, value) -> dict:
    """A variable as the spec's typed object; a value that does not fit its declared kind is reported as
    the kind it is."""
    if kind is None or value_problem(kind, value):
        kind = type_of(value)
    if kind == VariableType.OBJECT and isinstance(value, dict):
        value = [typed_value(str(key), None, inner) for key, inner in value.items()]
    if kind == VariableType.LIST and isinstance(value, list) and not all(isinstance(i, dict) for i in value):
        value = [{"type": type_of(item), "value": item} for item in value]
    return {"name": name, "type": kind, "value": value}


def variables_json(
    conversation, names_changed: set[str], options: ResponseOptions, *, variable_types: dict | None = None
) -> list[dict]:
    """The variables as typed objects: the bot's declared types, then the types the client sent at begin."""
    declared = dict(conversation.bot.variables.values_list("name", "type")) if conversation.bot else {}
    declared.update(variable_types or {})
    values = dict(conversation.variables or {})
    names = list(declared) + [name for name in values if name not in declared]
    if options.only_changed:
        names = [name for name in names if name in names_changed]
    if options.variables_filter:
        wanted = set(options.variables_filter)
        names = [name for name in names if name in wanted]
    return [typed_value(name, declared.get(name), values.get(name)) for name in names]


def intents_json(reply) -> list[dict]:
    intents = getattr(reply, "intents", None) or []
    return [
        {
            "label": str(intent.label),
            "confidenceScore": float(intent.confidence),
            "intentSource": intent.source if intent.source in INTENT_SOURCES else "CORE_NLP",
        }
        for intent in intents
    ]


def entities_json(reply) -> list[dict]:
    entities = getattr(reply, "entities", None) or []
    return [
        {
            "confidenceScore": float(entity.confidence),
            "value": entity.value if isinstance(entity.value, str) else str(entity.value),
            "type": str(entity.type),
            "entitySource": "BOT_SERVICE",
        }
        for entity in entities
    ]


def links(request, conversation, *, self_href: str | None = None) -> dict:
    session = request.build_absolute_uri(reverse("einstein:session", kwargs={"session_id": conversation.pk}))
    messages = request.build_absolute_uri(reverse("einstein:messages", kwargs={"session_id": conversation.pk}))
    return {
        "self": {"href": self_href or request.build_absolute_uri(request.path)},
        "session": {"href": session},
        "messages": {"href": messages},
    }


def envelope(
    request,
    outcome: TurnOutcome,
    *,
    options: ResponseOptions,
    processed: list[int],
    messages: list[dict],
    started: float,
    include_session_id: bool,
    state=None,
) -> dict:
    """The response envelope; `state`: the session's EinsteinSession (None: a conversation of another
    protocol at its first Einstein turn)."""
    conversation = outcome.conversation
    body = {}
    if include_session_id:
        body["sessionId"] = str(conversation.pk)
    body["botVersion"] = str(conversation.bot_version) if conversation.bot_version is not None else None
    body["processedSequenceIds"] = processed
    body["messages"] = messages
    reply = outcome.reply
    if options.variables:
        changed = set(getattr(reply, "changed_variables", None) or ()) | set(outcome.variables_sent)
        variable_types = state.variable_types if state is not None else None
        body["variables"] = variables_json(conversation, changed, options, variable_types=variable_types)
    if options.intents:
        body["intents"] = intents_json(reply)
    if options.entities:
        body["entities"] = entities_json(reply)
    if options.metrics:
        body["metrics"] = {
            "processingTimeMs": int((time.monotonic() - started) * 1000),
            "messageCount": len(messages),
            "intentCount": len(getattr(reply, "intents", None) or []),
        }
    body["_links"] = links(request, conversation)
    return body
