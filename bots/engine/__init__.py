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

A turn that needs the network (a language model, a webhook ability) is answered in steps by `TurnRun`:
its database reads and CPU work first, then the calls awaited (httpx, `transport`), then the rest, so a
caller can hold its transaction for the first step only.
"""

from .core import (
    LLMCall,
    TurnRun,
    WebhookCall,
    detect_entities,
    offered_choices,
    reply_pieces,
    respond,
    stream,
    variable_defaults,
    welcome,
)
from .types import DetectedEntity, DetectedIntent, EngineReply, Turn

__all__ = [
    "DetectedEntity",
    "DetectedIntent",
    "EngineReply",
    "LLMCall",
    "Turn",
    "TurnRun",
    "WebhookCall",
    "detect_entities",
    "offered_choices",
    "reply_pieces",
    "respond",
    "stream",
    "variable_defaults",
    "welcome",
]
