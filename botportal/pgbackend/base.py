"""Django's PostgreSQL backend, with a health check of pooled connections that costs no round trip
for a connection handed out moments ago.

With CONN_HEALTH_CHECKS and the psycopg pool, Django has the pool run an empty query every time a
connection is taken, and botportal takes one per database phase: a third of the message list's time in
the database in a profile (the check, the token lookup, the page). A connection PostgreSQL has closed
(a restart, a terminated backend, its idle timeouts) has a readable socket (the server's FATAL message,
then end of file), which one poll without waiting sees. So a connection with anything to read, or not
handed out for QUIET_SECONDS (long enough for a peer to have gone without closing, as a rebooted
host), still gets the empty query, and a failed one is discarded and another taken, as before.
"""

import select
import time

from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

QUIET_SECONDS = 5.0


def _socket_has_news(conn) -> bool:
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def check_connection(conn) -> None:
    """The pool's check: raises for a connection that must not be handed out."""
    now = time.monotonic()
    handed_out_at = getattr(conn, "_botportal_handed_out_at", None)
    if handed_out_at is None or now - handed_out_at > QUIET_SECONDS or conn.broken or _socket_has_news(conn):
        ConnectionPool.check_connection(conn)
    conn._botportal_handed_out_at = now


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        # Django passes the pool psycopg's round-trip check when CONN_HEALTH_CHECKS is on.
        if pool is not None and pool._check is ConnectionPool.check_connection:
            pool._check = check_connection
        return pool
