"""Admin write scope: a user who is both a bot owner and a conversation reviewer reads every bot, but
writes only into its own.

Every admin form field that points at an owner's object (a bot, dataset, skillset, ability, variable...)
is found from the models and forms themselves, then a crafted POST sets it to another owner's object:
on the add page, on the change page of one of the user's own objects (moving it), and in the inlines.
Nothing may end up in, or linked to, the other owner's objects.
"""

import json

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client, RequestFactory
from django.urls import reverse

from bots.models import Bot, Intent
from sessions_app.access.scoping import OWNER_PATHS, write_check
from sessions_app.models import BotSession, Conversation
from sessions_app.services.owners import CONVERSATION_REVIEWER_GROUP

from .test_admin_matrix import NOT_OWNED, objects_of, refused, registered

pytestmark = pytest.mark.django_db


@pytest.fixture
def dual(owner):
    """The owner, who is also a conversation reviewer."""
    owner.groups.add(Group.objects.get(name=CONVERSATION_REVIEWER_GROUP))
    return owner


@pytest.fixture
def mine(dual):
    return objects_of(dual)


@pytest.fixture
def theirs(other_owner):
    return objects_of(other_owner)


@pytest.fixture
def console(dual):
    client = Client()
    client.force_login(dual)
    return client


def _form_values(form) -> dict:
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if field.show_hidden_initial:
            data[form.add_initial_prefix(name)] = field.widget.format_value(value) if value is not None else ""
        key = form.add_prefix(name)
        if value is None or value is False:
            continue
        if isinstance(value, list | tuple):
            data[key] = [str(v) for v in value]
        elif isinstance(value, dict):
            data[key] = json.dumps(value)
        else:
            data[key] = str(value)
    return data


def form_post_data(response) -> dict:
    """What a browser would post back from a rendered admin add/change page, inlines included."""
    data = _form_values(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_form_values(formset.management_form))
        for form in formset.initial_forms:
            data.update(_form_values(form))
        data[f"{formset.prefix}-TOTAL_FORMS"] = str(formset.initial_form_count())
    return data


def linking_fields(model_admin, form) -> list:
    """The model fields this admin's form lets the user point at an owner-scoped object."""
    model = model_admin.model
    fields = [*model._meta.concrete_fields, *model._meta.many_to_many]
    return [f for f in fields if f.is_relation and f.related_model in OWNER_PATHS and f.name in form.fields]


def _linked(obj, field):
    if field.many_to_many:
        return set(getattr(obj, field.name).values_list("pk", flat=True))
    return getattr(obj, field.attname)


def _admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


def test_reviewers_see_every_bot_so_the_matrix_means_something(console, theirs):
    page = console.get(_admin_url(Bot, "changelist")).content.decode()
    assert f"/{theirs['bots.Bot'].pk}/" in page


# What each add form needs besides its links to be valid, so that only the link decides.
REQUIRED_ON_ADD = {
    "bots.Intent": lambda n: {"label": f"intent-{n}", "responses": "[]"},
    "bots.Variable": lambda n: {"name": f"variable-{n}", "type": "text"},
    "bots.EntityType": lambda n: {"name": f"entity-{n}", "values": "[]"},
    "bots.DatasetRecord": lambda n: {"text": f"record {n}"},
    "bots.Ability": lambda n: {"name": f"ability-{n}"},
    "bots.Bot": lambda n: {"name": f"bot-{n}", "visibility": "private", "confidence_threshold": "0.5"},
    "directline.DirectLineSecret": lambda n: {"name": f"site-{n}"},
}


def _errors(response):
    context = getattr(response, "context", None)
    return context and context.get("adminform") and context["adminform"].form.errors


def _with_link(data, field, target):
    return {**data, field.name: [str(target.pk)] if field.many_to_many else str(target.pk)}


def test_no_form_field_links_a_new_object_to_another_owners(console, mine, theirs):
    checked = []
    for label, model_admin in sorted(registered().items()):
        if label in NOT_OWNED:
            continue
        model = model_admin.model
        page = console.get(_admin_url(model, "add"))
        if page.status_code != 200:
            assert page.status_code == 403, f"{label} add: {page.status_code}"
            continue
        fields = linking_fields(model_admin, page.context["adminform"].form)
        for n, field in enumerate(fields):
            data = {**form_post_data(page), **REQUIRED_ON_ADD[label](n)}
            for other in fields:
                data = _with_link(data, other, mine[other.related_model._meta.label])
            related = field.related_model._meta.label
            # The same post with the user's own object is accepted: only the link decides.
            before = set(model.objects.values_list("pk", flat=True))
            response = console.post(_admin_url(model, "add"), _with_link(data, field, mine[related]))
            # Accepted: a redirect, or (a secret, shown once) the page that shows it; a row was created.
            assert response.status_code in (200, 302), f"{label}.{field.name}: {_errors(response)}"
            assert not _errors(response), f"{label}.{field.name}: {_errors(response)}"
            assert model.objects.exclude(pk__in=before).exists(), f"{label}.{field.name}: nothing created"
            model.objects.exclude(pk__in=before).delete()

            response = console.post(_admin_url(model, "add"), _with_link(data, field, theirs[related]))
            assert response.status_code in (200, 403), f"{label}.{field.name}: {response.status_code}"
            created = model.objects.exclude(pk__in=before)
            assert not created.exists(), f"{label}.{field.name}: created pointing at another owner's object"
            checked.append(f"{label}.{field.name}")
    # The holes this closes: a reviewer's read scope offered every bot to these forms.
    assert {"bots.Intent.bot", "bots.Variable.bot", "bots.EntityType.bot"} <= set(checked)
    assert {"bots.DatasetRecord.dataset", "bots.Ability.skillset", "bots.Intent.ability"} <= set(checked)
    assert {"bots.Bot.dataset", "bots.Bot.skillset", "bots.Intent.required_variables"} <= set(checked)
    assert "directline.DirectLineSecret.bot" in checked


def test_no_form_field_moves_an_own_object_into_another_owners(console, dual, mine, theirs):
    also_mine = objects_of(dual)
    # Entity type names are unique per bot: a second one named otherwise, to move the first one there.
    also_mine["bots.EntityType"].name = "colour"
    also_mine["bots.EntityType"].save()
    theirs["bots.EntityType"].name = "shape"
    theirs["bots.EntityType"].save()
    checked = []
    for label, model_admin in sorted(registered().items()):
        if label in NOT_OWNED:
            continue
        model = model_admin.model
        obj = mine[label]
        url = _admin_url(model, "change", obj.pk)
        page = console.get(url)
        assert page.status_code in (200, 403), f"{label} change: {page.status_code}"
        if page.status_code == 403 or not page.context["has_change_permission"]:
            continue
        for field in linking_fields(model_admin, page.context["adminform"].form):
            related = field.related_model._meta.label
            data = form_post_data(console.get(url))
            # Moved to another of the user's own objects: accepted.
            response = console.post(url, _with_link(data, field, also_mine[related]))
            assert response.status_code == 302, f"{label}.{field.name}: {_errors(response)}"
            obj.refresh_from_db()
            before = _linked(obj, field)
            assert before in (also_mine[related].pk, {also_mine[related].pk}), f"{label}.{field.name}"

            response = console.post(url, _with_link(data, field, theirs[related]))
            assert response.status_code in (200, 403), f"{label}.{field.name}: {response.status_code}"
            obj.refresh_from_db()
            assert _linked(obj, field) == before, f"{label}.{field.name}: moved to another owner's object"
            checked.append(f"{label}.{field.name}")
    assert {"bots.Intent.bot", "bots.Variable.bot", "bots.EntityType.bot", "bots.Ability.skillset"} <= set(checked)
    assert {"bots.DatasetRecord.dataset", "bots.Bot.dataset", "bots.Intent.required_variables"} <= set(checked)


def test_a_phishing_link_cannot_be_added_to_another_owners_public_bot(console, theirs):
    their_bot = theirs["bots.Bot"]
    Bot.objects.filter(pk=their_bot.pk).update(visibility="public")
    page = console.get(_admin_url(Intent, "add"))
    data = form_post_data(page)
    data.update(
        {
            "bot": str(their_bot.pk),
            "label": "phish",
            "responses": json.dumps([{"type": "link", "url": "https://evil.example/login"}]),
        }
    )
    console.post(_admin_url(Intent, "add"), data)
    assert not Intent.objects.filter(label="phish").exists()


def test_inlines_of_an_own_bot_cannot_link_another_owners_objects(console, mine, theirs):
    bot = mine["bots.Bot"]
    url = _admin_url(Bot, "change", bot.pk)

    def with_new_intent(label, objects):
        data = form_post_data(console.get(url))
        # Formset rows are numbered from 0: the new row is the one after the existing ones.
        row = int(data["intents-TOTAL_FORMS"])
        data["intents-TOTAL_FORMS"] = str(row + 1)
        data.update(
            {
                f"intents-{row}-label": label,
                f"intents-{row}-responses": "[]",
                f"intents-{row}-ability": str(objects["bots.Ability"].pk),
                f"intents-{row}-required_variables": [str(objects["bots.Variable"].pk)],
            }
        )
        return data

    response = console.post(url, with_new_intent("mine", mine))
    assert response.status_code == 302, _errors(response)
    assert Intent.objects.filter(bot=bot, label="mine", ability=mine["bots.Ability"]).exists()
    response = console.post(url, with_new_intent("theirs", theirs))
    assert response.status_code in (200, 403)
    assert not Intent.objects.filter(bot=bot, label="theirs").exists()


def test_inline_rows_posted_to_another_owners_bot_are_refused(console, theirs):
    their_bot = theirs["bots.Bot"]
    data = {
        "name": "Taken over",
        "variables-TOTAL_FORMS": "1",
        "variables-INITIAL_FORMS": "0",
        "variables-0-name": "planted",
        "variables-0-type": "text",
        "intents-TOTAL_FORMS": "0",
        "intents-INITIAL_FORMS": "0",
        "entity_types-TOTAL_FORMS": "0",
        "entity_types-INITIAL_FORMS": "0",
    }
    response = console.post(_admin_url(Bot, "change", their_bot.pk), data)
    assert refused(response), response.status_code
    assert not their_bot.variables.filter(name="planted").exists()
    assert Bot.objects.get(pk=their_bot.pk).name != "Taken over"


def test_posts_to_another_owners_objects_change_nothing(console, theirs):
    for label, model_admin in sorted(registered().items()):
        if label in NOT_OWNED:
            continue
        obj = theirs[label]
        before = type(obj).objects.filter(pk=obj.pk).values().first()
        opts = model_admin.model._meta
        for action in ("change", "delete"):
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_{action}", args=[obj.pk])
            response = console.post(url, {"post": "yes", "name": "Taken over", "text": "Taken over"})
            assert refused(response), f"{label} {action}: {response.status_code}"
        assert type(obj).objects.filter(pk=obj.pk).values().first() == before, label


def test_admin_actions_act_only_on_the_users_own_rows(console, mine, theirs):
    their_bot = theirs["bots.Bot"]
    changelist = _admin_url(Bot, "changelist")
    console.post(changelist, {"action": "delete_selected", "_selected_action": [str(their_bot.pk)], "post": "yes"})
    assert Bot.objects.filter(pk=their_bot.pk).exists()

    sessions_before = BotSession.objects.count()
    response = console.post(
        changelist,
        {"action": "create_session", "_selected_action": [str(their_bot.pk)], "apply": "1", "duration_seconds": "1800"},
    )
    assert response.status_code in (302, 404)
    assert BotSession.objects.count() == sessions_before

    conversations_before = Conversation.objects.filter(bot=their_bot).count()
    for name in ("bots_bot_try", "bots_bot_try_start", "bots_bot_try_send"):
        response = console.post(reverse(f"admin:{name}", args=[their_bot.pk]), {"text": "hello"})
        assert response.status_code == 404, f"{name}: {response.status_code}"
    assert Conversation.objects.filter(bot=their_bot).count() == conversations_before

    their_key = theirs["sessions_app.ApiKey"]
    console.post(
        _admin_url(type(their_key), "changelist"),
        {"action": "revoke_selected", "_selected_action": [str(their_key.pk)]},
    )
    their_key.refresh_from_db()
    assert their_key.revoked_at is None


def test_a_write_action_is_given_only_the_users_own_rows(dual, mine, theirs):
    bot_admin = admin.site._registry[Bot]
    request = RequestFactory().post("/admin/")
    request.user = dual
    seen = {}

    def spy_on(permission):
        def action(modeladmin, request, queryset):
            seen[permission] = set(queryset)

        if permission is not None:
            action.allowed_permissions = (permission,)
        return action

    for permission in ("view", "change", "delete", None):
        func, _, _ = bot_admin.get_action(spy_on(permission))
        # Handed every row a reviewer may read, as the changelist does.
        func(bot_admin, request, Bot.objects.all())
    assert seen["view"] == {mine["bots.Bot"], theirs["bots.Bot"]}
    # An action that declares nothing might write: it is scoped like one that does.
    assert seen["change"] == seen["delete"] == seen[None] == {mine["bots.Bot"]}


def test_autocomplete_offers_only_the_users_own_bots(console, mine, theirs):
    response = console.get(
        reverse("admin:autocomplete"), {"app_label": "bots", "model_name": "intent", "field_name": "bot", "term": ""}
    )
    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["results"]}
    assert ids == {str(mine["bots.Bot"].pk)}


def test_save_checks_the_saved_parent_whatever_the_form_allowed(dual, mine, theirs):
    intent = Intent(bot=theirs["bots.Bot"], label="planted")
    with pytest.raises(Exception, match="own"):
        write_check(dual, intent)
    moved = mine["bots.Intent"]
    moved.ability = theirs["bots.Ability"]
    with pytest.raises(Exception, match="own"):
        write_check(dual, moved)
    write_check(dual, mine["bots.Intent"].__class__(bot=mine["bots.Bot"], label="fine"))


def test_the_reviewer_side_still_reads_another_owners_bot(console, theirs):
    their_bot = theirs["bots.Bot"]
    page = console.get(_admin_url(Bot, "change", their_bot.pk))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert their_bot.name in page.content.decode()
