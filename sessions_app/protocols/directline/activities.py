"""A conversation's messages as Bot Framework activities, and the watermark that pages through them.

The watermark is the id of the last message read (a string, as clients keep it): every activity of one
message is delivered together, so a client never holds half a reply. A user message is one activity whose
id is the message's; a bot message becomes one activity per engine message (id `<message id>.<n>`).
"""

from datetime import timedelta

from sessions_app.models import MessageType
from sessions_app.selectors.conversations import last_message_id_of_type, message_row_page

from .services import META_KEY, directline_state

CHANNEL_ID = "directline"
PAGE_SIZE = 100
SHOWN_TYPES = (MessageType.USER, MessageType.BOT)
MAX_MESSAGE_ID = 2**63 - 1
# A reader that does not know which user message its watermark's page answers: it is looked up.
REPLY_TO_UNKNOWN = object()


def watermark_parse(value) -> int | None:
    """A client's watermark: None (from the start) unless it is a message id; anything else reads all."""
    if value in (None, ""):
        return None
    try:
        number = int(str(value))
    except ValueError:
        return None
    # A number no message id can reach (past a 64-bit integer, which the databases refuse) reads all too.
    return number if 0 <= number <= MAX_MESSAGE_ID else None


def iso(moment) -> str:
    # Microseconds: the activities of one message are a microsecond apart (see _base), which
    # milliseconds would merge into one timestamp.
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def bot_account(bot) -> dict:
    return {"id": str(bot.pk), "name": bot.name or "Bot", "role": "bot"}


def user_account(conversation, message_meta: dict | None = None) -> dict:
    posted = ((message_meta or {}).get(META_KEY) or {}).get("from")
    if isinstance(posted, dict) and posted.get("id"):
        account = {"id": str(posted["id"]), "role": "user"}
        if posted.get("name"):
            account["name"] = str(posted["name"])
        return account
    state = directline_state(conversation)
    account = {"id": (state.user_id if state else "") or f"user-{conversation.pk}", "role": "user"}
    if state is not None and state.user_name:
        account["name"] = state.user_name
    return account


def activities_after(conversation, watermark: int | None) -> tuple[list[dict], str | None]:
    """The activities after `watermark` (a page of messages at most) and the new watermark."""
    found, new_watermark, _ = activities_page(conversation, watermark)
    return found, new_watermark


def activities_page(
    conversation, watermark: int | None, *, until=None, replying_to=REPLY_TO_UNKNOWN
) -> tuple[list[dict], str | None, bool]:
    """`activities_after`, and whether the page was full (more may follow). With `until`, only the
    messages stored by then (a socket whose token has just ended). `replying_to`: the id of the last
    user message up to `watermark` (None: there is none), when the reader knows it (`last_user_message`
    of what it was sent before); else looked up."""
    rows = message_row_page(conversation_id=conversation.pk, take=PAGE_SIZE, order="asc", after=watermark)
    cut = False
    if until is not None:
        kept = [row for row in rows if row["created_at"] <= until]
        rows, cut = kept, len(kept) < len(rows)
    if not rows:
        return [], None if watermark is None else str(watermark), False
    reply_to = None
    if watermark is not None and replying_to is not REPLY_TO_UNKNOWN:
        reply_to = replying_to
    elif watermark is not None and any(row["type"] == MessageType.BOT for row in rows):
        # The user message the page's first bot reply answers may lie before the watermark.
        reply_to = last_message_id_of_type(
            conversation_id=conversation.pk, message_type=MessageType.USER, at_most=watermark
        )
    activities = []
    for row in rows:
        if row["type"] == MessageType.USER:
            reply_to = row["id"]
            activities.append(user_activity(conversation, row))
        elif row["type"] == MessageType.BOT:
            activities.extend(bot_activities(conversation, row, reply_to=reply_to))
    return activities, str(rows[-1]["id"]), len(rows) == PAGE_SIZE and not cut


def last_user_message(activities: list[dict], before: int | None) -> int | None:
    """The id of the last user message among `activities` (a page as `activities_page` gives it), else
    `before`: what a reader that has been sent every page in turn passes as `replying_to` next."""
    for activity in reversed(activities):
        if activity.get("from", {}).get("role") == "user":
            return int(activity["id"])
    return before


def _base(conversation, row, *, activity_id: str, kind: str, index: int = 0) -> dict:
    # Activities of one message share its moment; a microsecond apart, Web Chat keeps them in order.
    return {
        "type": kind,
        "id": activity_id,
        "timestamp": iso(row["created_at"] + timedelta(microseconds=index)),
        "channelId": CHANNEL_ID,
        "conversation": {"id": str(conversation.pk)},
    }


def user_activity(conversation, row) -> dict:
    meta = row.get("meta") or {}
    posted = meta.get(META_KEY) or {}
    activity = _base(conversation, row, activity_id=str(row["id"]), kind="message")
    activity.update(
        {
            "from": user_account(conversation, meta),
            "recipient": bot_account(conversation.bot),
            "text": row["text"],
            "textFormat": "plain",
        }
    )
    if posted.get("channelData") is not None:
        activity["channelData"] = posted["channelData"]
    if posted.get("attachments"):
        activity["attachments"] = posted["attachments"]
    if posted.get("value") is not None:
        activity["value"] = posted["value"]
    if posted.get("localTimestamp"):
        activity["localTimestamp"] = posted["localTimestamp"]
    return activity


def _parts(row) -> list[dict]:
    parts = (row.get("meta") or {}).get("messages")
    if isinstance(parts, list) and parts:
        return [part for part in parts if isinstance(part, dict)]
    return [{"type": "text", "text": row["text"]}] if row["text"] else []


def bot_activities(conversation, row, *, reply_to=None) -> list[dict]:
    """One bot message's activities: its engine messages mapped onto the activity schema."""
    bot, recipient = bot_account(conversation.bot), user_account(conversation)
    activities, actions = [], []

    def add(kind: str, **fields):
        index = len(activities)
        activity = _base(conversation, row, activity_id=f"{row['id']}.{index}", kind=kind, index=index)
        activity.update({"from": bot, "recipient": recipient, **fields})
        if reply_to is not None:
            activity["replyToId"] = str(reply_to)
        activities.append(activity)

    for part in _parts(row):
        kind, text = part.get("type", "text"), str(part.get("text") or "")
        if kind == "choices":
            actions += [
                {"type": "imBack", "title": choice.get("label", ""), "value": choice.get("label", "")}
                for choice in part.get("choices") or []
            ]
            if text:
                add("message", text=text, textFormat="plain")
        elif kind == "link":
            label = (text or part.get("url", "")).replace("[", "\\[").replace("]", "\\]")
            add("message", text=f"[{label}]({part.get('url', '')})", textFormat="markdown")
        elif kind == "escalate":
            if text:
                add("message", text=text, textFormat="plain")
            add("event", name="handoff", value={"targets": part.get("targets") or []})
        elif kind == "end":
            if text:
                add("message", text=text, textFormat="plain")
            add("endOfConversation", code="completedSuccessfully")
        elif text:
            add("message", text=text, textFormat="plain")
    if actions:
        # Web Chat shows suggested actions only on the last bot message: the reply's last one carries them.
        messages = [activity for activity in activities if activity["type"] == "message"]
        if not messages:
            add("message", text="", textFormat="plain")
            messages = [activities[-1]]
        messages[-1]["suggestedActions"] = {"actions": actions}
        messages[-1]["inputHint"] = "expectingInput"
    return activities


def typing_activity(conversation, *, reply_to, at) -> dict:
    """A bot's typing indicator while a streamed answer is produced: never stored, only sent on sockets."""
    return {
        "type": "typing",
        "id": f"typing-{reply_to}",
        "timestamp": iso(at),
        "channelId": CHANNEL_ID,
        "conversation": {"id": str(conversation.pk)},
        "from": bot_account(conversation.bot),
        "recipient": user_account(conversation),
        "replyToId": str(reply_to),
    }


def user_meta_from_activity(activity: dict, *, attachments=None) -> dict:
    """What a posted activity's message keeps of it, under botportal's reserved key."""
    kept = {}
    for key in ("channelData", "from", "value", "localTimestamp"):
        if activity.get(key) is not None:
            kept[key] = activity[key]
    if attachments:
        kept["attachments"] = attachments
    return {META_KEY: kept}

