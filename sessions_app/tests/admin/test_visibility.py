"""Every admin page, for every role: owners see only their own objects, reviewers read and change nothing."""

import pytest
from django.urls import reverse

from bots.models import Ability, Bot, Dataset, DatasetRecord, EntityType, Intent, Skillset, Variable
from bots.tests.factories import bot_admin_form
from sessions_app.models import ApiKey, BotSession, Contact, Conversation, Message, OwnerProfile

OWNER_MODELS = [
    Bot,
    Intent,
    Variable,
    EntityType,
    Dataset,
    DatasetRecord,
    Skillset,
    Ability,
    Contact,
    Conversation,
    Message,
    BotSession,
    ApiKey,
]
REVIEWABLE = [Bot, Contact, Conversation, Message]
NOT_REVIEWABLE = [m for m in OWNER_MODELS if m not in REVIEWABLE] + [OwnerProfile]


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def listed_pks(response):
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.mark.parametrize("model", OWNER_MODELS, ids=lambda m: m.__name__)
def test_owner_changelist_lists_only_its_own_objects(model, world, owner, login_client):
    response = login_client(owner).get(url(model, "changelist"))
    assert response.status_code == 200
    pks = listed_pks(response)
    assert world.mine.by_model()[model].pk in pks
    assert world.theirs.by_model()[model].pk not in pks


@pytest.mark.parametrize("view", ["change", "delete", "history"])
@pytest.mark.parametrize("model", OWNER_MODELS, ids=lambda m: m.__name__)
def test_another_owners_object_is_a_404(model, view, world, owner, login_client):
    client = login_client(owner)
    theirs = world.theirs.by_model()[model]
    assert client.get(url(model, view, theirs.pk)).status_code == 404
    assert client.post(url(model, view, theirs.pk), {"post": "yes"}).status_code == 404
    assert model.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("model", OWNER_MODELS, ids=lambda m: m.__name__)
def test_owner_opens_its_own_objects(model, world, owner, login_client):
    response = login_client(owner).get(url(model, "change", world.mine.by_model()[model].pk))
    assert response.status_code == 200


def test_transcript_of_another_owners_conversation_is_a_404(world, owner, login_client):
    client = login_client(owner)
    other = reverse("admin:sessions_app_conversation_transcript", args=[world.theirs.conversation.pk])
    assert client.get(other).status_code == 404
    mine = reverse("admin:sessions_app_conversation_transcript", args=[world.mine.conversation.pk])
    assert client.get(mine).status_code == 200


@pytest.mark.parametrize("model", REVIEWABLE, ids=lambda m: m.__name__)
def test_reviewer_reads_every_owners_objects(model, world, reviewer, login_client):
    client = login_client(reviewer)
    pks = listed_pks(client.get(url(model, "changelist")))
    assert {world.mine.by_model()[model].pk, world.theirs.by_model()[model].pk} <= pks
    response = client.get(url(model, "change", world.theirs.by_model()[model].pk))
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assert response.context["has_delete_permission"] is False
    assert b'name="_save"' not in response.content
    assert b"deletelink" not in response.content


@pytest.mark.parametrize("model", REVIEWABLE, ids=lambda m: m.__name__)
def test_reviewer_changes_nothing(model, world, reviewer, login_client):
    client = login_client(reviewer)
    obj = world.theirs.by_model()[model]
    assert client.post(url(model, "change", obj.pk), {"name": "changed", "text": "changed"}).status_code == 403
    assert client.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert client.get(url(model, "add")).status_code == 403
    obj.refresh_from_db()
    assert "changed" not in [getattr(obj, "name", None), getattr(obj, "text", None)]
    changelist = client.get(url(model, "changelist"))
    assert "delete_selected" not in changelist.context["cl"].model_admin.get_actions(changelist.wsgi_request)


@pytest.mark.parametrize("model", NOT_REVIEWABLE, ids=lambda m: m.__name__)
def test_reviewer_has_no_access_to_keys_sessions_or_definitions(model, world, reviewer, login_client):
    client = login_client(reviewer)
    assert client.get(url(model, "changelist")).status_code == 403
    # Not visible to reviewers at all: the same 404 as a missing object.
    assert client.get(url(model, "change", world.mine.by_model()[model].pk)).status_code == 404


def test_reviewer_never_sees_a_secret_or_digest(world, reviewer, login_client):
    client = login_client(reviewer)
    pages = [reverse("admin:index")]
    for model in REVIEWABLE:
        pages.append(url(model, "changelist"))
        pages.append(url(model, "change", world.theirs.by_model()[model].pk))
    pages.append(reverse("admin:sessions_app_conversation_transcript", args=[world.theirs.conversation.pk]))
    digests = [world.mine.session.token_digest, world.theirs.session.token_digest]
    digests += [world.mine.api_key.digest, world.theirs.api_key.digest]
    for page in pages:
        content = client.get(page).content.decode()
        for digest in digests:
            assert digest not in content, page
        assert world.theirs.api_key.prefix not in content


def test_reviewer_transcript_has_no_way_to_edit(world, reviewer, login_client):
    response = login_client(reviewer).get(
        reverse("admin:sessions_app_conversation_transcript", args=[world.theirs.conversation.pk])
    )
    content = response.content.decode()
    assert "Beta asks about opening hours" in content
    assert "Edit details" not in content
    assert "<form" not in content.split('id="content-main"')[1]
    assert "<textarea" not in content


@pytest.mark.parametrize("model", OWNER_MODELS + [OwnerProfile], ids=lambda m: m.__name__)
def test_superuser_sees_everything(model, world, superuser, login_client):
    client = login_client(superuser)
    pks = listed_pks(client.get(url(model, "changelist")))
    assert {world.mine.by_model()[model].pk, world.theirs.by_model()[model].pk} <= pks
    assert client.get(url(model, "change", world.theirs.by_model()[model].pk)).status_code == 200


@pytest.mark.parametrize(
    ("app_label", "model_name", "field_name", "attr"),
    [
        ("bots", "bot", "dataset", "dataset"),
        ("bots", "bot", "skillset", "skillset"),
        ("bots", "intent", "bot", "bot"),
        ("bots", "datasetrecord", "dataset", "dataset"),
        ("bots", "ability", "skillset", "skillset"),
    ],
)
def test_autocomplete_offers_only_own_objects(app_label, model_name, field_name, attr, world, owner, login_client):
    response = login_client(owner).get(
        reverse("admin:autocomplete"),
        {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": ""},
    )
    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["results"]}
    assert str(getattr(world.mine, attr).pk) in ids
    assert str(getattr(world.theirs, attr).pk) not in ids


def test_filters_offer_only_own_objects(world, owner, login_client):
    client = login_client(owner)
    content = client.get(url(Conversation, "changelist")).content.decode()
    assert "Alpha bot" in content and "Alpha contact" in content
    assert "Beta bot" not in content and "Beta contact" not in content
    for model in [Intent, Variable, DatasetRecord, Ability]:
        content = client.get(url(model, "changelist")).content.decode()
        assert "Beta" not in content, model
    # Filtering on another owner's object by hand in the URL finds nothing.
    response = client.get(url(Conversation, "changelist"), {"bot__id__exact": world.theirs.bot.pk})
    assert listed_pks(response) == set()


def test_form_choices_offer_only_own_objects(world, owner, login_client):
    response = login_client(owner).get(url(Bot, "change", world.mine.bot.pk))
    form = response.context["adminform"].form
    assert set(form.fields["dataset"].queryset) == {world.mine.dataset}
    assert set(form.fields["skillset"].queryset) == {world.mine.skillset}
    intent_formset = next(f for f in response.context["inline_admin_formsets"] if f.formset.model is Intent).formset
    assert set(intent_formset.forms[0].fields["required_variables"].queryset) == {world.mine.variable}
    assert set(intent_formset.forms[0].fields["ability"].queryset) == {world.mine.ability}


def test_owner_can_not_point_its_bot_at_another_owners_dataset(world, owner, login_client):
    client = login_client(owner)
    response = client.post(
        url(Bot, "add"), bot_admin_form(visibility="private", name="Sneaky", dataset=world.theirs.dataset.pk)
    )
    assert response.status_code == 200
    assert "dataset" in response.context["adminform"].form.errors
    assert not Bot.objects.filter(name="Sneaky").exists()


def test_owner_is_set_on_create_and_can_not_be_changed(world, owner, other_owner, login_client):
    client = login_client(owner)
    response = client.post(url(Bot, "add"), bot_admin_form(visibility="private", name="Mine", owner=other_owner.pk))
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    bot = Bot.objects.get(name="Mine")
    assert bot.owner == owner
    response = client.post(
        url(Bot, "change", bot.pk), bot_admin_form(visibility="private", name="Mine", owner=other_owner.pk)
    )
    assert response.status_code == 302
    bot.refresh_from_db()
    assert bot.owner == owner


def test_owner_sees_its_org_id_on_the_dashboard(world, owner, login_client):
    content = login_client(owner).get(reverse("admin:index")).content.decode()
    assert world.mine.profile.org_id in content
    assert world.theirs.profile.org_id not in content
    assert "Alpha bot" in content and "Beta bot" not in content


def test_owner_adds_contacts_and_datasets_as_its_own(world, owner, other_owner, login_client):
    client = login_client(owner)
    response = client.post(
        url(Contact, "add"), {"fingerprint": "web-1", "name": "Grace", "email": "grace@example.com", "meta": "{}"}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Contact.objects.get(fingerprint="web-1").owner == owner
    dataset = {"name": "FAQ", "description": "", "meta": "{}", "owner": other_owner.pk}
    response = client.post(url(Dataset, "add"), dataset)
    assert response.status_code == 302
    assert Dataset.objects.get(name="FAQ").owner == owner


def test_owner_can_not_add_an_intent_to_another_owners_bot(world, owner, login_client):
    data = {"bot": world.theirs.bot.pk, "label": "sneaky", "responses": "[]"}
    data.update({"utterances-TOTAL_FORMS": "0", "utterances-INITIAL_FORMS": "0"})
    response = login_client(owner).post(url(Intent, "add"), data)
    assert response.status_code == 200
    assert "bot" in response.context["adminform"].form.errors
    assert not Intent.objects.filter(label="sneaky").exists()
