"""Reads of what a bot is, always scoped to one owner: another owner's object is simply not found."""

from django.db.models import QuerySet

from botportal import validation
from botportal.errors import NotFound
from botportal.rows import JoinedLookup
from bots.models import Ability, Bot, BotIntentModel, Dataset, DatasetRecord, Skillset, Utterance


def _get(queryset: QuerySet, pk, what: str):
    key = validation.uuid_or_none(pk)
    return _found(queryset.filter(pk=key).first() if key is not None else None, what, pk)


def _found(found, what: str, pk):
    if found is None:
        raise NotFound(f"No {what} with id {pk!r}.")
    return found


def bot_list(*, owner) -> QuerySet:
    return Bot.objects.filter(owner=owner)


def bot_get(*, owner, bot_id) -> Bot:
    return _get(bot_list(owner=owner), bot_id, "bot")


# Anyone may open sessions with a public bot, so this lookup is written once per process
# (`botportal.rows`) rather than compiled by Django on every request.
_BOT_WITH_OWNER = JoinedLookup(Bot, relation="owner", by="id")


def bot_get_any(*, bot_id) -> Bot:
    """A bot whoever owns it, with its owner, for routes where visibility rather than ownership decides
    (session create). A deactivated owner's bots serve no one: not found."""
    key = validation.uuid_or_none(bot_id)
    bot = _BOT_WITH_OWNER.get(key) if key is not None else None
    # Hand-written SQL skips LiveBotManager's rule, so it is applied here: a deleted bot is not found.
    return _found(bot if bot is not None and bot.owner.is_active and bot.deleted_at is None else None, "bot", bot_id)


def dataset_list(*, owner) -> QuerySet:
    return Dataset.objects.filter(owner=owner)


def dataset_get(*, owner, dataset_id) -> Dataset:
    return _get(dataset_list(owner=owner), dataset_id, "dataset")


def dataset_record_list(*, dataset: Dataset) -> QuerySet:
    return DatasetRecord.objects.filter(dataset=dataset)


def dataset_record_get(*, dataset: Dataset, record_id) -> DatasetRecord:
    return _get(dataset_record_list(dataset=dataset), record_id, "record")



def skillset_list(*, owner) -> QuerySet:
    return Skillset.objects.filter(owner=owner)


def skillset_get(*, owner, skillset_id) -> Skillset:
    return _get(skillset_list(owner=owner), skillset_id, "skillset")


def ability_list(*, skillset: Skillset) -> QuerySet:
    return Ability.objects.filter(skillset=skillset)


def ability_get(*, skillset: Skillset, ability_id) -> Ability:
    return _get(ability_list(skillset=skillset), ability_id, "ability")


# --- intent models (engine reads: the bot is already known, so no owner scoping here) -----------------


def intent_model_data(*, bot_id, version, before=None) -> bytes | None:
    """The stored model of one version of the bot (or, with `before`, of its newest ready version before it)."""
    ready = BotIntentModel.objects.filter(bot_id=bot_id, status=BotIntentModel.Status.READY, data__isnull=False)
    ready = ready.filter(version=version) if before is None else ready.filter(version__lt=before)
    data = ready.order_by("-version").values_list("data", flat=True).first()
    return bytes(data) if data is not None else None


def intent_utterances(*, bot_id) -> list[tuple[str, str]]:
    """(intent label, utterance text) of every training utterance of the bot, in a stable order."""
    return list(Utterance.objects.filter(intent__bot_id=bot_id).order_by("id").values_list("intent__label", "text"))
