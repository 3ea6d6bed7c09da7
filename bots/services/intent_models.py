"""Building the intent model of a bot version: once per version, in the save that changed it or on a
Celery worker, never in a chat turn (bots.engine.classifier.model_for only reads what is built here).

A build that takes well under a second (up to INLINE_MAX_UTTERANCES utterances) runs in the request
that saved the bot, right after its transaction commits; a larger one is queued for the worker, and
until it is ready the newest model of an earlier version answers.
"""

import hashlib
import json
import logging
import time
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bots.models import Bot, BotIntentModel, Utterance
from bots.selectors import intent_utterances

logger = logging.getLogger(__name__)

# Measured (docs/performance.md): 171 utterances take 0.2 s of CPU, 500 (of 77 intents) 0.74 s.
INLINE_MAX_UTTERANCES = 250

# A build not finished after this long is taken for lost (the largest bots build in a few minutes).
STALE_AFTER = timedelta(minutes=30)

Status = BotIntentModel.Status


def _stale():
    return timezone.now() - STALE_AFTER


def _digest(examples) -> str:
    return hashlib.sha256(json.dumps(examples, ensure_ascii=False).encode()).hexdigest()


def intent_model_build(*, bot_id, version=None, force: bool = False) -> BotIntentModel | None:
    """Build (once) and store the model of the bot's current version; returns its row, or None when the
    bot is gone or `version` is no longer current (the newer version has its own build)."""
    from bots.engine import classifier  # numpy and scikit-learn: only processes that build load them

    current = Bot.objects.filter(pk=bot_id).values_list("version", flat=True).first()
    if current is None or (version is not None and version != current):
        return None
    row, _ = BotIntentModel.objects.get_or_create(bot_id=bot_id, version=current)
    claimable = Q(status__in=[Status.QUEUED, Status.FAILED]) | Q(status=Status.BUILDING, updated_at__lt=_stale())
    if force:
        claimable |= Q(status=Status.BUILDING)
    if row.status == Status.READY or not BotIntentModel.objects.filter(claimable, pk=row.pk).update(
        status=Status.BUILDING, updated_at=timezone.now()
    ):
        row.refresh_from_db()
        return row
    examples = intent_utterances(bot_id=bot_id)
    digest = _digest(examples)
    started = time.perf_counter()
    # The same utterances as an earlier version (a new fallback message, say): its model answers as is.
    data = (
        BotIntentModel.objects.filter(bot_id=bot_id, status=Status.READY, format=classifier.FORMAT, digest=digest)
        .values_list("data", flat=True)
        .first()
    )
    try:
        if data is None:
            data = classifier.train(examples).to_bytes()
    except Exception:
        BotIntentModel.objects.filter(pk=row.pk).update(status=Status.FAILED, updated_at=timezone.now())
        raise
    BotIntentModel.objects.filter(pk=row.pk).update(
        updated_at=timezone.now(),
        status=Status.READY,
        data=data,
        format=classifier.FORMAT,
        digest=digest,
        utterance_count=len(examples),
        build_seconds=round(time.perf_counter() - started, 3),
    )
    # Turns use the bot's current version; older models are kept only as the stand-in of a newer build.
    BotIntentModel.objects.filter(bot_id=bot_id, version__lt=current).delete()
    row.refresh_from_db()
    return row


def intent_model_requested(*, bot_id, version) -> None:
    """Queue the build of a version's model for the worker, unless it is already built or queued."""
    from bots.tasks import build_intent_model

    row, created = BotIntentModel.objects.get_or_create(bot_id=bot_id, version=version)
    # A build whose worker died (or whose message was lost) is queued again once it is stale.
    lost = row.status in (Status.QUEUED, Status.BUILDING) and row.updated_at < _stale()
    if lost:
        BotIntentModel.objects.filter(pk=row.pk).update(status=Status.QUEUED, updated_at=timezone.now())
    if created or lost or row.status == Status.FAILED:
        try:
            build_intent_model.delay(str(bot_id), version)
        except Exception:  # a broker outage must not stop the bot from answering (or being saved)
            logger.warning("Could not queue the intent model build of bot %s v%s", bot_id, version, exc_info=True)


def intent_model_schedule(*, bot_id) -> None:
    """After a definition change has committed: build the new version's model here when that is quick,
    else on the worker."""
    version = Bot.objects.filter(pk=bot_id).values_list("version", flat=True).first()
    if version is None:
        return
    if Utterance.objects.filter(intent__bot_id=bot_id).count() <= INLINE_MAX_UTTERANCES:
        try:
            intent_model_build(bot_id=bot_id, version=version)
        except Exception:
            logger.exception("Building the intent model of bot %s v%s failed", bot_id, version)
    else:
        intent_model_requested(bot_id=bot_id, version=version)


def intent_model_schedule_on_commit(*, bot_id) -> None:
    transaction.on_commit(lambda: intent_model_schedule(bot_id=bot_id), robust=True)
