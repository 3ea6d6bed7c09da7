"""The bot engine: one user turn in, the bot's messages out.

Both wire protocols call `respond` (and `welcome`) through this one interface; nothing here knows
which protocol asked. Bot messages are plain dicts so that they can be stored in a message's meta
and rendered by either protocol:

    {"type": "text", "text": "..."}
    {"type": "choices", "text": "...", "choices": [{"id": "...", "label": "...", "alias": "1", "intent": "..."}]}
    {"type": "escalate", "text": "...", "targets": [{"type": "...", "target": "..."}]}
    {"type": "link", "text": "...", "url": "..."}
    {"type": "end", "text": "..."}

Choice ids are stable (derived from the bot, the intent, the position and the label unless the definition
gives one); `EngineReply.state` remembers the choices on offer, so the next turn's `choice_id`,
`choice_index` (1-based) or the label typed as text selects one. `EngineReply.ended` means the
conversation is over; `EngineReply.escalated` that a transfer to a person was asked for.
"""

from .core import detect_entities, offered_choices, respond, stream, variable_defaults, welcome
from .types import DetectedEntity, DetectedIntent, EngineReply, Turn

__all__ = [
    "DetectedEntity",
    "DetectedIntent",
    "EngineReply",
    "Turn",
    "detect_entities",
    "offered_choices",
    "respond",
    "stream",
    "variable_defaults",
    "welcome",
]
