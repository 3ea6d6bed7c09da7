"""Request bodies of the Einstein Bots runtime, checked against the spec's schemas.

The field names, the required fields and the enumerations are read from the spec file the adapter
ships (SPEC_PATH), once per process: the spec is their one place. The walk over them is written by
hand because it pays: a generic validator driven by the spec costs 17 to 370 times as much per
request (`bench/einstein_validation.py`, docs/performance.md: 25 to 56 µs here, 0.6 to 13 ms with
openapi-core or the JSON Schema validator it uses), of the order of a whole continue turn.
botportal's own rules follow the spec's: lengths from the models' max_length, texts by
`botportal.validation`.

The spec closes most objects (`additionalProperties: false`): unknown fields are refused by name, so
that a client's typo is reported instead of silently ignored. Each check raises InvalidInput.
"""

from dataclasses import dataclass, field

import yaml
from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from botportal import validation
from botportal.errors import InvalidInput
from sessions_app.models import Conversation
from sessions_app.protocols.einstein.models import EinsteinSession

from . import SPEC_PATH

INT64_MAX = 2**63 - 1


def _spec_schemas() -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=loader)["components"]["schemas"]  # noqa: S506


def _schema(schemas: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _fields(schema: dict) -> tuple[str, ...]:
    return tuple(schema.get("properties") or ())


_SCHEMAS = _spec_schemas()
_INIT = _SCHEMAS["InitMessageEnvelope"]
_CHAT = _SCHEMAS["ChatMessageEnvelope"]
_OPTIONS = _SCHEMAS["ResponseOptions"]
_OPTIONS_VARIABLES = _SCHEMAS["ResponseOptionsVariables"]

BEGIN_FIELDS, BEGIN_REQUIRED = _fields(_INIT), tuple(_INIT["required"])
INIT_MESSAGE_FIELDS = _fields(_schema(_SCHEMAS, _INIT["properties"]["message"]))
CONTINUE_FIELDS, CONTINUE_REQUIRED = _fields(_CHAT), tuple(_CHAT["required"])
OPTIONS_FIELDS = _fields(_OPTIONS)
OPTIONS_VARIABLES_FIELDS, OPTIONS_VARIABLES_REQUIRED = (
    _fields(_OPTIONS_VARIABLES),
    tuple(_OPTIONS_VARIABLES["required"]),
)
REFERRER_TYPES = tuple(_SCHEMAS["Referrer"]["properties"]["type"]["enum"])
FORMAT_TYPES = tuple(_SCHEMAS["FormatType"]["enum"])
MESSAGE_TYPES = tuple(_SCHEMAS["MessageType"]["enum"])
TRANSFER_FAILED_REASONS = tuple(_SCHEMAS["TransferFailedRequestMessage"]["properties"]["reason"]["enum"])
# Each message a client may send, by its `type`: its fields and the required ones.
_MESSAGES = [_schema(_SCHEMAS, choice) for choice in _CHAT["properties"]["message"]["oneOf"]]
MESSAGE_FIELDS = {message["properties"]["type"]["enum"][0]: _fields(message) for message in _MESSAGES}
MESSAGE_REQUIRED = {message["properties"]["type"]["enum"][0]: tuple(message["required"]) for message in _MESSAGES}
del _SCHEMAS, _INIT, _CHAT, _OPTIONS, _OPTIONS_VARIABLES, _MESSAGES


@dataclass
class ResponseOptions:
    variables: bool = False
    variables_filter: list[str] | None = None
    only_changed: bool = False
    metrics: bool = False
    intents: bool = False
    entities: bool = False


@dataclass
class BeginRequest:
    external_session_key: str
    force_config: dict
    text: str | None
    tz: str | None
    variables: list | None
    referrers: list
    options: ResponseOptions
    rich_content: dict = field(default_factory=dict)  # {"StaticContentMessage": ["Attachments", ...]}


@dataclass
class ContinueRequest:
    message: dict
    sequence_id: int
    options: ResponseOptions


_EXTERNAL_KEY_MAX_LENGTH = EinsteinSession._meta.get_field("external_session_key").max_length


def json_body(request):
    """The request's JSON body: application/json, within the size limit, well-formed."""
    content_type = (request.content_type or "").lower()
    if content_type != "application/json" and not (
        content_type.startswith("application/") and content_type.endswith("+json")
    ):
        raise InvalidInput(
            f"Unsupported content type {request.content_type or '(none)'!r}: send JSON with "
            "Content-Type: application/json."
        )
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if limit is not None and length > limit:
        raise InvalidInput(f"The request body is {length} bytes; the limit is {limit} bytes.")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise InvalidInput(f"The request body is larger than the limit of {limit} bytes.") from None
    if not raw.strip():
        raise InvalidInput("The request body is empty: a JSON object is required.")
    try:
        body = validation.json_loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidInput(f"The request body is not valid JSON: {error}.") from None
    validation.refuse_unstorable(body)
    return body


def _closed(value, allowed, where: str) -> None:
    unknown = [f"{where}.{name}" if where else name for name in sorted(set(value) - set(allowed))]
    if unknown:
        place = f" in {where}" if where else ""
        raise InvalidInput(
            f"Unknown field(s): {', '.join(unknown)} (allowed{place}: {', '.join(allowed)}).",
            fields=dict.fromkeys(unknown, "is not a known field"),
        )


def _object(value, where: str, *, nullable: bool = False) -> dict | None:
    if value is None and nullable:
        return None
    if not isinstance(value, dict):
        raise InvalidInput(fields={where: "must be an object"})
    return value


def _string(value, where: str, *, nullable: bool = False, required: bool = True) -> str | None:
    if value is None and (nullable or not required):
        return None
    if not isinstance(value, str):
        raise InvalidInput(fields={where: "must be a string"})
    return value


def _boolean(value, where: str, *, default=False) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidInput(fields={where: "must be true or false"})
    return value


def _integer(value, where: str, *, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not -INT64_MAX <= value <= INT64_MAX:
        raise InvalidInput(fields={where: "must be a whole number"})
    return value


def response_options_parse(value, where: str = "responseOptions") -> ResponseOptions:
    options = ResponseOptions()
    if value is None:
        return options
    _object(value, where)
    _closed(value, OPTIONS_FIELDS, where)
    options.metrics = _boolean(value.get("metrics"), f"{where}.metrics")
    options.intents = _boolean(value.get("intents"), f"{where}.intents")
    options.entities = _boolean(value.get("entities"), f"{where}.entities")
    variables = value.get("variables")
    if variables is not None:
        vwhere = f"{where}.variables"
        _object(variables, vwhere)
        _closed(variables, OPTIONS_VARIABLES_FIELDS, vwhere)
        for name in OPTIONS_VARIABLES_REQUIRED:
            if name not in variables:
                raise InvalidInput(fields={f"{vwhere}.{name}": "is required"})
        options.variables = _boolean(variables["include"], f"{vwhere}.include")
        options.only_changed = _boolean(variables["onlyChanged"], f"{vwhere}.onlyChanged")
        names = variables.get("filter")
        if names is not None:
            if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
                raise InvalidInput(fields={f"{vwhere}.filter": "must be a list of variable names"})
            options.variables_filter = names or None
    return options


def _rich_content_parse(value) -> dict:
    where = "richContentCapabilities"
    if value is None:
        return {}
    _object(value, where)
    if "messageTypes" not in value:
        raise InvalidInput(fields={f"{where}.messageTypes": "is required"})
    types = value["messageTypes"]
    if not isinstance(types, list):
        raise InvalidInput(fields={f"{where}.messageTypes": "must be a list"})
    capabilities: dict[str, list[str]] = {}
    for index, item in enumerate(types):
        iwhere = f"{where}.messageTypes[{index}]"
        _object(item, iwhere)
        if item.get("messageType") not in MESSAGE_TYPES:
            raise InvalidInput(fields={f"{iwhere}.messageType": f"must be one of {', '.join(MESSAGE_TYPES)}"})
        formats = item.get("formatTypes")
        if not isinstance(formats, list):
            raise InvalidInput(fields={f"{iwhere}.formatTypes": "is required and must be a list"})
        for findex, fmt in enumerate(formats):
            fwhere = f"{iwhere}.formatTypes[{findex}]"
            _object(fmt, fwhere)
            if fmt.get("formatType") not in FORMAT_TYPES:
                raise InvalidInput(fields={f"{fwhere}.formatType": f"must be one of {', '.join(FORMAT_TYPES)}"})
            capabilities.setdefault(item["messageType"], [])
            if fmt["formatType"] not in capabilities[item["messageType"]]:
                capabilities[item["messageType"]].append(fmt["formatType"])
    return capabilities


def _referrers_parse(value) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(fields={"referrers": "must be a list of {type, value} objects"})
    for index, item in enumerate(value):
        where = f"referrers[{index}]"
        _object(item, where)
        if item.get("type") not in REFERRER_TYPES:
            raise InvalidInput(fields={f"{where}.type": f"must be one of {', '.join(REFERRER_TYPES)}"})
        _string(item.get("value"), f"{where}.value")
    return value


def begin_request_parse(body) -> BeginRequest:
    """An InitMessageEnvelope."""
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object (InitMessageEnvelope).")
    _closed(body, BEGIN_FIELDS, "")
    missing = [name for name in BEGIN_REQUIRED if name not in body]
    if missing:
        raise InvalidInput(
            f"Missing required field(s): {', '.join(missing)}.", fields=dict.fromkeys(missing, "is required")
        )
    key = _string(body["externalSessionKey"], "externalSessionKey")
    if not key.strip() or len(key) > _EXTERNAL_KEY_MAX_LENGTH:
        raise InvalidInput(
            fields={
                "externalSessionKey": f"must be a non-empty string of at most {_EXTERNAL_KEY_MAX_LENGTH} characters"
            }
        )
    force_config = _object(body["forceConfig"], "forceConfig")
    if not isinstance(force_config.get("endpoint"), str) or not force_config["endpoint"]:
        raise InvalidInput(fields={"forceConfig.endpoint": "is required and must be a string"})
    text = None
    message = _object(body.get("message"), "message", nullable=True)
    if message is not None:
        _closed(message, INIT_MESSAGE_FIELDS, "message")
        text = _string(message.get("text"), "message.text", required=False)
    tz = body.get("tz")
    if tz is not None:
        # Within the stored length before any lookup: a name too long for a file name is no zone either.
        validation.short_text(tz, field="tz", model=Conversation, name="timezone")
    return BeginRequest(
        external_session_key=key,
        force_config=force_config,
        text=text,
        tz=tz,
        variables=body.get("variables"),
        referrers=_referrers_parse(body.get("referrers")),
        options=response_options_parse(body.get("responseOptions")),
        rich_content=_rich_content_parse(body.get("richContentCapabilities")),
    )


def continue_request_parse(body) -> ContinueRequest:
    """A ChatMessageEnvelope."""
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object (ChatMessageEnvelope).")
    _closed(body, CONTINUE_FIELDS, "")
    missing = [name for name in CONTINUE_REQUIRED if name not in body]
    if missing:
        raise InvalidInput(
            f"Missing required field(s): {', '.join(missing)}.", fields=dict.fromkeys(missing, "is required")
        )
    message = _object(body["message"], "message")
    kind = message.get("type")
    if kind not in MESSAGE_FIELDS:
        raise InvalidInput(fields={"message.type": f"must be one of {', '.join(MESSAGE_FIELDS)}, not {kind!r}"})
    _closed(message, MESSAGE_FIELDS[kind], "message")
    missing = [f"message.{name}" for name in MESSAGE_REQUIRED[kind] if name not in message]
    if missing:
        raise InvalidInput(
            f"Missing required field(s): {', '.join(missing)}.", fields=dict.fromkeys(missing, "is required")
        )
    sequence_id = _integer(message["sequenceId"], "message.sequenceId")
    _string(message.get("inReplyToMessageId"), "message.inReplyToMessageId", required=False)
    checked = {"type": kind, "sequenceId": sequence_id}
    if message.get("inReplyToMessageId"):
        checked["inReplyToMessageId"] = message["inReplyToMessageId"]
    if kind == "text":
        # Refused here, before the session is locked or anything is stored.
        checked["text"] = validation.message_text(message["text"], field="message.text")
    elif kind == "choice":
        choice_id = _string(message.get("choiceId"), "message.choiceId", nullable=True)
        choice_index = _integer(message.get("choiceIndex"), "message.choiceIndex", nullable=True)
        if choice_id is None and choice_index is None:
            raise InvalidInput(
                "A choice message needs choiceId or choiceIndex.",
                fields={"message.choiceId": "or choiceIndex is required"},
            )
        checked.update(choiceId=choice_id, choiceIndex=choice_index)
    elif kind == "transferFailed":
        if message.get("reason") not in TRANSFER_FAILED_REASONS:
            raise InvalidInput(fields={"message.reason": f"must be one of {', '.join(TRANSFER_FAILED_REASONS)}"})
        checked["reason"] = message["reason"]
        checked["description"] = _string(message.get("description"), "message.description", nullable=True)
    elif kind == "redirect":
        checked["dialogId"] = _string(message["dialogId"], "message.dialogId")
    return ContinueRequest(
        message=checked, sequence_id=sequence_id, options=response_options_parse(body.get("responseOptions"))
    )
