import pytest

from botportal.errors import InvalidInput
from bots.services.resources import bot_create, bot_update, dataset_record_create
from bots.tests.factories import BotFactory, DatasetFactory, SkillsetFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("fields", "bumps"),
    [
        ({"backstory": "new"}, True),
        ({"model": "gpt"}, True),
        ({"privacy": True}, True),
        ({"moderation": True}, True),
        ({"name": "new name"}, False),
        ({"description": "new"}, False),
        ({"meta": {"a": "b"}}, False),
        ({"visibility": "public"}, False),
    ],
)
def test_version_bumps_only_when_the_definition_changes(owner, fields, bumps):
    bot = BotFactory(owner=owner)
    updated = bot_update(bot=bot, fields=fields)
    assert updated.version == (2 if bumps else 1)
    bot.refresh_from_db()
    assert bot.version == (2 if bumps else 1)
    for name, value in fields.items():
        assert getattr(bot, name) == value


def test_linking_a_dataset_bumps_and_unchanged_values_do_not(owner):
    bot = BotFactory(owner=owner)
    dataset = DatasetFactory(owner=owner)
    bot_update(bot=bot, fields={"dataset_id": dataset.pk})
    bot_update(bot=bot, fields={"dataset_id": dataset.pk})
    bot.refresh_from_db()
    assert bot.dataset == dataset and bot.version == 2


def test_a_bot_may_only_use_its_owners_knowledge(owner, other_owner):
    with pytest.raises(InvalidInput) as raised:
        bot_create(
            owner=owner,
            fields={
                "dataset_id": DatasetFactory(owner=other_owner).pk,
                "skillset_id": SkillsetFactory(owner=other_owner).pk,
            },
        )
    assert set(raised.value.fields) == {"datasetId", "skillsetId"}


def test_meta_rules_apply(owner):
    with pytest.raises(InvalidInput, match="meta"):
        bot_create(owner=owner, fields={"meta": {"_private": 1}})


def test_a_record_needs_text(owner):
    with pytest.raises(InvalidInput, match="text"):
        dataset_record_create(dataset=DatasetFactory(owner=owner), fields={"text": "  "})
