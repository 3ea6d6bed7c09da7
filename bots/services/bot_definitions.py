"""Writes to bot definitions: the version bump, and export/import of a whole bot as one JSON document."""

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from botportal import validation
from botportal.errors import InvalidInput
from bots.engine.entities import BUILTIN_TYPES
from bots.engine.variables import coerce
from bots.models import (
    Ability,
    Bot,
    Dataset,
    DatasetRecord,
    EntityType,
    Intent,
    Skillset,
    Utterance,
    Variable,
    VariableType,
    Visibility,
)

FORMAT = "botportal.bot"
FORMAT_VERSION = 1
MESSAGE_TYPES = ("text", "choices", "escalate", "link", "end")
RECORD_BATCH = 2000


# Bots changed inside the current `bot_definition_changes()` block; None outside one.
_changed_in_batch: ContextVar[set | None] = ContextVar("bot_definition_batch", default=None)


def bot_definition_changed(*, bot_id) -> None:
    """The one place a bot's version is bumped; the new version's intent model is built once it commits.

    Inside `bot_definition_changes()` the bump waits for the end of the block, once per bot.
    """
    batch = _changed_in_batch.get()
    if batch is not None:
        batch.add(bot_id)
        return
    from bots.services.intent_models import intent_model_schedule_on_commit

    Bot.objects.filter(pk=bot_id).update(version=F("version") + 1, updated_at=timezone.now())
    intent_model_schedule_on_commit(bot_id=bot_id)


@contextmanager
def bot_definition_changes():
    """Every change to a bot's definition inside the block counts as one: one version, one model build.

    A save in the admin writes the intent, then each utterance, each firing its signal.
    """
    if _changed_in_batch.get() is not None:  # nested: the outer block bumps
        yield
        return
    changed: set = set()
    token = _changed_in_batch.set(changed)
    try:
        yield
    finally:
        _changed_in_batch.reset(token)
    for bot_id in sorted(changed, key=str):
        bot_definition_changed(bot_id=bot_id)


def bots_using_ability_changed(*, ability: Ability) -> None:
    for bot_id in set(Intent.objects.filter(ability=ability).values_list("bot_id", flat=True)):
        bot_definition_changed(bot_id=bot_id)


# --- export ----------------------------------------------------------------------------------------


def bot_export(*, bot: Bot) -> dict:
    """The bot's whole definition as one JSON-ready document; importing it gives an identical export."""
    abilities = []
    if bot.skillset_id:
        abilities = list(bot.skillset.abilities.order_by("name", "kind", "created_at", "id"))
    intents = list(bot.intents.select_related("ability").order_by("id"))
    for intent in intents:
        if intent.ability is not None and intent.ability not in abilities:
            abilities.append(intent.ability)
    ability_index = {ability.pk: index for index, ability in enumerate(abilities)}
    required = {}
    through = Intent.required_variables.through
    for intent_id, name in (
        through.objects.filter(intent__bot=bot).order_by("variable_id").values_list("intent_id", "variable__name")
    ):
        required.setdefault(intent_id, []).append(name)
    utterances = {}
    for intent_id, text in Utterance.objects.filter(intent__bot=bot).order_by("id").values_list("intent_id", "text"):
        utterances.setdefault(intent_id, []).append(text)
    document = {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "bot": {
            "name": bot.name,
            "description": bot.description,
            "backstory": bot.backstory,
            "model": bot.model,
            "visibility": bot.visibility,
            "privacy": bot.privacy,
            "moderation": bot.moderation,
            "meta": bot.meta,
            "welcomeMessages": bot.welcome_messages,
            "fallbackMessage": bot.fallback_message,
            "confidenceThreshold": bot.confidence_threshold,
            "conversationRetentionDays": bot.conversation_retention_days,
        },
        "variables": [
            {
                "name": v.name,
                "type": v.type,
                "default": v.default,
                "entityType": v.entity_type,
                "prompt": v.prompt,
            }
            for v in bot.variables.order_by("id")
        ],
        "entityTypes": [{"name": e.name, "values": e.values} for e in bot.entity_types.order_by("name")],
        "intents": [
            {
                "label": intent.label,
                "utterances": utterances.get(intent.pk, []),
                "responses": intent.responses,
                "requiredVariables": required.get(intent.pk, []),
                "ability": ability_index.get(intent.ability_id),
            }
            for intent in intents
        ],
        "skillset": None,
        "dataset": None,
    }
    if abilities or bot.skillset_id:
        document["skillset"] = {
            "name": bot.skillset.name if bot.skillset_id else "",
            "description": bot.skillset.description if bot.skillset_id else "",
            "abilities": [
                {
                    "name": a.name,
                    "description": a.description,
                    "instruction": a.instruction,
                    "kind": a.kind,
                    "config": a.config,
                }
                for a in abilities
            ],
        }
    if bot.dataset_id:
        records = bot.dataset.records.order_by("text", "source", "id").values_list("text", "source", "meta")
        document["dataset"] = {
            "name": bot.dataset.name,
            "description": bot.dataset.description,
            "records": [{"text": text, "source": source, "meta": meta} for text, source, meta in records],
        }
    return document


# --- import ----------------------------------------------------------------------------------------


def _expect(condition: bool, errors: dict, field: str, problem: str):
    if not condition:
        errors.setdefault(field, problem)


def _text(container: dict, key: str, errors: dict, path: str, model, name: str = "name") -> None:
    """An optional string that fits `model`'s field `name` (the model's max_length is the one rule)."""
    try:
        validation.short_text(container.get(key, ""), field=path, model=model, name=name)
    except InvalidInput as error:
        for field, problem in error.fields.items():
            errors.setdefault(field, problem)


def _validate(document) -> None:
    """Every problem of the document at once, each under its dotted path."""
    errors: dict[str, str] = {}
    if not isinstance(document, dict):
        raise InvalidInput(fields={"document": "must be a JSON object"})
    _expect(document.get("format") == FORMAT, errors, "format", f"must be {FORMAT!r}")
    _expect(document.get("formatVersion") == FORMAT_VERSION, errors, "formatVersion", f"must be {FORMAT_VERSION}")
    bot = document.get("bot")
    if not isinstance(bot, dict):
        errors["bot"] = "must be an object"
        bot = {}
    for name in ("description", "backstory", "fallbackMessage"):
        _expect(isinstance(bot.get(name, ""), str), errors, f"bot.{name}", "must be a string")
    for name in ("name", "model"):
        _text(bot, name, errors, f"bot.{name}", Bot, name)
    visibility = bot.get("visibility", Visibility.PRIVATE)
    _expect(visibility in Visibility.values, errors, "bot.visibility", "unknown visibility")
    threshold = bot.get("confidenceThreshold", 0.5)
    _expect(
        isinstance(threshold, int | float) and not isinstance(threshold, bool) and 0 <= threshold <= 1,
        errors,
        "bot.confidenceThreshold",
        "must be a number from 0 to 1",
    )
    try:
        validation.retention_days(bot.get("conversationRetentionDays"), field="bot.conversationRetentionDays")
    except InvalidInput as error:
        errors.update(error.fields)
    _expect(isinstance(bot.get("welcomeMessages", []), list), errors, "bot.welcomeMessages", "must be a list")
    _expect(isinstance(bot.get("meta", {}), dict), errors, "bot.meta", "must be an object")

    entity_names = set()
    for i, entity in enumerate(_list(document, "entityTypes", errors)):
        path = f"entityTypes.{i}"
        if not isinstance(entity, dict) or not isinstance(entity.get("name"), str) or not entity.get("name"):
            errors[f"{path}.name"] = "required"
            continue
        _text(entity, "name", errors, f"{path}.name", EntityType)
        _expect(entity["name"] not in entity_names, errors, f"{path}.name", "duplicate entity type")
        entity_names.add(entity["name"])
        values = entity.get("values", [])
        ok = isinstance(values, list) and all(
            isinstance(v, dict)
            and isinstance(v.get("value"), str)
            and isinstance(v.get("synonyms", []), list)
            and all(isinstance(s, str) for s in v.get("synonyms", []))
            for v in values
        )
        _expect(ok, errors, f"{path}.values", "must be a list of {value, synonyms}")

    variable_names = set()
    for i, variable in enumerate(_list(document, "variables", errors)):
        path = f"variables.{i}"
        if not isinstance(variable, dict) or not isinstance(variable.get("name"), str) or not variable.get("name"):
            errors[f"{path}.name"] = "required"
            continue
        _text(variable, "name", errors, f"{path}.name", Variable)
        _expect(variable["name"] not in variable_names, errors, f"{path}.name", "duplicate variable")
        variable_names.add(variable["name"])
        kind = variable.get("type", "text")
        if kind not in VariableType.values:
            errors[f"{path}.type"] = f"must be one of {', '.join(VariableType.values)}"
        elif variable.get("default") is not None:
            try:
                coerce(kind, variable["default"])
            except ValueError as error:
                errors[f"{path}.default"] = str(error)
        entity_type = variable.get("entityType", "")
        _text(variable, "entityType", errors, f"{path}.entityType", Variable, "entity_type")
        _expect(
            entity_type in ("", None) or entity_type in BUILTIN_TYPES or entity_type in entity_names,
            errors,
            f"{path}.entityType",
            "must be a built-in entity type or one of the bot's entity types",
        )
        _expect(isinstance(variable.get("prompt", ""), str), errors, f"{path}.prompt", "must be a string")

    skillset = document.get("skillset")
    abilities = []
    if skillset is not None:
        if not isinstance(skillset, dict):
            errors["skillset"] = "must be an object or null"
        else:
            _text(skillset, "name", errors, "skillset.name", Skillset)
            abilities = _list(skillset, "abilities", errors, prefix="skillset.")
            for i, ability in enumerate(abilities):
                path = f"skillset.abilities.{i}"
                if not isinstance(ability, dict):
                    errors[path] = "must be an object"
                    continue
                _text(ability, "name", errors, f"{path}.name", Ability)
                _expect(ability.get("kind", "") in ("", *Ability.Kind.values), errors, f"{path}.kind", "unknown kind")
                _expect(isinstance(ability.get("config", {}), dict), errors, f"{path}.config", "must be an object")

    labels = set()
    intents = _list(document, "intents", errors)
    all_labels = {i.get("label") for i in intents if isinstance(i, dict)}
    for i, intent in enumerate(intents):
        path = f"intents.{i}"
        if not isinstance(intent, dict) or not isinstance(intent.get("label"), str) or not intent.get("label"):
            errors[f"{path}.label"] = "required"
            continue
        _text(intent, "label", errors, f"{path}.label", Intent, "label")
        _expect(intent["label"] not in labels, errors, f"{path}.label", "duplicate intent label")
        labels.add(intent["label"])
        utterances = intent.get("utterances", [])
        _expect(
            isinstance(utterances, list) and all(isinstance(u, str) and 0 < len(u) <= 1000 for u in utterances),
            errors,
            f"{path}.utterances",
            "must be a list of texts of 1 to 1000 characters",
        )
        required = intent.get("requiredVariables", [])
        _expect(
            isinstance(required, list) and all(r in variable_names for r in required),
            errors,
            f"{path}.requiredVariables",
            "must name variables of the bot",
        )
        ability = intent.get("ability")
        _expect(
            ability is None or (isinstance(ability, int) and 0 <= ability < len(abilities)),
            errors,
            f"{path}.ability",
            "must be the index of an ability of the skillset, or null",
        )
        responses = intent.get("responses", [])
        if not isinstance(responses, list):
            errors[f"{path}.responses"] = "must be a list"
            continue
        for j, message in enumerate(responses):
            _validate_message(message, f"{path}.responses.{j}", all_labels, errors)
    for j, message in enumerate(bot.get("welcomeMessages") or []):
        if not isinstance(message, str):
            _validate_message(message, f"bot.welcomeMessages.{j}", all_labels, errors)

    dataset = document.get("dataset")
    if dataset is not None:
        if not isinstance(dataset, dict):
            errors["dataset"] = "must be an object or null"
        else:
            _text(dataset, "name", errors, "dataset.name", Dataset)
            for i, record in enumerate(_list(dataset, "records", errors, prefix="dataset.")):
                if not isinstance(record, dict) or not isinstance(record.get("text"), str) or not record["text"]:
                    errors[f"dataset.records.{i}.text"] = "required"
                elif not isinstance(record.get("source", ""), str) or len(record.get("source", "")) > 2048:
                    errors[f"dataset.records.{i}.source"] = "must be a string of at most 2048 characters"
    if errors:
        raise InvalidInput(fields=errors)


def _list(container: dict, key: str, errors: dict, prefix: str = "") -> list:
    value = container.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        errors[f"{prefix}{key}"] = "must be a list"
        return []
    return value


def _validate_message(message, path: str, labels: set, errors: dict):
    if not isinstance(message, dict):
        errors[path] = "must be an object"
        return
    kind = message.get("type", "text")
    if kind not in MESSAGE_TYPES:
        errors[f"{path}.type"] = f"must be one of {', '.join(MESSAGE_TYPES)}"
        return
    _expect(isinstance(message.get("text", ""), str), errors, f"{path}.text", "must be a string")
    if kind == "choices":
        choices = message.get("choices")
        if not isinstance(choices, list) or not choices:
            errors[f"{path}.choices"] = "must be a non-empty list"
            return
        for k, choice in enumerate(choices):
            if not isinstance(choice, dict) or not isinstance(choice.get("label"), str) or not choice.get("label"):
                errors[f"{path}.choices.{k}.label"] = "required"
            elif choice.get("intent") not in labels:
                errors[f"{path}.choices.{k}.intent"] = "must be the label of an intent of the bot"
    elif kind == "escalate":
        _expect(isinstance(message.get("targets", []), list), errors, f"{path}.targets", "must be a list")
    elif kind == "link":
        _expect(isinstance(message.get("url"), str) and message.get("url"), errors, f"{path}.url", "required")


def bot_import(*, owner, document) -> Bot:
    """Create a bot (with its own skillset and dataset) from an exported document, all or nothing.

    The intent model is built once the import commits (here when quick, else on the worker)."""
    with bot_definition_changes(), transaction.atomic():
        bot = _bot_import(owner=owner, document=document)
    bot.refresh_from_db()
    return bot


def _bot_import(*, owner, document) -> Bot:
    if isinstance(document, str | bytes):
        try:
            document = validation.json_loads(document)
        except ValueError:
            raise InvalidInput(fields={"document": "is not valid JSON"}) from None
    _validate(document)
    spec = document["bot"]
    skillset = dataset = None
    abilities: list[Ability] = []
    if document.get("skillset") is not None:
        skill = document["skillset"]
        skillset = Skillset.objects.create(
            owner=owner, name=skill.get("name", ""), description=skill.get("description", "")
        )
        for item in skill.get("abilities") or []:
            abilities.append(
                Ability.objects.create(
                    skillset=skillset,
                    name=item.get("name", ""),
                    description=item.get("description", ""),
                    instruction=item.get("instruction", ""),
                    kind=item.get("kind", ""),
                    config=item.get("config", {}),
                )
            )
    if document.get("dataset") is not None:
        data = document["dataset"]
        dataset = Dataset.objects.create(
            owner=owner, name=data.get("name", ""), description=data.get("description", "")
        )
        records = [
            DatasetRecord(dataset=dataset, text=r["text"], source=r.get("source", ""), meta=r.get("meta") or {})
            for r in data.get("records") or []
        ]
        DatasetRecord.objects.bulk_create(records, batch_size=RECORD_BATCH)
    bot = Bot.objects.create(
        owner=owner,
        name=spec.get("name", ""),
        description=spec.get("description", ""),
        backstory=spec.get("backstory", ""),
        model=spec.get("model", ""),
        visibility=spec.get("visibility", Visibility.PRIVATE),
        privacy=bool(spec.get("privacy", False)),
        moderation=bool(spec.get("moderation", False)),
        meta=spec.get("meta") or {},
        welcome_messages=spec.get("welcomeMessages") or [],
        fallback_message=spec.get("fallbackMessage", "Sorry, I didn't understand that."),
        confidence_threshold=spec.get("confidenceThreshold", 0.5),
        conversation_retention_days=spec.get("conversationRetentionDays"),
        dataset=dataset,
        skillset=skillset,
    )
    EntityType.objects.bulk_create(
        [EntityType(bot=bot, name=e["name"], values=e.get("values") or []) for e in document.get("entityTypes") or []]
    )
    variables = {}
    for item in document.get("variables") or []:
        variables[item["name"]] = Variable.objects.create(
            bot=bot,
            name=item["name"],
            type=item.get("type", "text"),
            default=item.get("default"),
            entity_type=item.get("entityType") or "",
            prompt=item.get("prompt", ""),
        )
    through = Intent.required_variables.through
    links, utterances = [], []
    for item in document.get("intents") or []:
        ability_index = item.get("ability")
        intent = Intent.objects.create(
            bot=bot,
            label=item["label"],
            responses=item.get("responses") or [],
            ability=abilities[ability_index] if ability_index is not None else None,
        )
        links.extend(through(intent=intent, variable=variables[name]) for name in item.get("requiredVariables") or [])
        utterances.extend(Utterance(intent=intent, text=text) for text in item.get("utterances") or [])
    through.objects.bulk_create(links)
    Utterance.objects.bulk_create(utterances, batch_size=RECORD_BATCH)
    bot.refresh_from_db()
    return bot
