"""Input rules shared by every protocol and the admin. Each raises InvalidInput naming the field."""

import ipaddress
import json
import math
import re
import uuid
from urllib.parse import urlsplit

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, validate_email

from botportal.errors import InvalidInput

# How deeply arrays and objects may nest in a JSON document a client sends. Nothing botportal stores
# needs more; far deeper would exhaust the parser's (and every later walk's) recursion.
MAX_JSON_DEPTH = 64


def json_loads(raw: str | bytes) -> object:
    """A client's JSON document, parsed: ValueError (with the reason) if it is not JSON, uses NaN or
    Infinity or a number too large for a float (which jsonb and SQLite's JSON refuse as Infinity), or
    nests deeper than MAX_JSON_DEPTH."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError(f"arrays and objects nest deeper than {MAX_JSON_DEPTH} levels") from None
    json_depth_check(value)
    return value


def json_depth_check(value) -> None:
    """ValueError if arrays and objects nest deeper than MAX_JSON_DEPTH (checked without recursion)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"arrays and objects nest deeper than {MAX_JSON_DEPTH} levels")
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:40]} is too large")
    return number


def uuid_or_none(value) -> uuid.UUID | None:
    """The UUID a client's id names, or None when it names none: the one parser of ids for every protocol
    and the admin, each answering None in its own error shape (usually "not found": a malformed id names
    nothing, like an unknown one). Accepts the forms uuid.UUID does (hyphens, braces, urn:uuid:)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def session_duration_bounds() -> tuple[int, int, int]:
    """(shortest, longest, default) session duration in seconds, from the settings: every protocol, the
    admin's choices and the schemas' descriptions read them here."""
    limits = settings.BOTPORTAL
    return limits["SESSION_DURATION_MIN"], limits["SESSION_DURATION_MAX"], limits["SESSION_DURATION_DEFAULT"]


def session_duration_rule() -> str:
    """The session duration rule in words, for error messages and API schemas."""
    low, high, default = session_duration_bounds()
    return f"a whole number of seconds from {low} to {high} (missing, null or 0: {default})"


def session_duration(value, *, field: str = "durationInSeconds") -> int:
    """A session's duration in seconds: missing, null or 0 mean the default; anything else must be in bounds."""
    low, high, default = session_duration_bounds()
    if value is None or (value == 0 and not isinstance(value, bool)):
        return default
    whole = isinstance(value, int) and not isinstance(value, bool)
    whole = whole or (isinstance(value, float) and value.is_integer())
    if not whole or not low <= int(value) <= high:
        raise InvalidInput(fields={field: f"must be {session_duration_rule()}"})
    return int(value)


# How long a bot may keep its conversations: a day to a hundred years. Beyond that the prune's cutoff
# date leaves the calendar (datetime's year 1) and nothing could be pruned for anyone.
RETENTION_DAYS_MIN = 1
RETENTION_DAYS_MAX = 36500
# The same bounds for the model field, so that the admin's form and full_clean() refuse what the API does.
RETENTION_DAYS_VALIDATORS = [MinValueValidator(RETENTION_DAYS_MIN), MaxValueValidator(RETENTION_DAYS_MAX)]


def retention_days_valid(value) -> bool:
    whole = isinstance(value, int) and not isinstance(value, bool)
    return whole and RETENTION_DAYS_MIN <= value <= RETENTION_DAYS_MAX


def retention_days(value, *, field: str = "conversationRetentionDays") -> int | None:
    """A bot's conversation retention in days, or None (the global setting applies)."""
    if value is None:
        return None
    if not retention_days_valid(value):
        raise InvalidInput(
            fields={field: f"must be a whole number of days from {RETENTION_DAYS_MIN} to {RETENTION_DAYS_MAX}, or null"}
        )
    return value
# Keys starting with this in any meta object are botportal's own (e.g. the Einstein runtime's state in
# a conversation's meta): clients may neither write nor read them.
RESERVED_META_PREFIX = "_"

# Message meta keys that botportal writes: what the engine detected in a user message (intents,
# entities), a bot message's rich content (messages) and the Einstein runtime's protocol details. The
# transcript, its exports and the protocols read them as the server's word, so no client may set them.
SERVER_MESSAGE_META_KEYS = frozenset(
    {"intents", "entities", "messages", "protocol", "type", "inReplyToMessageId", "choiceId", "dialogId", "reason"}
)


def meta(value, *, field: str = "meta") -> dict:
    """Free-form metadata: an object whose keys do not start with an underscore (those are botportal's)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(fields={field: "must be an object"})
    reserved = sorted(key for key in value if str(key).startswith(RESERVED_META_PREFIX))
    if reserved:
        raise InvalidInput(fields={field: f"keys may not start with '_': {', '.join(reserved)}"})
    return value


def message_meta(value, *, field: str = "meta") -> dict:
    """A client's meta for a message: `meta`'s rules, and none of the keys botportal writes itself."""
    checked = meta(value, field=field)
    taken = sorted(SERVER_MESSAGE_META_KEYS.intersection(checked))
    if taken:
        raise InvalidInput(fields={field: f"keys written by botportal may not be set: {', '.join(taken)}"})
    return checked


def meta_replace(stored, value: dict) -> dict:
    """A client's new meta (already checked) in place of the stored one, keeping botportal's own keys."""
    kept = {key: inner for key, inner in (stored or {}).items() if str(key).startswith(RESERVED_META_PREFIX)}
    return {**value, **kept}


def meta_public(value) -> dict:
    """What a client may read of a meta object: everything but botportal's own keys."""
    if not isinstance(value, dict):
        return {}
    return {key: inner for key, inner in value.items() if not str(key).startswith(RESERVED_META_PREFIX)}


# The longest address SMTP carries (RFC 5321), and what botportal stores.
EMAIL_MAX_LENGTH = 254


def max_length(model, name: str) -> int | None:
    """The longest string `model`'s field `name` stores: the bound short_text checks and schemas document."""
    return model._meta.get_field(name).max_length


def short_text(value, *, field: str, model, name: str, required: bool = False) -> str:
    """A string for `model`'s field `name`, within that field's max_length: the model is the one rule.

    Missing or null is "" unless `required`.
    """
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(fields={field: "must be a string"})
    if required and not value.strip():
        raise InvalidInput(fields={field: "is required"})
    limit = max_length(model, name)
    if limit is not None and len(value) > limit:
        raise InvalidInput(fields={field: f"is {len(value)} characters long; the limit is {limit}"})
    return value


def email(value, *, field: str = "email") -> str:
    """An email address, normalised to lower case so the same person is recognised when they return."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise InvalidInput(fields={field: "must be a string"})
    normalised = value.strip().lower()
    if len(normalised) > EMAIL_MAX_LENGTH:
        raise InvalidInput(fields={field: f"is longer than {EMAIL_MAX_LENGTH} characters"})
    try:
        validate_email(normalised)
    except ValidationError:
        raise InvalidInput(fields={field: f"{value!r} is not a valid email address"}) from None
    return normalised


def phone(value, *, field: str = "phone") -> str:
    """A phone number, normalised to E.164. Without a country code the configured default region applies."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise InvalidInput(fields={field: "must be a string"})
    region = settings.BOTPORTAL.get("PHONE_DEFAULT_REGION")
    problem = f"{value!r} is not a valid phone number (use the international format, e.g. +14155552671)"
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(fields={field: problem}) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(fields={field: problem})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def message_text(value, *, field: str = "text", required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(fields={field: "must be a string"})
    if required and not value.strip():
        raise InvalidInput(fields={field: "may not be empty"})
    limit = settings.BOTPORTAL["MAX_MESSAGE_CHARS"]
    if len(value) > limit:
        raise InvalidInput(fields={field: f"is {len(value)} characters long; the limit is {limit}"})
    return value


def refuse_unstorable(value, where: str = "") -> None:
    """NUL characters and lone surrogates (JSON allows "\\ud800") cannot be stored: PostgreSQL refuses them
    in text and jsonb, and they have no UTF-8 form. A 400 now rather than a 500 later.

    Every JSON body of both protocols goes through this, keys included.
    """
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput(fields={where or "body": "must not contain NUL characters"})
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(fields={where or "body": "must be valid Unicode (no lone surrogates)"}) from None
    elif isinstance(value, dict):
        for key, inner in value.items():
            refuse_unstorable(key, where or "body")
            refuse_unstorable(inner, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            refuse_unstorable(inner, f"{where}[{index}]")


def messages(value, *, allowed_types, field: str = "messages") -> list[dict]:
    """A list of messages {type, text, meta?}, each type one of `allowed_types`; every problem is named."""
    if value is None:
        return []
    shape = "{type, text}"
    if not isinstance(value, list):
        raise InvalidInput(fields={field: f"must be a list of {shape} objects"})
    problems, checked = {}, []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(item, dict):
            problems[where] = f"must be an object {shape}"
            continue
        if item.get("type") not in allowed_types:
            problems[f"{where}.type"] = f"must be one of {', '.join(allowed_types)}, not {item.get('type')!r}"
            continue
        try:
            text = message_text(item.get("text"), field=f"{where}.text")
            item_meta = message_meta(item.get("meta"), field=f"{where}.meta")
        except InvalidInput as error:
            problems.update(error.fields)
            continue
        checked.append({"type": item["type"], "text": text, "meta": item_meta})
    if problems:
        raise InvalidInput(fields=problems)
    return checked


def collect(*checks):
    """Run several field checks and raise one InvalidInput naming every invalid field.

    Each check is a zero-argument callable; the results are returned in order.
    """
    results, problems = [], {}
    for check in checks:
        try:
            results.append(check())
        except InvalidInput as error:
            problems.update(error.fields or {"": error.message})
            results.append(None)
    if problems:
        raise InvalidInput(fields=problems)
    return results


# --- origins ---------------------------------------------------------------------------------------
# A bot's allowed origins feed both CSP frame-ancestors (where `*` is a wildcard) and CORS (which
# compares literally), so only exact origins are accepted: the two must never read one entry two ways.
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
ORIGIN_FORMAT = "scheme://host[:port] with http or https, no path, no wildcard"


def _origin_host(hostname: str) -> str | None:
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        pass
    else:
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    try:
        host = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in host.split(".")):
        return None
    return host


def origin_normalize(value) -> str | None:
    """`scheme://host[:port]` in lower case without a default port, or None if `value` is not exactly one origin."""
    if not isinstance(value, str) or any(c in value for c in " \t\r\n;,'\"*"):
        return None
    try:
        parts = urlsplit(value.strip().rstrip("/"))
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path or parts.query or parts.fragment:
        return None
    if parts.username is not None or parts.password is not None or value.strip().endswith(("?", "#")):
        return None
    host = _origin_host(parts.hostname.lower())
    if host is None:
        return None
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


def bot_origins(allowed_origins) -> list[str]:
    """A bot's allowed origins, normalised; entries that are not exact origins (a wildcard stored before
    they were refused, say) are ignored, by frame-ancestors and CORS alike."""
    if not isinstance(allowed_origins, list):
        return []
    origins = (origin_normalize(item) for item in allowed_origins)
    return list(dict.fromkeys(origin for origin in origins if origin))


def origin_allowed(*, allowed_origins, origin: str | None) -> bool:
    normalized = origin_normalize(origin)
    return normalized is not None and normalized in bot_origins(allowed_origins)



def allowed_origins(value, *, field: str = "allowedOrigins") -> list[str]:
    """A bot's allowed origins: a list of exact origins, returned normalised and without duplicates."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(fields={field: f"must be a list of origins ({ORIGIN_FORMAT})"})
    problems, origins = {}, []
    for index, item in enumerate(value):
        origin = origin_normalize(item)
        if origin is None:
            problems[f"{field}[{index}]"] = f"{item!r} is not an origin ({ORIGIN_FORMAT})"
        else:
            origins.append(origin)
    if problems:
        raise InvalidInput(fields=problems)
    return list(dict.fromkeys(origins))
