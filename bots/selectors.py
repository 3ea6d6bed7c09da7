"""Reads of what a bot is, always scoped to one owner: another owner's object is simply not found."""

import math
import re
from collections import Counter

from django.db import connection
from django.db.models import Q, QuerySet

from botportal import validation
from botportal.errors import NotFound
from botportal.rows import JoinedLookup
from bots.models import Ability, Bot, BotIntentModel, Dataset, DatasetRecord, Skillset, Utterance


def _get(queryset: QuerySet, pk, what: str):
    key = validation.uuid_or_none(pk)
    return _found(queryset.filter(pk=key).first() if key is not None else None, what, pk)


def _found(found, what: str, pk):
    if found is None:
        raise NotFound(f"No {what} with id {pk!r}.")
    return found


def bot_list(*, owner) -> QuerySet:
    return Bot.objects.filter(owner=owner)


def bot_get(*, owner, bot_id) -> Bot:
    return _get(bot_list(owner=owner), bot_id, "bot")


# Anyone may open sessions with a public bot, so this lookup is written once per process
# (`botportal.rows`) rather than compiled by Django on every request.
_BOT_WITH_OWNER = JoinedLookup(Bot, relation="owner", by="id")


def bot_get_any(*, bot_id) -> Bot:
    """A bot whoever owns it, with its owner, for routes where visibility rather than ownership decides
    (session create). A deactivated owner's bots serve no one: not found."""
    key = validation.uuid_or_none(bot_id)
    bot = _BOT_WITH_OWNER.get(key) if key is not None else None
    # Hand-written SQL skips LiveBotManager's rule, so it is applied here: a deleted bot is not found.
    return _found(bot if bot is not None and bot.owner.is_active and bot.deleted_at is None else None, "bot", bot_id)


def dataset_list(*, owner) -> QuerySet:
    return Dataset.objects.filter(owner=owner)


def dataset_get(*, owner, dataset_id) -> Dataset:
    return _get(dataset_list(owner=owner), dataset_id, "dataset")


def dataset_record_list(*, dataset: Dataset) -> QuerySet:
    return DatasetRecord.objects.filter(dataset=dataset)


def dataset_record_get(*, dataset: Dataset, record_id) -> DatasetRecord:
    return _get(dataset_record_list(dataset=dataset), record_id, "record")


SEARCH_CONFIG = "english"
MAX_QUERY_TERMS = 12
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves""".split()  # noqa: SIM905
)
_WORD = re.compile(r"\w+", re.UNICODE)


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.casefold()) if w not in STOPWORDS]


def _stem(word: str) -> str:
    """A deliberately small suffix stripper so that "returns" finds "return" on SQLite too."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def record_covers_query(text: str, query: str) -> bool:
    """Whether a record holds every content word of a query of at least two content words: a record that
    specific answers the question better than an intent that merely shares a word with it."""
    wanted = {_stem(t) for t in _terms(query)}
    if len(wanted) < 2:
        return False
    return wanted <= {_stem(w) for w in _WORD.findall(text.casefold())}


def record_coverage(text: str, query: str) -> float:
    """The share of a query's content words that a record holds (0 for a query without content words)."""
    wanted = {_stem(t) for t in _terms(query)}
    if not wanted:
        return 0.0
    return len(wanted & {_stem(w) for w in _WORD.findall(text.casefold())}) / len(wanted)


def dataset_search(*, dataset: Dataset, search: str, limit: int = 10) -> list[tuple[DatasetRecord, float]]:
    """The dataset's records best matching `search`, best first, each with a score in (0, 1).

    The one search the engine and the API share. Any word of the search may match, and records that
    match more of its words, more often, rank higher. PostgreSQL ranks with its full-text search over a
    stored, GIN-indexed tsvector; other databases with a BM25 ranking computed here.
    """
    terms = _terms(search)[:MAX_QUERY_TERMS]
    if not terms or limit <= 0:
        return []
    dataset_id = dataset.pk if isinstance(dataset, Dataset) else dataset
    if connection.vendor == "postgresql":
        ranked = _search_postgresql(dataset_id, terms, limit)
    else:
        ranked = _search_portable(dataset_id, terms, limit)
    records = DatasetRecord.objects.in_bulk([record_id for record_id, _ in ranked])
    return [(records[record_id], score) for record_id, score in ranked if record_id in records]


def _search_postgresql(dataset_id, terms, limit) -> list[tuple]:
    """Rank with ts_rank_cd over a bounded candidate set, so a very common word cannot make a search slow.

    Records matching at least two of the query's words are the candidates first; only when they are
    too few do records matching any one word join them. The query text goes through
    plainto_tsquery, so nothing the user typed is ever read as tsquery syntax.
    """
    hits: dict = {}
    stages = ["pairs", "any"] if len(terms) > 1 else ["any"]
    for stage in stages:
        for record_id, score in _pg_query(dataset_id, terms, limit, stage):
            hits.setdefault(record_id, score)
        if len(hits) >= limit:
            break
    return sorted(hits.items(), key=lambda item: (-item[1], str(item[0])))[:limit]


# Lexemes of the query, one per row; "pairs" ORs every two-lexeme AND, "any" ORs the lexemes.
_PG_SEARCH = """
    WITH lexemes AS (
        SELECT DISTINCT unnest(tsvector_to_array(to_tsvector(%(config)s::regconfig, %(text)s))) AS lexeme
    ),
    q AS (
        SELECT
            (SELECT string_agg(quote_literal(lexeme), ' | ') FROM lexemes)::tsquery AS any_query,
            (SELECT string_agg('(' || quote_literal(a.lexeme) || ' & ' || quote_literal(b.lexeme) || ')', ' | ')
             FROM lexemes a JOIN lexemes b ON a.lexeme < b.lexeme)::tsquery AS pair_query
    ),
    candidates AS MATERIALIZED (
        SELECT r.id, r.search_vector
        FROM bots_datasetrecord r
        WHERE r.dataset_id = %(dataset)s AND r.search_vector @@ (SELECT {column} FROM q)
        LIMIT %(candidates)s
    )
    SELECT c.id, ts_rank_cd(c.search_vector, q.any_query, 32) AS score
    FROM candidates c, q
    ORDER BY score DESC, c.id
    LIMIT %(limit)s
"""
CANDIDATE_LIMIT = 1000


def _pg_query(dataset_id, terms, limit, stage) -> list[tuple]:
    column = "pair_query" if stage == "pairs" else "any_query"
    params = {
        "config": SEARCH_CONFIG,
        "text": " ".join(terms),
        "dataset": dataset_id,
        "candidates": CANDIDATE_LIMIT,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_PG_SEARCH.format(column=column), params)
        return [(record_id, round(float(score), 6)) for record_id, score in cursor.fetchall()]


def _search_portable(dataset_id, terms, limit) -> list[tuple]:
    stems = sorted({_stem(t) for t in terms})
    matches = Q()
    for stem in stems:
        matches |= Q(text__icontains=stem)
    records = DatasetRecord.objects.filter(dataset_id=dataset_id)
    total = records.count()
    # Bounded like the PostgreSQL search, so a very common word cannot make a search slow.
    candidates = list(records.filter(matches).values_list("id", "text")[:CANDIDATE_LIMIT])
    if not candidates:
        return []
    tokenised = [[_stem(w) for w in _WORD.findall(text.casefold())] for _, text in candidates]
    average_length = sum(len(t) for t in tokenised) / len(tokenised) or 1.0
    document_frequency = Counter(stem for tokens in tokenised for stem in set(tokens) if stem in stems)
    k1, b = 1.2, 0.75
    scored = []
    for (record_id, _text), tokens in zip(candidates, tokenised, strict=True):
        counts = Counter(tokens)
        score = 0.0
        for stem in stems:
            tf = counts.get(stem, 0)
            if not tf:
                continue
            df = document_frequency[stem]
            idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(tokens) / average_length))
        if score > 0:
            scored.append((round(score / (score + 1), 6), record_id))
    scored.sort(key=lambda item: (-item[0], str(item[1])))
    return [(record_id, score) for score, record_id in scored[:limit]]


def skillset_list(*, owner) -> QuerySet:
    return Skillset.objects.filter(owner=owner)


def skillset_get(*, owner, skillset_id) -> Skillset:
    return _get(skillset_list(owner=owner), skillset_id, "skillset")


def ability_list(*, skillset: Skillset) -> QuerySet:
    return Ability.objects.filter(skillset=skillset)


def ability_get(*, skillset: Skillset, ability_id) -> Ability:
    return _get(ability_list(skillset=skillset), ability_id, "ability")


# --- intent models (engine reads: the bot is already known, so no owner scoping here) -----------------


def intent_model_data(*, bot_id, version, before=None) -> bytes | None:
    """The stored model of one version of the bot (or, with `before`, of its newest ready version before it)."""
    ready = BotIntentModel.objects.filter(bot_id=bot_id, status=BotIntentModel.Status.READY, data__isnull=False)
    ready = ready.filter(version=version) if before is None else ready.filter(version__lt=before)
    data = ready.order_by("-version").values_list("data", flat=True).first()
    return bytes(data) if data is not None else None


def intent_utterances(*, bot_id) -> list[tuple[str, str]]:
    """(intent label, utterance text) of every training utterance of the bot, in a stable order."""
    return list(Utterance.objects.filter(intent__bot_id=bot_id).order_by("id").values_list("intent__label", "text"))
