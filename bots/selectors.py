"""Reads of bot definitions: dataset search (the one ranking the engine and the API share)."""

import json
import math
import re
from collections import Counter
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q

from .models import Dataset, DatasetRecord

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


@dataclass(frozen=True)
class SearchHit:
    id: str
    text: str
    source: str
    meta: dict
    score: float


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


def dataset_search(*, dataset: Dataset | str, query: str, limit: int = 5) -> list[SearchHit]:
    """The dataset's records best matching `query`, best first, each with a score in (0, 1).

    Any query word may match (OR), and records that match more of the words, more often, rank higher.
    PostgreSQL ranks with its full-text search over a stored, GIN-indexed tsvector; other databases
    with a BM25 ranking computed here.
    """
    dataset_id = dataset.pk if isinstance(dataset, Dataset) else dataset
    terms = _terms(query)[:MAX_QUERY_TERMS]
    if not terms or limit <= 0:
        return []
    if connection.vendor == "postgresql":
        return _search_postgresql(dataset_id, terms, limit)
    return _search_portable(dataset_id, terms, limit)


def _search_postgresql(dataset_id, terms, limit) -> list[SearchHit]:
    """Rank with ts_rank_cd over a bounded candidate set, so a very common word cannot make a search slow.

    Records matching at least two of the query's words are the candidates first; only when they are
    too few do records matching any one word join them. The query text goes through
    plainto_tsquery, so nothing the user typed is ever read as tsquery syntax.
    """
    hits: dict[str, SearchHit] = {}
    stages = ["pairs", "any"] if len(terms) > 1 else ["any"]
    for stage in stages:
        for hit in _pg_query(dataset_id, terms, limit, stage):
            hits.setdefault(hit.id, hit)
        if len(hits) >= limit:
            break
    return sorted(hits.values(), key=lambda h: (-h.score, h.id))[:limit]


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
        SELECT r.id, r.text, r.source, r.meta, r.search_vector
        FROM bots_datasetrecord r
        WHERE r.dataset_id = %(dataset)s AND r.search_vector @@ (SELECT {column} FROM q)
        LIMIT %(candidates)s
    )
    SELECT c.id, c.text, c.source, c.meta, ts_rank_cd(c.search_vector, q.any_query, 32) AS score
    FROM candidates c, q
    ORDER BY score DESC, c.id
    LIMIT %(limit)s
"""
CANDIDATE_LIMIT = 1000


def _pg_query(dataset_id, terms, limit, stage) -> list[SearchHit]:
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
        rows = cursor.fetchall()
    hits = []
    for record_id, text, source, meta, score in rows:
        if isinstance(meta, str):
            meta = json.loads(meta)
        hits.append(SearchHit(str(record_id), text, source, meta or {}, round(float(score), 6)))
    return hits


def _search_portable(dataset_id, terms, limit) -> list[SearchHit]:
    stems = sorted({_stem(t) for t in terms})
    matches = Q()
    for stem in stems:
        matches |= Q(text__icontains=stem)
    records = DatasetRecord.objects.filter(dataset_id=dataset_id)
    total = records.count()
    # Bounded like the PostgreSQL search, so a very common word cannot make a search slow.
    candidates = list(records.filter(matches).values_list("id", "text", "source", "meta")[:CANDIDATE_LIMIT])
    if not candidates:
        return []
    tokenised = [[_stem(w) for w in _WORD.findall(text.casefold())] for _, text, _, _ in candidates]
    average_length = sum(len(t) for t in tokenised) / len(tokenised) or 1.0
    document_frequency = Counter(stem for tokens in tokenised for stem in set(tokens) if stem in stems)
    k1, b = 1.2, 0.75
    scored = []
    for (record_id, text, source, meta), tokens in zip(candidates, tokenised, strict=True):
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
            scored.append((score / (score + 1), str(record_id), text, source, meta))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [
        SearchHit(rid, text, source, meta or {}, round(score, 6)) for score, rid, text, source, meta in scored[:limit]
    ]
