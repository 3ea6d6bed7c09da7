"""Engine benchmark (not a test): per-message latency and dataset search latency, with figures printed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/botportal .venv/bin/python bench/engine.py

1. A bot of 500 intents x 20 utterances: model build and load time, then p50/p95 of `respond()` over unseen
   messages (classification, entities, reply). Target: p95 < 10 ms.
2. A dataset of 100,000 records: p50/p95 of `dataset_search()`. Target on PostgreSQL: p95 < 50 ms.

Everything is created under a throw-away owner in the configured database and deleted at the end.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botportal.settings")
os.environ.setdefault("DEBUG", "true")  # development settings: a secret generated under var/, no HTTPS redirect

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from bots.engine import Turn, respond  # noqa: E402
from bots.engine.classifier import model_for  # noqa: E402
from bots.models import Bot, Dataset, DatasetRecord, Intent, Utterance  # noqa: E402
from bots.search import dataset_search  # noqa: E402
from bots.services.intent_models import intent_model_build  # noqa: E402

SYLLABLES = [
    "ba",
    "be",
    "bi",
    "bo",
    "bu",
    "da",
    "de",
    "di",
    "do",
    "du",
    "ka",
    "ke",
    "ki",
    "ko",
    "ku",
    "la",
    "le",
    "li",
    "lo",
    "lu",
    "ma",
    "me",
    "mi",
    "mo",
    "mu",
    "na",
    "ne",
    "ni",
    "no",
    "nu",
    "ra",
    "re",
    "ri",
    "ro",
    "ru",
    "sa",
    "se",
    "si",
    "so",
    "su",
    "ta",
    "te",
    "ti",
    "to",
    "tu",
]
COMMON = [
    "i",
    "want",
    "to",
    "my",
    "the",
    "a",
    "please",
    "can",
    "you",
    "how",
    "do",
    "is",
    "it",
    "for",
    "need",
    "help",
    "with",
    "order",
    "account",
    "about",
    "what",
    "where",
    "when",
    "me",
]


def word(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def percentiles(samples):
    ordered = sorted(samples)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return p(0.50), p(0.95), statistics.mean(ordered) * 1000


def bench_engine(owner, rng, intents, utterances, messages):
    bot = Bot.objects.create(owner=owner, name="bench", confidence_threshold=0.5)
    vocabulary = [word(rng) for _ in range(6000)]
    topics = []
    intent_rows = Intent.objects.bulk_create(
        [
            Intent(bot=bot, label=f"intent_{i}", responses=[{"type": "text", "text": f"Answer {i}"}])
            for i in range(intents)
        ]
    )
    rows = []
    for intent in intent_rows:
        keywords = rng.sample(vocabulary, 8)
        topics.append((intent.label, keywords))
        for _ in range(utterances):
            words = rng.sample(keywords, 3) + rng.sample(COMMON, rng.randint(2, 5))
            rng.shuffle(words)
            rows.append(Utterance(intent=intent, text=" ".join(words)))
    Utterance.objects.bulk_create(rows, batch_size=5000)
    bot.refresh_from_db()
    started = time.perf_counter()
    intent_model_build(bot_id=bot.pk)  # what a save does (here, or on the worker)
    build = time.perf_counter() - started
    started = time.perf_counter()
    model_for(bot)
    load = time.perf_counter() - started
    timings, cpu_timings, correct = [], [], 0
    for _ in range(messages):
        label, keywords = rng.choice(topics)
        words = rng.sample(keywords, 2) + rng.sample(COMMON, 4) + [word(rng)]
        rng.shuffle(words)
        turn = Turn(bot=bot, variables={}, state={}, text=" ".join(words))
        started, cpu = time.perf_counter(), time.thread_time()
        reply = respond(turn)
        timings.append(time.perf_counter() - started)
        cpu_timings.append(time.thread_time() - cpu)
        correct += bool(reply.intents) and reply.intents[0].label == label
    p50, p95, mean = percentiles(timings)
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"engine: {intents} intents x {utterances} utterances ({intents * utterances} utterances)")
    print(f"  model build (once per version, never in a turn): {build:.2f} s; read by a process: {load:.2f} s")
    print(f"  respond() over {messages} unseen messages: p50 {p50:.2f} ms, p95 {p95:.2f} ms, mean {mean:.2f} ms")
    c50, c95, _ = percentiles(cpu_timings)
    print(f"  (CPU time of the same calls, without waits for a core: p50 {c50:.2f} ms, p95 {c95:.2f} ms)")
    print(f"  top intent right: {correct / messages:.3f}   target p95 < 10 ms: {'met' if p95 < 10 else 'NOT met'}")


def bench_search(owner, rng, records, queries):
    dataset = Dataset.objects.create(owner=owner, name="bench")
    vocabulary = [word(rng) for _ in range(20000)]
    english = [
        "return",
        "refund",
        "shipping",
        "order",
        "delivery",
        "warranty",
        "gift",
        "card",
        "store",
        "account",
        "password",
        "invoice",
        "size",
    ]
    started = time.perf_counter()
    batch = []
    for i in range(records):
        words = rng.choices(vocabulary, k=rng.randint(12, 40)) + rng.sample(english, 2)
        rng.shuffle(words)
        batch.append(DatasetRecord(dataset=dataset, text=" ".join(words), source=f"https://example.com/{i}"))
        if len(batch) == 5000:
            DatasetRecord.objects.bulk_create(batch)
            batch = []
    DatasetRecord.objects.bulk_create(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE bots_datasetrecord")
    print(f"dataset: {records} records on {connection.vendor} (loaded in {time.perf_counter() - started:.1f} s)")
    timings, found = [], 0
    for i in range(queries):
        if i % 2:
            query = " ".join(rng.sample(vocabulary, 3))  # rare words
        else:
            query = f"how do I get a {rng.choice(english)} for my {rng.choice(vocabulary)}"  # a common word too
        started = time.perf_counter()
        hits = dataset_search(dataset=dataset, search=query, limit=5)
        timings.append(time.perf_counter() - started)
        found += bool(hits)
    p50, p95, mean = percentiles(timings)
    print(f"  dataset_search() over {queries} queries: p50 {p50:.2f} ms, p95 {p95:.2f} ms, mean {mean:.2f} ms")
    verdict = "met" if p95 < 50 else "NOT met"
    print(f"  queries with a hit: {found}/{queries}   target on PostgreSQL p95 < 50 ms: {verdict}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intents", type=int, default=500)
    parser.add_argument("--utterances", type=int, default=20)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    rng = random.Random(20261121)
    owner = get_user_model().objects.create(username=f"bench-{rng.randrange(10**9)}")
    try:
        bench_engine(owner, rng, args.intents, args.utterances, args.messages)
        if not args.skip_search:
            bench_search(owner, rng, args.records, args.queries)
    finally:
        Bot.objects.filter(owner=owner).delete()
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM bots_datasetrecord WHERE dataset_id IN (SELECT id FROM bots_dataset WHERE owner_id = %s)",
                [owner.pk],
            )
        owner.delete()


if __name__ == "__main__":
    main()
