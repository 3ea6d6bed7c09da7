from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Turn:
    """What the engine needs to answer: the bot, the conversation's state and the user's input."""

    bot: Any  # bots.models.Bot
    variables: dict
    state: dict  # engine state kept on the conversation between turns
    text: str | None = None
    choice_id: str | None = None
    timezone: str = "UTC"
    history: tuple = ()  # recent (type, text) pairs, oldest first
    choice_index: int | None = None  # 1-based position of an offered choice (Einstein's choiceIndex)
    dataset_id: Any = None  # the dataset the conversation is bound to; None: the bot's own


@dataclass(frozen=True)
class DetectedIntent:
    label: str
    confidence: float
    source: str  # "DIRECT" for an exact utterance match, "CORE_NLP" for the classifier


@dataclass(frozen=True)
class DetectedEntity:
    type: str
    value: Any
    text: str
    confidence: float = 1.0


@dataclass
class EngineReply:
    messages: list[dict]
    intents: list[DetectedIntent] = field(default_factory=list)
    entities: list[DetectedEntity] = field(default_factory=list)
    variables: dict = field(default_factory=dict)
    changed_variables: set[str] = field(default_factory=set)
    state: dict = field(default_factory=dict)
    ended: bool = False
    escalated: bool = False

    @property
    def text(self) -> str:
        """The reply as one plain text, for protocols that carry a single text."""
        return "\n\n".join(part for part in (message_text(m) for m in self.messages) if part)


def message_text(message: dict) -> str:
    """One bot message as plain text: a link shows its address too."""
    text = message.get("text") or ""
    if message.get("type") == "link" and message.get("url") and message["url"] not in text:
        return f"{text}: {message['url']}" if text else message["url"]
    return text
