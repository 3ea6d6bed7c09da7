"""Reads of what a bot is, always scoped to one owner: another owner's object is simply not found."""

import uuid

from django.db.models import Q, QuerySet

from botportal.errors import NotFound
from bots.models import Ability, Bot, Dataset, DatasetRecord, Skillset


def _pk(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _get(queryset: QuerySet, pk, what: str):
    key = _pk(pk)
    found = queryset.filter(pk=key).first() if key is not None else None
    if found is None:
        raise NotFound(f"No {what} with id {pk!r}.")
    return found


def bot_list(*, owner) -> QuerySet:
    return Bot.objects.filter(owner=owner)


def bot_get(*, owner, bot_id) -> Bot:
    return _get(bot_list(owner=owner), bot_id, "bot")


def bot_get_any(*, bot_id) -> Bot:
    """A bot whoever owns it, for routes where visibility rather than ownership decides (session create)."""
    return _get(Bot.objects.select_related("owner"), bot_id, "bot")


def dataset_list(*, owner) -> QuerySet:
    return Dataset.objects.filter(owner=owner)


def dataset_get(*, owner, dataset_id) -> Dataset:
    return _get(dataset_list(owner=owner), dataset_id, "dataset")


def dataset_record_list(*, dataset: Dataset) -> QuerySet:
    return DatasetRecord.objects.filter(dataset=dataset)


def dataset_record_get(*, dataset: Dataset, record_id) -> DatasetRecord:
    return _get(dataset_record_list(dataset=dataset), record_id, "record")


def dataset_search(*, dataset: Dataset, search: str, limit: int = 10) -> list[tuple[DatasetRecord, float]]:
    """Records that share words with the search, best first, scored by the share of search words they contain."""
    words = sorted({word for word in search.lower().split() if len(word) > 1})[:20]
    if not words:
        return []
    query = Q()
    for word in words:
        query |= Q(text__icontains=word)
    candidates = dataset_record_list(dataset=dataset).filter(query).order_by("-created_at")[:200]
    scored = []
    for record in candidates:
        text = record.text.lower()
        score = sum(1 for word in words if word in text) / len(words)
        scored.append((record, round(score, 4)))
    scored.sort(key=lambda pair: -pair[1])
    return scored[:limit]


def skillset_list(*, owner) -> QuerySet:
    return Skillset.objects.filter(owner=owner)


def skillset_get(*, owner, skillset_id) -> Skillset:
    return _get(skillset_list(owner=owner), skillset_id, "skillset")


def ability_list(*, skillset: Skillset) -> QuerySet:
    return Ability.objects.filter(skillset=skillset)


def ability_get(*, skillset: Skillset, ability_id) -> Ability:
    return _get(ability_list(skillset=skillset), ability_id, "ability")
