import pytest

from bots.models import Bot, Dataset, DatasetRecord, Skillset
from bots.tests.factories import (
    AbilityFactory,
    BotFactory,
    DatasetFactory,
    DatasetRecordFactory,
    SkillsetFactory,
)
from sessions_app.tests.apis.helpers import PREFIXES, assert_error, post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", PREFIXES)
def test_bot_crud(owner_client, owner, prefix):
    dataset = DatasetFactory(owner=owner)
    response = post(
        owner_client,
        f"{prefix}/bot/create",
        {
            "name": "Helpdesk",
            "backstory": "You help.",
            "visibility": "public",
            "datasetId": str(dataset.pk),
            "meta": {"team": "support"},
        },
    )
    assert response.status_code == 200, response.content
    bot_id = response.json()["id"]
    assert set(response.json()) == {"id"}
    bot = Bot.objects.get(pk=bot_id)
    assert bot.owner == owner and bot.dataset == dataset and bot.visibility == "public"

    fetched = owner_client.get(f"{prefix}/bot/{bot_id}/fetch").json()
    assert fetched["id"] == bot_id and fetched["name"] == "Helpdesk" and fetched["datasetId"] == str(dataset.pk)
    assert fetched["meta"] == {"team": "support"} and fetched["visibility"] == "public"
    assert isinstance(fetched["createdAt"], int) and isinstance(fetched["updatedAt"], int)
    assert fetched["orgId"] == owner.botportal_profile.org_id
    assert "description" not in fetched and "skillsetId" not in fetched and "model" not in fetched

    assert post(owner_client, f"{prefix}/bot/{bot_id}/update", {"description": "Desk"}).json() == {"id": bot_id}
    bot.refresh_from_db()
    assert bot.description == "Desk" and bot.name == "Helpdesk" and bot.version == 1
    post(owner_client, f"{prefix}/bot/{bot_id}/update", {"backstory": "You help kindly."})
    bot.refresh_from_db()
    assert bot.version == 2
    post(owner_client, f"{prefix}/bot/{bot_id}/update", {"backstory": "You help kindly."})
    bot.refresh_from_db()
    assert bot.version == 2

    listed = owner_client.get(f"{prefix}/bot/list").json()
    assert [item["id"] for item in listed["items"]] == [bot_id] and listed["cursor"] == bot_id

    assert post(owner_client, f"{prefix}/bot/{bot_id}/delete").json() == {"id": bot_id}
    assert not Bot.objects.filter(pk=bot_id).exists()
    assert_error(owner_client.get(f"{prefix}/bot/{bot_id}/fetch"), 404, "NOT_FOUND")


def test_another_owners_bot_is_404(other_client, bot):
    assert_error(other_client.get(f"/api/v1/bot/{bot.pk}/fetch"), 404, "NOT_FOUND")
    assert_error(post(other_client, f"/api/v1/bot/{bot.pk}/update", {"name": "mine"}), 404, "NOT_FOUND")
    assert_error(post(other_client, f"/api/v1/bot/{bot.pk}/delete"), 404, "NOT_FOUND")
    assert other_client.get("/api/v1/bot/list").json() == {"items": []}
    bot.refresh_from_db()
    assert bot.name == "Helpdesk"


def test_bot_routes_need_an_api_secret(anon_client, bot):
    assert_error(anon_client.get("/api/v1/bot/list"), 401, "NOT_AUTHENTICATED")
    assert_error(post(anon_client, "/api/v1/bot/create", {"name": "x"}), 401, "NOT_AUTHENTICATED")
    assert_error(anon_client.get(f"/api/v1/bot/{bot.pk}/fetch"), 401, "NOT_AUTHENTICATED")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"visibility": "secret"}, "visibility"),
        ({"meta": {"_internal": 1}}, "meta"),
        ({"meta": "x"}, "meta"),
        ({"datasetId": "nope"}, "datasetId"),
        ({"name": ["x"]}, "name"),
        ({"privacy": "maybe"}, "privacy"),
    ],
)
def test_bot_create_invalid_is_400(owner_client, body, field):
    assert_error(post(owner_client, "/api/v1/bot/create", body), 400, "BAD_REQUEST", field)
    assert not Bot.objects.exists()


def test_bot_cannot_use_another_owners_dataset(owner_client, other_owner):
    foreign = DatasetFactory(owner=other_owner)
    response = post(owner_client, "/api/v1/bot/create", {"datasetId": str(foreign.pk)})
    assert_error(response, 400, "BAD_REQUEST", "datasetId")


def test_bot_list_pages_newest_first_and_filters_on_meta(owner_client, owner):
    bots = [BotFactory(owner=owner, meta={"tier": "gold" if n % 2 else "free"}) for n in range(5)]
    first = owner_client.get("/api/v1/bot/list", {"take": 2}).json()
    expected = [str(b.pk) for b in sorted(bots, key=lambda b: (b.created_at, b.pk), reverse=True)]
    assert [b["id"] for b in first["items"]] == expected[:2]
    rest = owner_client.get("/api/v1/bot/list", {"cursor": first["cursor"]}).json()
    assert [b["id"] for b in rest["items"]] == expected[2:]
    asc = owner_client.get("/api/v1/bot/list", {"order": "asc"}).json()
    assert [b["id"] for b in asc["items"]] == expected[::-1]
    gold = owner_client.get("/api/v1/bot/list", {"meta.tier": "gold"}).json()
    assert {b["id"] for b in gold["items"]} == {str(b.pk) for b in bots if b.meta["tier"] == "gold"}
    assert_error(owner_client.get("/api/v1/bot/list", {"take": 101}), 400, "BAD_REQUEST", "take")
    assert_error(owner_client.get("/api/v1/bot/list", {"take": 0}), 400, "BAD_REQUEST", "take")
    assert_error(
        owner_client.get("/api/v1/bot/list", {"cursor": "00000000-0000-0000-0000-000000000000"}),
        400,
        "BAD_REQUEST",
        "cursor",
    )


def test_another_owners_cursor_is_refused(owner_client, other_owner):
    foreign = BotFactory(owner=other_owner)
    assert_error(owner_client.get("/api/v1/bot/list", {"cursor": str(foreign.pk)}), 400, "BAD_REQUEST", "cursor")


def test_bot_list_query_count_is_constant(owner_client, owner, django_assert_max_num_queries):
    BotFactory.create_batch(100, owner=owner)
    with django_assert_max_num_queries(3):
        assert len(owner_client.get("/api/v1/bot/list").json()["items"]) == 100


def test_dataset_and_records(owner_client, owner, other_client):
    dataset_id = post(owner_client, "/api/v1/dataset/create", {"name": "FAQ"}).json()["id"]
    base = f"/api/v1/dataset/{dataset_id}/record"
    record_id = post(owner_client, f"{base}/create", {"text": "Opening hours are 9 to 5.", "source": "faq"}).json()[
        "id"
    ]
    post(owner_client, f"{base}/create", {"text": "We ship worldwide."})
    assert_error(post(owner_client, f"{base}/create", {}), 400, "BAD_REQUEST", "text")
    assert_error(post(owner_client, f"{base}/create", {"text": "  "}), 400, "BAD_REQUEST", "text")
    record = owner_client.get(f"{base}/{record_id}/fetch").json()
    assert record["text"] == "Opening hours are 9 to 5." and record["source"] == "faq"
    post(owner_client, f"{base}/{record_id}/update", {"text": "Opening hours are 9 to 6."})
    assert DatasetRecord.objects.get(pk=record_id).text == "Opening hours are 9 to 6."
    assert len(owner_client.get(f"{base}/list").json()["items"]) == 2
    found = post(owner_client, f"/api/v1/dataset/{dataset_id}/search", {"search": "opening hours"}).json()
    assert found["id"] == dataset_id and found["records"][0]["id"] == record_id
    assert 0 < found["records"][0]["score"] <= 1 and len(found["records"]) == 1
    assert_error(post(owner_client, f"/api/v1/dataset/{dataset_id}/search", {}), 400, "BAD_REQUEST", "search")
    assert_error(other_client.get(f"{base}/list"), 404, "NOT_FOUND")
    assert_error(other_client.get(f"{base}/{record_id}/fetch"), 404, "NOT_FOUND")
    assert_error(post(other_client, f"/api/v1/dataset/{dataset_id}/search", {"search": "x"}), 404, "NOT_FOUND")
    post(owner_client, f"{base}/{record_id}/delete")
    assert not DatasetRecord.objects.filter(pk=record_id).exists()
    post(owner_client, f"/api/v1/dataset/{dataset_id}/update", {"description": "Answers"})
    assert Dataset.objects.get(pk=dataset_id).description == "Answers"
    post(owner_client, f"/api/v1/dataset/{dataset_id}/delete")
    assert not Dataset.objects.exists()


def test_record_of_another_dataset_is_404(owner_client, owner):
    dataset, other = DatasetFactory(owner=owner), DatasetFactory(owner=owner)
    record = DatasetRecordFactory(dataset=other)
    assert_error(owner_client.get(f"/api/v1/dataset/{dataset.pk}/record/{record.pk}/fetch"), 404, "NOT_FOUND")


def test_skillsets_and_abilities(owner_client, owner, other_client):
    skillset_id = post(owner_client, "/api/v1/skillset/create", {"name": "Tools"}).json()["id"]
    base = f"/api/v1/skillset/{skillset_id}/ability"
    ability_id = post(owner_client, f"{base}/create", {"name": "Hand over", "instruction": "Escalate."}).json()["id"]
    ability = owner_client.get(f"{base}/{ability_id}/fetch").json()
    assert ability["instruction"] == "Escalate." and ability["name"] == "Hand over"
    post(owner_client, f"{base}/{ability_id}/update", {"instruction": "Escalate politely."})
    assert owner_client.get(f"{base}/{ability_id}/fetch").json()["instruction"] == "Escalate politely."
    assert [a["id"] for a in owner_client.get(f"{base}/list").json()["items"]] == [ability_id]
    assert_error(other_client.get(f"/api/v1/skillset/{skillset_id}/fetch"), 404, "NOT_FOUND")
    assert_error(other_client.get(f"{base}/{ability_id}/fetch"), 404, "NOT_FOUND")
    post(owner_client, f"{base}/{ability_id}/delete")
    assert owner_client.get(f"{base}/list").json() == {"items": []}
    post(owner_client, f"/api/v1/skillset/{skillset_id}/delete")
    assert not Skillset.objects.exists()


def test_bot_with_skillset_bumps_version_when_linked(owner_client, owner):
    bot = BotFactory(owner=owner)
    skillset = SkillsetFactory(owner=owner)
    AbilityFactory(skillset=skillset)
    post(owner_client, f"/api/v1/bot/{bot.pk}/update", {"skillsetId": str(skillset.pk)})
    bot.refresh_from_db()
    assert bot.skillset == skillset and bot.version == 2
    post(owner_client, f"/api/v1/bot/{bot.pk}/update", {"name": "Renamed", "meta": {"a": "b"}})
    bot.refresh_from_db()
    assert bot.version == 2 and bot.name == "Renamed"
