"""Lifecycle tasks, scheduled by Celery beat (django-celery-beat entries from migration 0004).

Each task is a thin call into `sessions_app.services.lifecycle` and returns that run's counts.
"""

from celery import shared_task

from sessions_app.services import lifecycle

EXPIRE_SESSIONS_TASK = "sessions_app.expire_sessions"
END_IDLE_CONVERSATIONS_TASK = "sessions_app.end_idle_conversations"
PRUNE_SESSIONS_TASK = "sessions_app.prune_sessions"
PRUNE_CONVERSATIONS_TASK = "sessions_app.prune_conversations"
PURGE_DELETED_TASK = "sessions_app.purge_deleted"


@shared_task(name=EXPIRE_SESSIONS_TASK)
def expire_sessions() -> dict:
    return lifecycle.bot_sessions_expire().as_dict()


@shared_task(name=END_IDLE_CONVERSATIONS_TASK)
def end_idle_conversations() -> dict:
    return lifecycle.conversations_end_idle().as_dict()


@shared_task(name=PRUNE_SESSIONS_TASK)
def prune_sessions() -> dict:
    return lifecycle.bot_sessions_prune().as_dict()


@shared_task(name=PRUNE_CONVERSATIONS_TASK)
def prune_conversations() -> dict:
    result = lifecycle.conversations_prune().as_dict()
    # Also finishes whatever a delete left behind (a lost task, a killed worker).
    result["purge_deleted"] = lifecycle.deleted_purge().as_dict()
    return result


@shared_task(name=PURGE_DELETED_TASK)
def purge_deleted() -> dict:
    return lifecycle.deleted_purge().as_dict()
