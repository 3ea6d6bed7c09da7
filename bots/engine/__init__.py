"""The bot engine: one user turn in, the bot's messages out.

Both wire protocols call `respond` (and `welcome`) through this one interface; nothing here knows
which protocol asked. Bot messages are plain dicts so that they can be stored in a message's meta
and rendered by either protocol:

    {"type": "text", "text": "..."}
    {"type": "choices", "text": "...", "choices": [{"id": "...", "label": "...", "intent": "..."}]}
    {"type": "escalate", "text": "...", "targets": [{"type": "...", "target": "..."}]}
    {"type": "link", "text": "...", "url": "..."}
    {"type": "end", "text": "..."}
"""

from .core import detect_entities, respond, stream, welcome
from .types import DetectedEntity, DetectedIntent, EngineReply, Turn

__all__ = ["DetectedEntity", "DetectedIntent", "EngineReply", "Turn", "detect_entities", "respond", "stream", "welcome"]
