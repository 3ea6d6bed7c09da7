"""The transcript page's presenter: each message as a turn with its side, detected intents and entities,
and the choices a bot message offered, whatever shape the engine stored them in."""


def message_intents(message):
    return (message.meta or {}).get("intents") or []


def message_entities(message):
    return (message.meta or {}).get("entities") or []


def _choices(message) -> list[str]:
    """The labels of the choices a bot message offered."""
    parts = (message.meta or {}).get("messages") or []
    return [
        choice.get("label", "")
        for part in parts
        if isinstance(part, dict) and part.get("type") == "choices"
        for choice in part.get("choices", [])
        if isinstance(choice, dict)
    ]


def _detection_label(item) -> str:
    """One detected intent or entity as a short label, whatever shape the engine stored."""
    if not isinstance(item, dict):
        return str(item)
    name = item.get("label") or item.get("name") or item.get("type") or "?"
    value = item.get("value")
    text = f"{name}={value}" if value not in (None, "") else str(name)
    confidence = item.get("confidence")
    if isinstance(confidence, int | float):
        text += f" ({confidence:.2f})"
    return text


def transcript_turns(*, messages) -> list[dict]:
    """The turns of one page of a transcript, for templates/admin/sessions_app/conversation/transcript.html."""
    return [
        {
            "message": message,
            "side": "user" if message.type == "user" else ("bot" if message.type == "bot" else "other"),
            "intents": [_detection_label(i) for i in message_intents(message)],
            "entities": [_detection_label(e) for e in message_entities(message)],
            "choices": _choices(message),
        }
        for message in messages
    ]
