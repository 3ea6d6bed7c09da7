"""Session lifecycle: expire tokens, end idle conversations, prune old sessions and conversations, purge
what was deleted.

`policies` says what each task does to which rows; `batches` is the machinery they share (a run's record,
the primary-key batch loop, the generic batch deleter) and `locks` keeps one run of a task at a time.
"""

from sessions_app.services.lifecycle.batches import MAX_BATCH_SIZE, LifecycleRun
from sessions_app.services.lifecycle.locks import LOCK_TIMEOUT, lifecycle_lock
from sessions_app.services.lifecycle.policies import (
    END_IDLE_CONVERSATIONS,
    EXPIRE_SESSIONS,
    PRUNE_CONVERSATIONS,
    PRUNE_SESSIONS,
    PURGE_DELETED,
    bot_purge,
    bot_sessions_expire,
    bot_sessions_prune,
    contact_purge,
    conversations_end_idle,
    conversations_prunable,
    conversations_prune,
    deleted_purge,
    owner_purge,
)

__all__ = [
    "END_IDLE_CONVERSATIONS",
    "EXPIRE_SESSIONS",
    "LOCK_TIMEOUT",
    "MAX_BATCH_SIZE",
    "PRUNE_CONVERSATIONS",
    "PRUNE_SESSIONS",
    "PURGE_DELETED",
    "LifecycleRun",
    "bot_purge",
    "bot_sessions_expire",
    "bot_sessions_prune",
    "contact_purge",
    "conversations_end_idle",
    "conversations_prunable",
    "conversations_prune",
    "deleted_purge",
    "lifecycle_lock",
    "owner_purge",
]
