"""Benchmark: pruning expired conversations on PostgreSQL, three ways, on the same data rebuilt each time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/botportal_bench .venv/bin/python bench/prune.py --rows 1000000

For each method it builds ROWS expired conversations, each with one session and two messages (bulk
INSERT ... SELECT generate_series), then deletes them all in a child process and prints conversations
per second, the child's peak memory (ru_maxrss) and the longest single transaction:

- service:  sessions_app.services.lifecycle.conversations_prune (primary-key batches, database cascade)
- queryset: Django's plain `Conversation.objects.filter(...).delete()` in one transaction. Its collector
            sends one `IN` list of every conversation id, which PostgreSQL refuses past 65,535 parameters
            when they are bound on the server (DATABASE_PREPARED_STATEMENTS, the default); this child
            runs with client-side binding so that the baseline runs at all (botportal itself never
            deletes this way: see sessions_app.services.deletions)
- raw:      one SQL `DELETE` of the same rows, children removed by the database's ON DELETE CASCADE (the floor)

It needs a database of its own: it refuses to run when the database holds conversations it did not make.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botportal.settings")
os.environ.setdefault("DEBUG", "true")  # development settings: a secret generated under var/, no HTTPS redirect

BENCH_OWNER = "bench-prune"
METHODS = ("service", "queryset", "raw")
AGE_DAYS = 30
RETENTION_SECONDS = 86400


def setup_django():
    import django

    django.setup()
    from django.conf import settings

    # Debug cursors keep every statement (and each batch's ids) in memory; production runs without them.
    settings.DEBUG = False
    settings.BOTPORTAL["CONVERSATION_RETENTION"] = RETENTION_SECONDS


def _defaults_sql(model, explicit: dict[str, str], connection):
    """Column list, SELECT expressions and parameters for a bulk INSERT ... SELECT of `model`.

    Columns not given explicitly take the model field's default, so new fields do not break the bench.
    """
    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        columns.append(connection.ops.quote_name(field.column))
        if field.column in explicit:
            expressions.append(explicit[field.column])
        elif field.null and not field.has_default():
            expressions.append("NULL")
        elif (value := field.get_default()) is not None:
            expressions.append("%s")
            params.append(field.get_db_prep_save(value, connection))
        else:
            raise SystemExit(f"bench: no value for {model.__name__}.{field.name}")
    return ", ".join(columns), ", ".join(expressions), params


def build(rows: int) -> float:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from bots.models import Bot
    from sessions_app.models import BotSession, Conversation, Message

    started = time.monotonic()
    owner, _ = get_user_model().objects.get_or_create(username=BENCH_OWNER, defaults={"is_staff": True})
    foreign = Conversation.objects.exclude(owner=owner).count()
    if foreign:
        raise SystemExit(f"bench: the database holds {foreign} conversations not made by the bench; use an empty one")
    bot, _ = Bot.objects.get_or_create(owner=owner, name="bench", defaults={"visibility": "private"})
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE sessions_app_message, sessions_app_botsession, sessions_app_conversation CASCADE")
        ts = f"now() - interval '{AGE_DAYS} days'"
        columns, expressions, params = _defaults_sql(
            Conversation,
            {
                "id": "gen_random_uuid()",
                "owner_id": "%s",
                "bot_id": "%s",
                "created_at": ts,
                "updated_at": ts,
                "last_activity_at": f"{ts} + (g * interval '1 millisecond')",
            },
            connection,
        )
        cursor.execute(
            f"INSERT INTO sessions_app_conversation ({columns}) SELECT {expressions} FROM generate_series(1, %s) g",
            [owner.pk, bot.pk, *params, rows],
        )
        columns, expressions, params = _defaults_sql(
            BotSession,
            {
                "id": "nextval(pg_get_serial_sequence('sessions_app_botsession', 'id'))",
                "conversation_id": "c.id",
                "token_digest": "md5(c.id::text) || md5(c.id::text || 'x')",
                "duration_seconds": "3600",
                "created_at": "c.created_at",
                "issued_first_at": "c.created_at",
                "expires_at": "c.created_at + interval '1 hour'",
                "expired_at": "c.created_at + interval '1 hour'",
            },
            connection,
        )
        cursor.execute(
            f"INSERT INTO sessions_app_botsession ({columns}) SELECT {expressions} FROM sessions_app_conversation c",
            params,
        )
        columns, expressions, params = _defaults_sql(
            Message,
            {
                "id": "nextval(pg_get_serial_sequence('sessions_app_message', 'id'))",
                "conversation_id": "c.id",
                "type": "CASE WHEN n = 1 THEN 'user' ELSE 'bot' END",
                "text": "'message ' || n",
                "created_at": "c.created_at",
                "updated_at": "c.created_at",
            },
            connection,
        )
        cursor.execute(
            f"INSERT INTO sessions_app_message ({columns}) SELECT {expressions} "
            "FROM sessions_app_conversation c CROSS JOIN generate_series(1, 2) n",
            params,
        )
        for table in ("sessions_app_conversation", "sessions_app_botsession", "sessions_app_message"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("CHECKPOINT")
    return time.monotonic() - started


def counts() -> tuple[int, int, int]:
    from sessions_app.models import BotSession, Conversation, Message

    return Conversation.objects.count(), BotSession.objects.count(), Message.objects.count()


def child(method: str, batch_size: int) -> None:
    """Delete every expired conversation one way; print what it took as JSON on the last line."""
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from sessions_app.models import Conversation
    from sessions_app.services.lifecycle import conversations_prune

    cutoff = timezone.now() - timedelta(seconds=RETENTION_SECONDS)
    started = time.monotonic()
    if method == "service":
        run = conversations_prune(batch_size=batch_size)
        deleted = run.counts["conversations_deleted"]
        longest = run.longest_batch_seconds
        batches = run.batches
    elif method == "queryset":
        with transaction.atomic():
            deleted = (
                Conversation.objects.filter(last_activity_at__lt=cutoff).delete()[1].get("sessions_app.Conversation", 0)
            )
        longest = time.monotonic() - started
        batches = 1
    else:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM sessions_app_conversation WHERE last_activity_at < %s", [cutoff])
            deleted = cursor.rowcount
        longest = time.monotonic() - started
        batches = 1
    elapsed = time.monotonic() - started
    print(json.dumps({"deleted": deleted, "seconds": elapsed, "longest_transaction": longest, "batches": batches}))


def run_method(method: str, rows: int, batch_size: int, timeout: float) -> dict:
    env = dict(os.environ)
    if method == "queryset":
        env["DATABASE_PREPARED_STATEMENTS"] = "false"  # see the module docstring
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, __file__, "--child", method, "--batch-size", str(batch_size)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + timeout
    while True:
        pid, status, rusage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            pid, status, rusage = os.wait4(process.pid, 0)
            raise SystemExit(f"bench: {method} took longer than {timeout:.0f}s")
        time.sleep(0.2)
    output = process.stdout.read()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"bench: {method} failed ({process.returncode}):\n{output}")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_mb"] = rusage.ru_maxrss / 1024  # kilobytes on Linux
    result["rate"] = result["deleted"] / result["seconds"] if result["seconds"] else float("inf")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="conversations to build (default 1,000,000)")
    parser.add_argument("--batch-size", type=int, default=10_000, help="the service's batch size (default 10,000)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per method")
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    setup_django()
    if args.child:
        child(args.child, args.batch_size)
        return

    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("bench: needs PostgreSQL (set DATABASE_URL)")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"rows={args.rows:,} batch_size={args.batch_size:,} ({connection.settings_dict['NAME']})")
    results = {}
    for method in args.methods.split(","):
        seconds = build(args.rows)
        print(f"  built {args.rows:,} conversations, sessions and {2 * args.rows:,} messages in {seconds:.0f}s")
        connection.close()
        results[method] = run_method(method, args.rows, args.batch_size, args.timeout)
        left = counts()
        r = results[method]
        print(
            f"{method:>9}: {r['rate']:>9,.0f} conversations/s  {r['seconds']:7.1f}s  peak {r['peak_mb']:6.0f} MB  "
            f"longest transaction {r['longest_transaction']:.2f}s ({r['batches']} transactions)  left {left}"
        )
        if r["deleted"] != args.rows or left != (0, 0, 0):
            raise SystemExit(f"bench: {method} deleted {r['deleted']} and left {left}")

    if {"service", "queryset", "raw"} <= results.keys():
        service, queryset, raw = results["service"], results["queryset"], results["raw"]
        checks = [
            ("service / queryset >= 4", service["rate"] / queryset["rate"], 4),
            ("service / raw >= 0.75", service["rate"] / raw["rate"], 0.75),
        ]
        print()
        for label, value, floor in checks:
            print(f"{label}: {value:.2f} {'ok' if value >= floor else 'MISSED'}")
        print(f"service peak < 150 MB: {service['peak_mb']:.0f} MB {'ok' if service['peak_mb'] < 150 else 'MISSED'}")
        longest = service["longest_transaction"]
        print(f"service longest batch <= 1 s: {longest:.2f}s {'ok' if longest <= 1 else 'MISSED'}")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE sessions_app_message, sessions_app_botsession, sessions_app_conversation CASCADE")


if __name__ == "__main__":
    main()
