"""Transcript exports from the admin: CSV and JSON, streamed message by message so that a large export
never sits in memory whole; every CSV cell made safe for spreadsheets."""

import csv
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from django.utils import timezone

from sessions_app.admin.transcript import message_entities, message_intents
from sessions_app.selectors.admin import transcript_messages_for_export

EXPORT_FIELDS = (
    "conversation_id",
    "bot",
    "contact_email",
    "origin",
    "conversation_started_at",
    "ended_at",
    "end_reason",
    "message_id",
    "type",
    "text",
    "created_at",
    "intents",
    "entities",
)


# A spreadsheet reads a cell beginning with one of these as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str:
    """A CSV cell a spreadsheet shows as text: one that would start a formula gets a leading `'`."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class _Echo:
    def write(self, value):
        return value


def transcripts_csv_response(*, conversations) -> StreamingHttpResponse:
    """The conversations' messages as one CSV download, streamed."""
    writer = csv.writer(_Echo())

    def row(cells):
        # Every cell, not only the message text: names, emails and reasons are typed by someone too.
        return writer.writerow([spreadsheet_safe(cell) for cell in cells])

    def rows():
        yield row(EXPORT_FIELDS)
        for m in transcript_messages_for_export(conversations_queryset=conversations).iterator(chunk_size=2000):
            c = m.conversation
            yield row(
                [
                    c.pk,
                    c.bot.name if c.bot else "",
                    c.contact.email if c.contact else "",
                    c.origin,
                    c.created_at.isoformat(),
                    c.ended_at.isoformat() if c.ended_at else "",
                    c.end_reason,
                    m.pk,
                    m.type,
                    m.text,
                    m.created_at.isoformat(),
                    json.dumps(message_intents(m)),
                    json.dumps(message_entities(m)),
                ]
            )

    return _download(rows(), "text/csv", "csv")


def transcripts_json_response(*, conversations) -> StreamingHttpResponse:
    """The conversations with their messages as one JSON array download, streamed."""

    def chunks():
        # Streamed conversation by conversation so a large export never sits in memory whole.
        yield "["
        current = None
        first_message = True
        for m in transcript_messages_for_export(conversations_queryset=conversations).iterator(chunk_size=2000):
            if m.conversation_id != current:
                c = m.conversation
                yield (
                    ("]}," if current is not None else "")
                    + json.dumps(
                        {
                            "id": c.pk,
                            "bot": {"id": c.bot_id, "name": c.bot.name} if c.bot else None,
                            "contact": {"id": c.contact_id, "email": c.contact.email, "name": c.contact.name}
                            if c.contact
                            else None,
                            "origin": c.origin,
                            "created_at": c.created_at,
                            "ended_at": c.ended_at,
                            "end_reason": c.end_reason,
                            "variables": c.variables,
                        },
                        cls=DjangoJSONEncoder,
                    )[:-1]
                    + ', "messages": ['
                )
                current = m.conversation_id
                first_message = True
            yield ("" if first_message else ",") + json.dumps(
                {
                    "id": m.pk,
                    "type": m.type,
                    "text": m.text,
                    "created_at": m.created_at,
                    "intents": message_intents(m),
                    "entities": message_entities(m),
                },
                cls=DjangoJSONEncoder,
            )
            first_message = False
        yield ("]}" if current is not None else "") + "]"

    return _download(chunks(), "application/json", "json")


def _download(content, content_type, extension) -> StreamingHttpResponse:
    response = StreamingHttpResponse(content, content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="transcripts-{stamp}.{extension}"'
    return response
