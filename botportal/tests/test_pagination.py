import pytest

from botportal.api.pagination import paginate
from botportal.errors import InvalidInput
from bots.models import Bot
from bots.tests.factories import BotFactory
from sessions_app.models import Message
from sessions_app.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


def test_pages_cover_everything_once_in_both_orders(owner):
    bots = BotFactory.create_batch(7, owner=owner)
    for order in ("asc", "desc"):
        seen, cursor = [], None
        while True:
            params = {"take": "3", "order": order, **({"cursor": cursor} if cursor else {})}
            page = paginate(Bot.objects.filter(owner=owner), params)
            if not page.items:
                assert page.cursor is None
                break
            seen += [bot.pk for bot in page.items]
            cursor = page.cursor
        assert sorted(seen) == sorted(bot.pk for bot in bots) and len(seen) == 7


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"take": "0"}, "take"),
        ({"take": "101"}, "take"),
        ({"take": "-1"}, "take"),
        ({"take": "ten"}, "take"),
        ({"order": "random"}, "order"),
        ({"cursor": "not-an-id"}, "cursor"),
        ({"meta.a b": "x"}, "meta.a b"),
        ({"meta._runtime": "x"}, "meta._runtime"),
        ({"meta.0": "x"}, "meta.0"),
    ],
)
def test_invalid_parameters_name_the_field(owner, params, field):
    with pytest.raises(InvalidInput) as raised:
        paginate(Bot.objects.filter(owner=owner), params)
    assert field in raised.value.fields


def test_take_100_is_allowed_and_is_the_default(owner):
    BotFactory.create_batch(101, owner=owner)
    assert len(paginate(Bot.objects.all(), {}).items) == 100
    assert len(paginate(Bot.objects.all(), {"take": "100"}).items) == 100


def test_meta_filters_match_strings_numbers_and_booleans(bot):
    conversation = ConversationFactory(bot=bot)
    MessageFactory(conversation=conversation, text="a", meta={"n": 5, "ok": True, "s": "x"})
    MessageFactory(conversation=conversation, text="b", meta={"n": "5"})
    MessageFactory(conversation=conversation, text="c", meta={})
    queryset = Message.objects.filter(conversation=conversation)

    def texts(params):
        return [m.text for m in paginate(queryset, params, default_order="asc", sequential=True).items]

    assert texts({"meta.n": "5"}) == ["a", "b"]
    assert texts({"meta.ok": "true"}) == ["a"]
    assert texts({"meta.s": "x", "meta.n": "5"}) == ["a"]
    assert texts({"meta.missing": "x"}) == []


@pytest.mark.parametrize("key", ["contains", "isnull", "regex", "a__b", "has_key", "in", "0x", "s__contains"])
def test_a_meta_key_is_a_plain_json_key_never_an_orm_lookup(bot, key):
    conversation = ConversationFactory(bot=bot)
    MessageFactory(conversation=conversation, text="match", meta={key: "x"})
    MessageFactory(conversation=conversation, text="other", meta={"s": "x", "a": {"b": "x"}, key: "y"})
    MessageFactory(conversation=conversation, text="none", meta={})
    queryset = Message.objects.filter(conversation=conversation)
    for value in ("x", "true", ".*"):
        page = paginate(queryset, {f"meta.{key}": value}, default_order="asc", sequential=True)
        assert [m.text for m in page.items] == (["match"] if value == "x" else [])
