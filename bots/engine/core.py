from collections.abc import Iterator

from .types import EngineReply, Turn


def welcome(turn: Turn) -> EngineReply:
    """The bot's welcome messages, sent when a session begins."""
    messages = [{"type": "text", "text": text} for text in turn.bot.welcome_messages if text]
    return EngineReply(messages=messages, variables=dict(turn.variables), state=dict(turn.state))


def respond(turn: Turn) -> EngineReply:
    """Answer one user turn. This minimal engine answers every turn with the bot's fallback message."""
    return EngineReply(
        messages=[{"type": "text", "text": turn.bot.fallback_message}],
        variables=dict(turn.variables),
        state=dict(turn.state),
    )


def stream(turn: Turn) -> Iterator[str | EngineReply]:
    """Yield the reply's text in pieces as it is produced, then the whole EngineReply last."""
    reply = respond(turn)
    for index, word in enumerate(reply.text.split(" ")):
        yield word if index == 0 else " " + word
    yield reply


def detect_entities(turn: Turn) -> list:
    """The entities found in the turn's text, without answering it. The minimal engine finds none."""
    return []
