"""Deleting a bot, a contact or an owner, however much it holds, without a long transaction or a huge statement.

A delete marks the object deleted in one short transaction: from its commit every read leaves it out
(the models' managers: a deleted bot's conversations, a deleted owner's contacts and conversations go
with it), and its live session tokens and API keys stop working. Its rows are then removed in batches
by `sessions_app.services.lifecycle`: right away in the same request when they fit in one batch,
otherwise by the `sessions_app.purge_deleted` task. The hourly prune runs that purge too, so a delete
whose task was lost or whose worker was killed is finished all the same.
"""

import logging
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from bots.models import DatasetRecord
from bots.services.resources import bot_mark_deleted
from sessions_app.models import ApiKey, BotSession, Contact, Conversation, OwnerProfile
from sessions_app.services import lifecycle
from sessions_app.services.owners import owner_profile_ensure

logger = logging.getLogger(__name__)


def _inline_limit() -> int:
    return settings.BOTPORTAL["PRUNE_BATCH_SIZE"]


def _fits_one_batch(*querysets) -> bool:
    """Whether the rows of `querysets` together fit in one batch (each counted no further than that)."""
    left = _inline_limit()
    for queryset in querysets:
        left -= queryset.order_by()[: left + 1].count()
        if left < 0:
            return False
    return True


def _purge_in_background() -> None:
    from sessions_app import tasks

    try:
        tasks.purge_deleted.delay()
    except Exception:
        # The object is already gone for every read; the hourly prune finishes the purge.
        logger.exception("could not queue the purge of deleted objects; the next prune run does it")


def _purge_now(purge) -> None:
    try:
        purge()
    except Exception:
        # Already gone for every read and answered as deleted: whatever is left, the next purge removes.
        logger.exception("the purge of a deleted object failed; the next purge run finishes it")


def _purge_after_commit(purge, inline: bool) -> None:
    """After the marking commits (so a purge never runs inside the caller's transaction): purge now, or queue."""
    transaction.on_commit(partial(_purge_now, purge) if inline else _purge_in_background)


def _revoke_sessions(conversations, now) -> None:
    # Only tokens still usable: expired ones are refused anyway, and there may be very many of those.
    BotSession.all_objects.filter(conversation__in=conversations).live(at=now).revoke(at=now)


def bot_delete(*, bot) -> None:
    """Delete the bot with its conversations (their messages and sessions), intents, variables and entity types."""
    now = timezone.now()
    conversations = Conversation.all_objects.filter(bot_id=bot.pk)
    with transaction.atomic():
        if not bot_mark_deleted(bot=bot):
            return
        _revoke_sessions(conversations.values("pk"), now)
        inline = _fits_one_batch(conversations)
    _purge_after_commit(partial(lifecycle.bot_purge, bot_id=bot.pk), inline)


def contact_delete(*, contact: Contact) -> None:
    """Delete the contact; its conversations stay the owner's, without a contact."""
    with transaction.atomic():
        # The fingerprint, email and phone are freed at once: the owner may create the contact again
        # before the purge has run.
        marked = Contact.all_objects.filter(pk=contact.pk, deleted_at__isnull=True).update(
            deleted_at=timezone.now(), fingerprint=f"deleted:{contact.pk}", email="", phone=""
        )
        if not marked:
            return
        inline = _fits_one_batch(Conversation.all_objects.filter(contact_id=contact.pk))
    _purge_after_commit(partial(lifecycle.contact_purge, contact_id=contact.pk), inline)


def owner_delete(*, owner) -> None:
    """Delete the owner (a user) with everything they own: bots, contacts, conversations, datasets, keys."""
    now = timezone.now()
    conversations = Conversation.all_objects.filter(owner_id=owner.pk)
    with transaction.atomic():
        profile = owner_profile_ensure(owner=owner)
        if not OwnerProfile.objects.filter(pk=profile.pk, deleted_at__isnull=True).update(deleted_at=now):
            return
        get_user_model().objects.filter(pk=owner.pk).update(is_active=False)
        ApiKey.objects.filter(owner_id=owner.pk, revoked_at__isnull=True).update(revoked_at=now)
        for bot in owner.bots.all():
            bot_mark_deleted(bot=bot)
        _revoke_sessions(conversations.values("pk"), now)
        inline = _fits_one_batch(
            conversations,
            Contact.all_objects.filter(owner_id=owner.pk),
            DatasetRecord.objects.filter(dataset__owner_id=owner.pk),
        )
    _purge_after_commit(partial(lifecycle.owner_purge, owner_id=owner.pk), inline)
