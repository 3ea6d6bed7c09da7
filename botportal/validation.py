"""Input rules shared by every protocol and the admin. Each raises InvalidInput naming the field."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from botportal.errors import InvalidInput


def session_duration(value, *, field: str = "durationInSeconds") -> int:
    """A session's duration in seconds: missing, null or 0 mean the default; anything else must be in bounds."""
    limits = settings.BOTPORTAL
    low, high = limits["SESSION_DURATION_MIN"], limits["SESSION_DURATION_MAX"]
    if value is None or (value == 0 and not isinstance(value, bool)):
        return limits["SESSION_DURATION_DEFAULT"]
    whole = isinstance(value, int) and not isinstance(value, bool)
    whole = whole or (isinstance(value, float) and value.is_integer())
    if not whole or not low <= int(value) <= high:
        default = limits["SESSION_DURATION_DEFAULT"]
        raise InvalidInput(
            fields={field: f"must be a whole number of seconds from {low} to {high} (0 or null: {default})"}
        )
    return int(value)


def meta(value, *, field: str = "meta") -> dict:
    """Free-form metadata: an object whose keys do not start with an underscore (those are botportal's)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(fields={field: "must be an object"})
    reserved = sorted(key for key in value if str(key).startswith("_"))
    if reserved:
        raise InvalidInput(fields={field: f"keys may not start with '_': {', '.join(reserved)}"})
    return value


def email(value, *, field: str = "email") -> str:
    """An email address, normalised to lower case so the same person is recognised when they return."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise InvalidInput(fields={field: "must be a string"})
    normalised = value.strip().lower()
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
