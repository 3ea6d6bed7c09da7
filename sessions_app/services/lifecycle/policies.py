"""The lifecycle's policies: expire tokens, end idle conversations, prune old sessions and conversations,
purge what was deleted. The batching and locking they run on is `batches` and `locks` beside this module.

Every service here is safe to run at any time and any number of times:
- work goes in primary-key batches (`BOTPORTAL["PRUNE_BATCH_SIZE"]`), each batch its own short
  transaction, so a run over millions of rows neither holds locks for long nor collects rows in Python;
- a killed run loses nothing it should have kept (each committed batch is complete on its own) and the
  next run picks up whatever is left, because every batch re-selects by the same condition;
- only one run of a task goes at a time: a second one returns at once with `ran=False`.
"""

import logging
import time
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from botportal import validation
from bots.models import Bot
from sessions_app.models import BotSession, Contact, Conversation, EndReason, Message
from sessions_app.services.conversations import conversations_end
from sessions_app.services.lifecycle.batches import (
    LifecycleRun,
    Step,
    _batch_size,
    _delete_batch,
    _in_batches,
    _lifecycle_run,
    _on_fetched,
    _settings_value,
)

# The lifecycle works on every row, those of deleted bots and owners included (their `objects` managers
# leave those out of every read): the purge below removes them, and the prune's statements stay as measured.

logger = logging.getLogger(__name__)

EXPIRE_SESSIONS = "expire_sessions"
END_IDLE_CONVERSATIONS = "end_idle_conversations"
PRUNE_SESSIONS = "prune_sessions"
PRUNE_CONVERSATIONS = "prune_conversations"


# --- the services ------------------------------------------------------------------------------


def bot_sessions_expire(*, now: datetime | None = None, dry_run: bool = False, batch_size: int | None = None):
    """Mark sessions whose expiry has passed as expired, recording the moment they stopped working.

    Request-time checks already refuse such tokens; this keeps state, admin filters and counts true.
    """
    now = now or timezone.now()
    size = _batch_size(batch_size)
    due = BotSession.all_objects.filter(expired_at__isnull=True).past_expiry(at=now)

    def body(run: LifecycleRun) -> None:
        if dry_run:
            run.counts["sessions_expired"] = due.count()
            return

        def apply(batch):
            return {"sessions_expired": batch.of(due).update(expired_at=F("expires_at"))}

        _in_batches(run, queryset=due, batch_size=size, apply=_on_fetched(apply))

    return _lifecycle_run(EXPIRE_SESSIONS, counts=["sessions_expired"], dry_run=dry_run, body=body)


def conversations_end_idle(*, now: datetime | None = None, dry_run: bool = False, batch_size: int | None = None):
    """End conversations idle for longer than IDLE_TIMEOUT with reason Expiration, revoking their tokens."""
    now = now or timezone.now()
    size = _batch_size(batch_size)
    idle = Conversation.all_objects.idle(now=now)

    def body(run: LifecycleRun) -> None:
        if dry_run:
            run.counts["conversations_ended"] = idle.count()
            run.counts["sessions_revoked"] = BotSession.all_objects.filter(conversation__in=idle).not_revoked().count()
            return

        def apply(batch):
            # Lock the batch and check again: a conversation that got a message meanwhile stays open.
            ids = list(batch.of(idle).select_for_update().values_list("pk", flat=True))
            ended, revoked = conversations_end(ids=ids, reason=EndReason.EXPIRATION, at=now)
            return {"conversations_ended": ended, "sessions_revoked": revoked}

        _in_batches(run, queryset=idle, batch_size=size, apply=_on_fetched(apply), order="last_activity_at")

    return _lifecycle_run(
        END_IDLE_CONVERSATIONS, counts=["conversations_ended", "sessions_revoked"], dry_run=dry_run, body=body
    )


def bot_sessions_prune(*, now: datetime | None = None, dry_run: bool = False, batch_size: int | None = None):
    """Delete session records whose expiry or revocation is older than SESSION_RETENTION."""
    now = now or timezone.now()
    size = _batch_size(batch_size)
    cutoff = now - timedelta(seconds=_settings_value("SESSION_RETENTION"))
    old = BotSession.all_objects.filter(Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff))

    def body(run: LifecycleRun) -> None:
        if dry_run:
            run.counts["sessions_deleted"] = old.count()
            return
        _in_batches(
            run,
            queryset=old,
            batch_size=size,
            apply=partial(_delete_batch, count_as="sessions_deleted"),
        )

    return _lifecycle_run(PRUNE_SESSIONS, counts=["sessions_deleted"], dry_run=dry_run, body=body)


def conversations_prunable(*, now: datetime | None = None) -> list[QuerySet]:
    """Conversations past their retention, one queryset per retention rule.

    A bot's `conversation_retention_days` overrides the global CONVERSATION_RETENTION (seconds; None keeps
    conversations forever). Contacts are not touched: they belong to the owner.
    """
    now = now or timezone.now()
    rules = []
    global_retention = _settings_value("CONVERSATION_RETENTION")
    # Bot ids are compared through a subquery rather than a join: a join's OR on the nullable side makes
    # PostgreSQL misjudge the row count and sort the whole table for every batch.
    overriding = Bot.all_objects.filter(conversation_retention_days__isnull=False)
    if global_retention is not None:
        cutoff = now - timedelta(seconds=global_retention)
        rules.append(Conversation.all_objects.filter(~Q(bot__in=overriding.values("pk")), last_activity_at__lt=cutoff))
    days_values = overriding.order_by().values_list("conversation_retention_days", flat=True).distinct()
    for days in sorted(days_values):
        if not validation.retention_days_valid(days):
            # Written before the bound existed (or past it, in SQL): no cutoff can be computed for it, and
            # a guessed one could delete what the owner meant to keep. Those bots keep their conversations;
            # everyone else is pruned.
            bot_ids = list(Bot.all_objects.filter(conversation_retention_days=days).values_list("pk", flat=True)[:20])
            logger.error(
                "prune: skipping bots with conversation_retention_days=%s (allowed %s..%s): %s",
                days,
                validation.RETENTION_DAYS_MIN,
                validation.RETENTION_DAYS_MAX,
                ", ".join(str(pk) for pk in bot_ids),
            )
            continue
        cutoff = now - timedelta(days=days)
        bots = Bot.all_objects.filter(conversation_retention_days=days).values("pk")
        rules.append(Conversation.all_objects.filter(bot__in=bots, last_activity_at__lt=cutoff))
    return rules


_CONVERSATION_COUNTS = ["conversations_deleted", "messages_deleted", "sessions_deleted"]


def _conversations_delete(page: QuerySet, order: str) -> Step:
    """Delete a batch of conversations with their messages and sessions."""
    return _delete_batch(
        page,
        order,
        count_as="conversations_deleted",
        children={
            "messages_deleted": (Message, "conversation_id"),
            "sessions_deleted": (BotSession, "conversation_id"),
        },
    )


def conversations_prune(*, now: datetime | None = None, dry_run: bool = False, batch_size: int | None = None):
    """Delete conversations (with their messages and sessions) whose last activity is older than their retention."""
    now = now or timezone.now()
    size = _batch_size(batch_size)

    def body(run: LifecycleRun) -> None:
        for queryset in conversations_prunable(now=now):
            if dry_run:
                counts = {
                    "conversations_deleted": queryset.count(),
                    "messages_deleted": Message.all_objects.filter(conversation__in=queryset).count(),
                    "sessions_deleted": BotSession.all_objects.filter(conversation__in=queryset).count(),
                }
                for name, value in counts.items():
                    run.counts[name] = run.counts.get(name, 0) + value
                continue
            _in_batches(
                run,
                queryset=queryset,
                batch_size=size,
                apply=_conversations_delete,
                order="last_activity_at",
            )

    return _lifecycle_run(PRUNE_CONVERSATIONS, counts=_CONVERSATION_COUNTS, dry_run=dry_run, body=body)


# --- purging what was deleted ---------------------------------------------------------------------
#
# Deleting a bot, a contact or an owner marks it deleted in one short transaction (every read leaves it
# out from then on: the models' managers) and then removes its rows here, with the same batches as the
# prune: each batch one short transaction, nothing collected in Python, no statement with more than a
# batch of parameters. Django's own delete is left only what is small by nature (a bot's intents and
# variables, an owner's keys and profile), once the big children are gone.

PURGE_DELETED = "purge_deleted"
_PURGE_COUNTS = [
    "owners_deleted",
    "bots_deleted",
    "contacts_deleted",
    "conversations_deleted",
    "messages_deleted",
    "sessions_deleted",
    "conversations_detached",
    "records_deleted",
    "utterances_deleted",
]
# Passes over the deleted objects in one run: one more picks up what was deleted while the first ran.
_PURGE_PASSES = 3


def _conversations_purge(run: LifecycleRun, queryset: QuerySet, size: int) -> None:
    _in_batches(run, queryset=queryset, batch_size=size, apply=_conversations_delete, order="created_at")


def _conversations_detach(run: LifecycleRun, queryset: QuerySet, size: int) -> None:
    """Set the contact of the `queryset` conversations to null, a batch at a time (what SET_NULL does)."""

    def apply(batch):
        return {"conversations_detached": batch.of(queryset).update(contact=None)}

    _in_batches(run, queryset=queryset, batch_size=size, apply=_on_fetched(apply), order="created_at")


def _bot_rows_purge(run: LifecycleRun, bot_id, size: int) -> None:
    from bots.models import Utterance

    _conversations_purge(run, Conversation.all_objects.filter(bot_id=bot_id), size)
    # Plain SQL, without the signals that would bump the version of a bot that is going anyway.
    _in_batches(
        run,
        queryset=Utterance.objects.filter(intent__bot_id=bot_id),
        batch_size=size,
        apply=partial(_delete_batch, count_as="utterances_deleted"),
    )
    with transaction.atomic():
        bot = Bot.all_objects.filter(pk=bot_id, deleted_at__isnull=False).select_for_update().first()
        if bot is not None:
            bot.delete()  # what is left: the bot's definition (intents, variables, entity types)
            run.counts["bots_deleted"] = run.counts.get("bots_deleted", 0) + 1


def _contact_rows_purge(run: LifecycleRun, contact_id, size: int) -> None:
    _conversations_detach(run, Conversation.all_objects.filter(contact_id=contact_id), size)
    with transaction.atomic():
        deleted, _ = Contact.all_objects.filter(pk=contact_id, deleted_at__isnull=False).delete()
        run.counts["contacts_deleted"] = run.counts.get("contacts_deleted", 0) + min(deleted, 1)


def _owner_rows_purge(run: LifecycleRun, owner_id, size: int) -> None:
    from django.contrib.auth import get_user_model

    from bots.models import DatasetRecord

    _conversations_purge(run, Conversation.all_objects.filter(owner_id=owner_id), size)
    # Another owner's conversation never names this owner's contact, but a foreign key must not fail on it.
    _conversations_detach(run, Conversation.all_objects.filter(contact__owner_id=owner_id), size)
    _in_batches(
        run,
        queryset=Contact.all_objects.filter(owner_id=owner_id),
        batch_size=size,
        apply=partial(_delete_batch, count_as="contacts_deleted"),
    )
    _in_batches(
        run,
        queryset=DatasetRecord.objects.filter(dataset__owner_id=owner_id),
        batch_size=size,
        apply=partial(_delete_batch, count_as="records_deleted"),
    )
    Bot.all_objects.filter(owner_id=owner_id, deleted_at__isnull=True).update(deleted_at=timezone.now())
    for bot_id in list(Bot.all_objects.filter(owner_id=owner_id).values_list("pk", flat=True)):
        _bot_rows_purge(run, bot_id, size)
    with transaction.atomic():
        owner = (
            get_user_model()
            .objects.filter(pk=owner_id, botportal_profile__deleted_at__isnull=False)
            .select_for_update(of=("self",))
            .first()
        )
        if owner is not None:
            owner.delete()  # what is left is small: keys, profile, datasets and skillsets, admin log
            run.counts["owners_deleted"] = run.counts.get("owners_deleted", 0) + 1


def _purge_one(name: str, rows_purge, object_id, batch_size: int | None) -> LifecycleRun:
    run = LifecycleRun(task=name, counts=dict.fromkeys(_PURGE_COUNTS, 0))
    started = time.monotonic()
    rows_purge(run, object_id, _batch_size(batch_size))
    run.duration_seconds = time.monotonic() - started
    logger.info("%s %s: %s", name, object_id, run.summary())
    return run


def bot_purge(*, bot_id, batch_size: int | None = None) -> LifecycleRun:
    """Remove a deleted bot's rows (its conversations with their messages and sessions first), then the bot."""
    return _purge_one("purge_bot", _bot_rows_purge, bot_id, batch_size)


def contact_purge(*, contact_id, batch_size: int | None = None) -> LifecycleRun:
    """Detach a deleted contact's conversations (they stay the owner's), then delete the contact."""
    return _purge_one("purge_contact", _contact_rows_purge, contact_id, batch_size)


def owner_purge(*, owner_id, batch_size: int | None = None) -> LifecycleRun:
    """Remove a deleted owner's conversations, contacts, records and bots, then the user."""
    return _purge_one("purge_owner", _owner_rows_purge, owner_id, batch_size)


def _pending_deletions() -> list[tuple]:
    from sessions_app.models import OwnerProfile

    owners = OwnerProfile.objects.filter(deleted_at__isnull=False).order_by("deleted_at")
    bots = Bot.all_objects.filter(deleted_at__isnull=False).order_by("deleted_at")
    contacts = Contact.all_objects.filter(deleted_at__isnull=False).order_by("deleted_at")
    return [
        *((_owner_rows_purge, owner_id) for owner_id in owners.values_list("owner_id", flat=True)),
        *((_bot_rows_purge, pk) for pk in bots.values_list("pk", flat=True)),
        *((_contact_rows_purge, pk) for pk in contacts.values_list("pk", flat=True)),
    ]


def deleted_purge(*, dry_run: bool = False, batch_size: int | None = None) -> LifecycleRun:
    """Remove the rows of every deleted owner, bot and contact: what a delete left to the background, or
    what a killed worker left half done (every step re-selects what is left, so it simply goes on)."""
    size = _batch_size(batch_size)

    def body(run: LifecycleRun) -> None:
        if dry_run:
            pending = _pending_deletions()
            for name, rows_purge in (
                ("owners_deleted", _owner_rows_purge),
                ("bots_deleted", _bot_rows_purge),
                ("contacts_deleted", _contact_rows_purge),
            ):
                run.counts[name] = sum(1 for purge, _ in pending if purge is rows_purge)
            return
        for _ in range(_PURGE_PASSES):
            pending = _pending_deletions()
            if not pending:
                return
            for rows_purge, object_id in pending:
                rows_purge(run, object_id, size)

    # The prune's lock: the two delete conversations in different orders, and run side by side they could
    # deadlock on the same rows. A purge that finds the prune running is done by the prune task after it.
    return _lifecycle_run(PURGE_DELETED, counts=_PURGE_COUNTS, dry_run=dry_run, body=body, lock=PRUNE_CONVERSATIONS)
