"""Intent recognition on public data (not a test): Banking77, loaded as a bot, every test utterance a turn.

    .venv/bin/python bench/intents.py                # both protocols, the whole data set
    .venv/bin/python bench/intents.py --per-intent 30 --test-limit 600   # a quick subset while iterating

Each protocol writes the training utterances as a bot definition document and loads it with the
`loadbot` command (the import service and the model build, timed together), then sends every test
utterance through `bots.engine.respond` as a chat turn does, at the bot's own default threshold.
Each intent answers with its own label and the fallback with a marker, so what counts is the answer
the user would see.

1. 77-way: train on train.csv, score test.csv. Top-1 is the classifier's first intent whatever its
   confidence; in-scope accuracy is the right intent answered at the threshold.
2. 67 + 10 held out: the 10 intents `random.Random(0).sample(sorted(categories), 10)` are left out of
   training; their test utterances are out of scope and must get the fallback (out-of-scope recall).

Baseline (bench/data/banking77/README.md): 77-way top-1 91.5; 67 + 10: top-1 91.6, at its threshold
in-scope 71.7 and out-of-scope recall 88.2. Thresholds and calibration never see test.csv.

Data: Banking77 (PolyAI, CC BY 4.0), bench/data/banking77/. Everything is created under a throw-away
owner in the configured database and deleted at the end.
"""

import argparse
import csv
import io
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "banking77"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botportal.settings")

FALLBACK = "<fallback>"
BASELINE = {"77": {"top1": 91.5}, "67+10": {"top1": 91.6, "in_scope": 71.7, "oos_recall": 88.2}}


def read(name: str) -> list[tuple[str, str]]:
    with open(DATA / name, encoding="utf-8", newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def categories() -> list[str]:
    return json.loads((DATA / "categories.json").read_text())


def held_out_intents() -> set[str]:
    return set(random.Random(0).sample(sorted(categories()), 10))


def bot_document(rows: list[tuple[str, str]], name: str) -> dict:
    """A bot definition document (the export format) whose intents answer with their own label."""
    by_intent = defaultdict(list)
    for text, label in rows:
        by_intent[label].append(text)
    return {
        "format": "botportal.bot",
        "formatVersion": 1,
        "bot": {"name": name, "fallbackMessage": FALLBACK},
        "intents": [
            {"label": label, "utterances": texts, "responses": [{"type": "text", "text": label}]}
            for label, texts in sorted(by_intent.items())
        ],
    }


def subset(rows, per_intent: int | None, rng: random.Random):
    if not per_intent:
        return rows
    by_intent = defaultdict(list)
    for row in rows:
        by_intent[row[1]].append(row)
    return [
        row
        for label in sorted(by_intent)
        for row in rng.sample(by_intent[label], min(per_intent, len(by_intent[label])))
    ]


def load_bot(owner, rows, name):
    from django.core.management import call_command

    from bots.models import Bot

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
        json.dump(bot_document(rows, name), handle)
    try:
        started = time.perf_counter()
        out = io.StringIO()
        call_command("loadbot", handle.name, owner=owner.username, stdout=out)
        seconds = time.perf_counter() - started
        bot = Bot.objects.get(pk=out.getvalue().strip())
    finally:
        os.unlink(handle.name)
    return bot, seconds


def run_protocol(owner, name, training, test, out_of_scope: set[str]):
    from bots.engine import Turn, respond

    bot, build = load_bot(owner, training, f"banking77 {name}")
    top1 = answered_right = inside = refused = outside = 0
    first = None
    started = time.perf_counter()
    for text, label in test:
        turn_started = time.perf_counter()
        reply = respond(Turn(bot=bot, variables={}, state={}, text=text))
        if first is None:
            first = time.perf_counter() - turn_started
        answer = reply.messages[0]["text"] if reply.messages else ""
        if label in out_of_scope:
            outside += 1
            refused += answer == FALLBACK
        else:
            inside += 1
            top1 += bool(reply.intents) and reply.intents[0].label == label
            answered_right += answer == label
    elapsed = time.perf_counter() - started
    result = {
        "top1": 100 * top1 / inside,
        "in_scope": 100 * answered_right / inside,
        "oos_recall": 100 * refused / outside if outside else None,
    }
    print(f"{name}: {len({label for _, label in training})} intents, {len(training)} training utterances")
    print(f"  loadbot (import + model build): {build:.1f} s; first turn {first * 1000:.0f} ms")
    print(f"  {len(test)} turns in {elapsed:.1f} s ({1000 * elapsed / len(test):.2f} ms each)")
    print(f"  at the bot's default threshold {bot.confidence_threshold}:")
    line = f"  top-1 {result['top1']:.1f}   in-scope accuracy {result['in_scope']:.1f}"
    if result["oos_recall"] is not None:
        line += f"   out-of-scope recall {result['oos_recall']:.1f}"
    print(line)
    baseline = BASELINE[name]
    verdicts = [
        f"{key} {result[key]:.1f} vs {value}: {'beats' if result[key] > value else 'does NOT beat'}"
        for key, value in baseline.items()
    ]
    print("  baseline: " + "; ".join(verdicts))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", choices=["77", "67+10", "both"], default="both")
    parser.add_argument("--per-intent", type=int, help="train on at most this many utterances per intent")
    parser.add_argument("--test-limit", type=int, help="score a random sample of this many test utterances")
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model

    rng = random.Random(77)
    train, test = read("train.csv"), read("test.csv")
    train = subset(train, args.per_intent, rng)
    if args.test_limit:
        test = rng.sample(test, min(args.test_limit, len(test)))
    owner = get_user_model().objects.create(username=f"bench-intents-{rng.randrange(10**9)}")
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    try:
        if args.protocol in ("77", "both"):
            run_protocol(owner, "77", train, test, set())
        if args.protocol in ("67+10", "both"):
            held = held_out_intents()
            run_protocol(owner, "67+10", [row for row in train if row[1] not in held], test, held)
    finally:
        owner.delete()


if __name__ == "__main__":
    main()
