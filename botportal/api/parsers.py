"""The JSON parser of every /api/v1 route: botportal's one JSON reading rule (botportal.validation.json_loads)."""

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from botportal import validation


class JsonParser(JSONParser):
    """DRF's JSON parser, refusing what botportal cannot take (NaN, Infinity, deep nesting) with a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return validation.json_loads(stream.read().decode(encoding))
        except (UnicodeDecodeError, ValueError) as error:
            raise ParseError(f"JSON parse error - {error}") from None
