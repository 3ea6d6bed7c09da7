import pytest

from bots.models import Dataset, DatasetRecord
from bots.search import dataset_search

pytestmark = pytest.mark.django_db


@pytest.fixture
def faq(owner):
    dataset = Dataset.objects.create(owner=owner, name="FAQ")
    for text, source in [
        ("Returns are free within 30 days of delivery.", "https://example.com/returns"),
        ("Gift cards never expire and can be used online.", "https://example.com/gift"),
        ("Our stores open at nine and close at eight.", ""),
        ("Returning a gift: gift receipts allow free returns.", ""),
    ]:
        DatasetRecord.objects.create(dataset=dataset, text=text, source=source, meta={"k": 1})
    return dataset


def test_best_record_first_with_scores(faq):
    hits = dataset_search(dataset=faq, search="can I return it within 30 days?", limit=5)
    assert hits[0][0].text.startswith("Returns are free")
    assert all(0 < score < 1 for _, score in hits)
    assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)
    assert hits[0][0].source == "https://example.com/returns" and hits[0][0].meta == {"k": 1}


def test_more_matching_words_rank_higher(faq):
    hits = dataset_search(dataset=faq, search="gift card expire", limit=2)
    assert hits[0][0].text.startswith("Gift cards never expire")


def test_no_match_and_other_datasets(faq, owner):
    assert dataset_search(dataset=faq, search="the of and", limit=5) == []
    assert dataset_search(dataset=faq, search="submarine", limit=5) == []
    other = Dataset.objects.create(owner=owner)
    assert dataset_search(dataset=other, search="gift", limit=5) == []


def test_query_text_is_never_search_syntax(faq):
    assert dataset_search(dataset=faq, search="gift & | ! ( ' :* <->", limit=5)[0][0].text.startswith(
        ("Gift", "Returning")
    )
