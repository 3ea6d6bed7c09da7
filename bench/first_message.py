"""First message after `loadbot` (not a test): its latency and the memory the bot costs a fresh process.

    .venv/bin/python bench/first_message.py [--intents 150] [--utterances 100]

1. Writes a bot definition of 150 intents x 100 utterances and loads it with `manage.py loadbot` in
   its own process (which returns once the bot's intent model is built and stored).
2. A fresh process, started as a web worker is (Django set up, the engine and the turn services
   imported), measures its resident memory, answers one message (reading the model from the
   database), then measures again. Targets: first message under 1 s; under 100 MB above the idle process.

Everything is created under a throw-away owner in the configured database and deleted at the end.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botportal.settings")

CHILD = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botportal.settings")

def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024

import django
django.setup()
import bots.engine, sessions_app.services.conversations  # noqa: F401  what a web worker imports at start
from bots.engine import Turn, respond
from bots.models import Bot
bot = Bot.objects.get(pk=sys.argv[2])
idle = rss_mb()
started = time.perf_counter()
reply = respond(Turn(bot=bot, variables={}, state={}, text=sys.argv[3]))
first = time.perf_counter() - started
started = time.perf_counter()
respond(Turn(bot=bot, variables={}, state={}, text=sys.argv[3] + " please"))
second = time.perf_counter() - started
print(f"{idle:.1f} {rss_mb():.1f} {first:.3f} {second:.4f} {reply.intents[0].label if reply.intents else '-'}")
"""


def document(intents: int, utterances: int, rng: random.Random) -> tuple[dict, str, str]:
    from engine import COMMON, word

    vocabulary = [word(rng) for _ in range(4000)]
    items = []
    for i in range(intents):
        keywords = rng.sample(vocabulary, 8)
        texts = []
        for _ in range(utterances):
            words = rng.sample(keywords, 3) + rng.sample(COMMON, rng.randint(2, 5))
            rng.shuffle(words)
            texts.append(" ".join(words))
        items.append(
            {"label": f"intent_{i}", "utterances": texts, "responses": [{"type": "text", "text": f"Answer {i}"}]}
        )
    probe_keywords = items[0]["utterances"][0].split()
    probe = " ".join(["how", "do", "i", *probe_keywords[:2], "today"])
    return (
        {"format": "botportal.bot", "formatVersion": 1, "bot": {"name": "bench first message"}, "intents": items},
        probe,
        "intent_0",
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intents", type=int, default=150)
    parser.add_argument("--utterances", type=int, default=100)
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model

    rng = random.Random(20261201)
    owner = get_user_model().objects.create(username=f"bench-first-{rng.randrange(10**9)}")
    definition, probe, _ = document(args.intents, args.utterances, rng)
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
            json.dump(definition, handle)
        started = time.perf_counter()
        loaded = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "loadbot", handle.name, "--owner", owner.username],
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.perf_counter() - started
        os.unlink(handle.name)
        bot_id = loaded.stdout.strip().splitlines()[-1]
        print(f"loadbot of {args.intents} intents x {args.utterances} utterances: {seconds:.1f} s (model built)")
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(ROOT), bot_id, probe], capture_output=True, text=True, check=True
        )
        idle, after, first, second, label = child.stdout.split()
        growth = float(after) - float(idle)
        print(
            f"fresh process: idle {float(idle):.0f} MB, after the first message {float(after):.0f} MB"
            f" (+{growth:.0f} MB)"
        )
        print(f"first message {float(first) * 1000:.0f} ms (reads the model), second {float(second) * 1000:.1f} ms")
        print(
            f"  top intent {label}; targets: first message < 1 s: {'met' if float(first) < 1 else 'NOT met'}; "
            f"memory < 100 MB above idle: {'met' if growth < 100 else 'NOT met'}"
        )
    finally:
        owner.delete()


if __name__ == "__main__":
    main()
