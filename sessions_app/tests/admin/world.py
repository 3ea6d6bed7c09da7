"""Two owners with one of everything each, for visibility tests."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from bots.models import EntityType
from bots.tests.factories import (
    AbilityFactory,
    BotFactory,
    DatasetFactory,
    DatasetRecordFactory,
    IntentFactory,
    SkillsetFactory,
    UtteranceFactory,
    VariableFactory,
)
from sessions_app.models import OwnerProfile
from sessions_app.services.owners import api_key_create
from sessions_app.tests.factories import BotSessionFactory, ContactFactory, ConversationFactory, MessageFactory


@dataclass
class OwnedObjects:
    owner: object
    dataset: object
    record: object
    skillset: object
    ability: object
    bot: object
    intent: object
    utterance: object
    variable: object
    entity_type: object
    contact: object
    conversation: object
    user_message: object
    bot_message: object
    session: object
    api_key: object
    profile: object

    def by_model(self):
        return {type(obj): obj for obj in vars(self).values() if obj is not self.owner and hasattr(obj, "_meta")}


def owned_objects(owner, tag: str) -> OwnedObjects:
    dataset = DatasetFactory(owner=owner, name=f"{tag} dataset")
    skillset = SkillsetFactory(owner=owner, name=f"{tag} skillset")
    bot = BotFactory(owner=owner, name=f"{tag} bot", dataset=dataset, skillset=skillset)
    intent = IntentFactory(bot=bot, label=f"{tag}_intent")
    contact = ContactFactory(owner=owner, name=f"{tag} contact", email=f"{tag.lower()}@example.com")
    conversation = ConversationFactory(bot=bot, contact=contact, name=f"{tag} conversation", variables={"city": tag})
    return OwnedObjects(
        owner=owner,
        dataset=dataset,
        record=DatasetRecordFactory(dataset=dataset, text=f"{tag} record"),
        skillset=skillset,
        ability=AbilityFactory(skillset=skillset, name=f"{tag} ability"),
        bot=bot,
        intent=intent,
        utterance=UtteranceFactory(intent=intent, text=f"{tag} utterance"),
        variable=VariableFactory(bot=bot, name=f"{tag.lower()}_variable"),
        entity_type=EntityType.objects.create(bot=bot, name=f"{tag}_sizes", values=[{"value": "small"}]),
        contact=contact,
        conversation=conversation,
        user_message=MessageFactory(
            conversation=conversation,
            type="user",
            text=f"{tag} asks about opening hours",
            meta={"entities": [{"type": "DATE", "value": "2026-11-21", "text": "today"}]},
        ),
        bot_message=MessageFactory(
            conversation=conversation,
            type="bot",
            text=f"{tag} answers",
            meta={"intents": [{"label": f"{tag}_intent", "confidence": 0.93, "source": "CORE_NLP"}]},
        ),
        session=BotSessionFactory(conversation=conversation, expires_at=timezone.now() + timedelta(hours=1)),
        api_key=api_key_create(owner=owner, name=f"{tag} key")[0],
        profile=OwnerProfile.objects.get(owner=owner),
    )
