"""Owner writes for bots, datasets and their records, skillsets and their abilities.

Each function takes already-shaped values (the API's serializers check types) and enforces the rules
that need the database: a bot may only use its owner's dataset and skillset, and a change to what
the bot *is* bumps its version so that running conversations keep the definition they began with.
"""

from django.db import transaction
from django.utils import timezone

from botportal import validation
from botportal.errors import InvalidInput
from bots.models import Ability, Bot, Dataset, DatasetRecord, Skillset
from bots.services.bot_definitions import bot_definition_changed

# Fields that change how the bot answers; name, description, meta and visibility do not.
BOT_DEFINITION_FIELDS = frozenset(
    {"backstory", "model", "dataset_id", "skillset_id", "privacy", "moderation", "fallback_message", "welcome_messages"}
)
BOT_FIELDS = BOT_DEFINITION_FIELDS | {
    "name", "description", "meta", "visibility", "conversation_retention_days", "allowed_origins"
}
COMMON_FIELDS = frozenset({"name", "description", "meta"})
RECORD_FIELDS = frozenset({"text", "source", "meta"})
ABILITY_FIELDS = COMMON_FIELDS | {"instruction"}


def _checked(fields: dict, allowed: frozenset) -> dict:
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"unexpected fields: {sorted(unknown)}")
    if "meta" in fields:
        fields = {**fields, "meta": validation.meta(fields["meta"])}
    if "conversation_retention_days" in fields:
        fields = {
            **fields,
            "conversation_retention_days": validation.retention_days(fields["conversation_retention_days"]),
        }
    if "allowed_origins" in fields:
        fields = {**fields, "allowed_origins": validation.allowed_origins(fields["allowed_origins"])}
    return fields


def _bot_links_check(*, owner, fields: dict) -> None:
    problems = {}
    if fields.get("dataset_id") and not Dataset.objects.filter(owner=owner, pk=fields["dataset_id"]).exists():
        problems["datasetId"] = "is not one of your datasets"
    if fields.get("skillset_id") and not Skillset.objects.filter(owner=owner, pk=fields["skillset_id"]).exists():
        problems["skillsetId"] = "is not one of your skillsets"
    if problems:
        raise InvalidInput(fields=problems)


def bot_create(*, owner, fields: dict) -> Bot:
    fields = _checked(fields, BOT_FIELDS)
    _bot_links_check(owner=owner, fields=fields)
    return Bot.objects.create(owner=owner, **fields)


def bot_update(*, bot: Bot, fields: dict) -> Bot:
    fields = _checked(fields, BOT_FIELDS)
    _bot_links_check(owner=bot.owner_id, fields=fields)
    changed = [name for name, value in fields.items() if getattr(bot, name) != value]
    if not changed:
        return bot
    with transaction.atomic():
        for name in changed:
            setattr(bot, name, fields[name])
        bot.save(update_fields=[*(n.removesuffix("_id") for n in changed), "updated_at"])
        if BOT_DEFINITION_FIELDS.intersection(changed):
            bot_definition_changed(bot_id=bot.pk)
            bot.refresh_from_db(fields=["version"])
    return bot


def bot_mark_deleted(*, bot: Bot) -> bool:
    """Make the bot gone for every read at once (LiveBotManager), whatever it holds: one row updated.

    Its rows are removed afterwards, in batches (`sessions_app.services.deletions.bot_delete` starts
    that; the lifecycle's purge finishes whatever a killed worker left). False if it already was deleted.
    """
    return bool(Bot.all_objects.filter(pk=bot.pk, deleted_at__isnull=True).update(deleted_at=timezone.now()))


def _update(instance, fields: dict):
    changed = [name for name, value in fields.items() if getattr(instance, name) != value]
    if changed:
        for name in changed:
            setattr(instance, name, fields[name])
        instance.save(update_fields=[*changed, "updated_at"])
    return instance


def dataset_create(*, owner, fields: dict) -> Dataset:
    return Dataset.objects.create(owner=owner, **_checked(fields, COMMON_FIELDS))


def dataset_update(*, dataset: Dataset, fields: dict) -> Dataset:
    return _update(dataset, _checked(fields, COMMON_FIELDS))


def dataset_delete(*, dataset: Dataset) -> None:
    dataset.delete()


def dataset_record_create(*, dataset: Dataset, fields: dict) -> DatasetRecord:
    fields = _checked(fields, RECORD_FIELDS)
    if not (fields.get("text") or "").strip():
        raise InvalidInput(fields={"text": "may not be empty"})
    return DatasetRecord.objects.create(dataset=dataset, **fields)


def dataset_record_update(*, record: DatasetRecord, fields: dict) -> DatasetRecord:
    fields = _checked(fields, RECORD_FIELDS)
    if "text" in fields and not (fields["text"] or "").strip():
        raise InvalidInput(fields={"text": "may not be empty"})
    return _update(record, fields)


def dataset_record_delete(*, record: DatasetRecord) -> None:
    record.delete()


def skillset_create(*, owner, fields: dict) -> Skillset:
    return Skillset.objects.create(owner=owner, **_checked(fields, COMMON_FIELDS))


def skillset_update(*, skillset: Skillset, fields: dict) -> Skillset:
    return _update(skillset, _checked(fields, COMMON_FIELDS))


def skillset_delete(*, skillset: Skillset) -> None:
    skillset.delete()


def ability_create(*, skillset: Skillset, fields: dict) -> Ability:
    return Ability.objects.create(skillset=skillset, **_checked(fields, ABILITY_FIELDS))


def ability_update(*, ability: Ability, fields: dict) -> Ability:
    return _update(ability, _checked(fields, ABILITY_FIELDS))


def ability_delete(*, ability: Ability) -> None:
    ability.delete()
