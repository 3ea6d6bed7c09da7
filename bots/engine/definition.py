"""A bot's definition read once per (bot id, version) and kept in memory, so a turn costs no queries."""

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

CACHE_SIZE = 64

_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


@dataclass
class VariableSpec:
    name: str
    type: str
    default: object
    entity_type: str
    prompt: str


@dataclass
class IntentSpec:
    label: str
    responses: list
    required: list[str]
    ability: dict | None


@dataclass
class EntityTypeSpec:
    name: str
    values: list


@dataclass
class Definition:
    intents: dict[str, IntentSpec] = field(default_factory=dict)
    variables: dict[str, VariableSpec] = field(default_factory=dict)
    entity_types: list[EntityTypeSpec] = field(default_factory=list)


def load(bot) -> Definition:
    from bots.models import Intent

    definition = Definition()
    for variable in bot.variables.order_by("id"):
        definition.variables[variable.name] = VariableSpec(
            variable.name, variable.type, variable.default, variable.entity_type, variable.prompt
        )
    for entity_type in bot.entity_types.order_by("name"):
        definition.entity_types.append(EntityTypeSpec(entity_type.name, entity_type.values or []))
    through = Intent.required_variables.through
    required: dict[int, list[str]] = {}
    for intent_id, name in (
        through.objects.filter(intent__bot=bot).order_by("variable_id").values_list("intent_id", "variable__name")
    ):
        required.setdefault(intent_id, []).append(name)
    for intent in bot.intents.select_related("ability").order_by("id"):
        ability = None
        if intent.ability is not None:
            ability = {"kind": intent.ability.kind, "name": intent.ability.name, "config": intent.ability.config or {}}
        definition.intents[intent.label] = IntentSpec(
            intent.label, intent.responses or [], required.get(intent.pk, []), ability
        )
    return definition


def definition_for(bot) -> Definition:
    key = (str(bot.pk), bot.version)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    definition = load(bot)
    with _lock:
        _cache[key] = definition
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return definition
