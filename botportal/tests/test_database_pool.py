"""On PostgreSQL, connections come from a bounded pool per process, whatever the number of threads asking.

Under ASGI each request runs its synchronous part on a thread of its own; without the pool each such
thread would hold a connection of its own.
"""

import threading
import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the connection pool is PostgreSQL's")


def test_the_pool_is_configured_with_prepared_statements():
    options = settings.DATABASES["default"]["OPTIONS"]
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0
    assert options["pool"]["max_size"] >= 4
    assert options["prepare_threshold"] == 1 and options["server_side_binding"] is True
    assert connection.pool is not None
    assert connection.pool.max_size == options["pool"]["max_size"]


def _backends(sampler, database: str) -> int:
    return sampler.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database]
    ).fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_connections_stay_bounded_when_three_times_the_pool_size_of_threads_query_at_once():
    pool_size = settings.DATABASES["default"]["OPTIONS"].get("pool", {}).get("max_size", 20)
    threads_count = 3 * pool_size
    database = connection.settings_dict["NAME"]
    barrier = threading.Barrier(threads_count)
    errors: list = []
    done = threading.Event()
    peak = 0

    def work():
        try:
            barrier.wait(timeout=10)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(0.3)")
        except Exception as exc:  # noqa: BLE001 (asserted below)
            errors.append(exc)
        finally:
            connection.close()  # hands the connection back to the pool, as the end of a request does

    def sample():
        nonlocal peak
        with psycopg.connect(
            dbname="postgres",
            user=connection.settings_dict["USER"] or None,
            host=connection.settings_dict["HOST"] or None,
            port=connection.settings_dict["PORT"] or None,
            password=connection.settings_dict["PASSWORD"] or None,
            autocommit=True,
        ) as sampler:
            while not done.is_set():
                peak = max(peak, _backends(sampler, database))
                time.sleep(0.02)

    sampler_thread = threading.Thread(target=sample)
    sampler_thread.start()
    workers = [threading.Thread(target=work) for _ in range(threads_count)]
    started = time.monotonic()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(60)
    elapsed = time.monotonic() - started
    done.set()
    sampler_thread.join(10)
    if connection.pool is not None:  # back to its resting size: the pool would keep them open a while
        connection.close()
        connection.close_pool()

    assert not errors, errors
    assert not any(thread.is_alive() for thread in workers)
    # Every thread got its turn (waiting for a free connection, not failing), three rounds of 0.3 s.
    assert elapsed >= 0.85
    assert pool_size // 2 < peak <= pool_size


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    connection.close()  # back to the pool
    return pid


@pytest.mark.django_db(transaction=True)
def test_a_pooled_connection_postgresql_closed_is_not_handed_out_again():
    assert settings.DATABASES["default"]["ENGINE"] == "botportal.pgbackend"
    pids = {_backend_pid() for _ in range(3)}
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k not in ("cursor_factory", "context")}) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [list(pids)])
    time.sleep(0.2)  # the server's FATAL and its end of file reach the pooled sockets
    # Handed out moments ago, so no round trip is spent on them; their sockets tell, and none is used.
    assert _backend_pid() not in pids


@pytest.mark.django_db(transaction=True)
def test_a_connection_just_handed_back_is_taken_without_a_round_trip(monkeypatch):
    from psycopg_pool import ConnectionPool

    _backend_pid()
    round_trips = []
    real = ConnectionPool.check_connection
    monkeypatch.setattr(
        ConnectionPool, "check_connection", staticmethod(lambda conn: round_trips.append(conn) or real(conn))
    )
    for _ in range(5):
        _backend_pid()
    assert round_trips == []
