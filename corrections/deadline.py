"""A client-side deadline on PostgreSQL, for a server that stops answering without closing its sockets.

A frozen server (``SIGSTOP``, a stalled VM, a hung storage layer) still has a kernel that accepts connections
and acknowledges every byte, so neither TCP keepalives nor the server's own ``statement_timeout`` end a wait
on it, and psycopg waits for an answer forever. ``guard(engine)`` makes every connection checked out inside
a ``within(seconds)`` block have its socket shut down (``shutdown(SHUT_RDWR)``) when the block's time runs
out: psycopg's wait then ends at once with "server closed the connection unexpectedly", SQLAlchemy raises
``sqlalchemy.exc.OperationalError`` and invalidates the connection, and the route answers 503. Outside such
a block (the CLI, migrations) nothing is cut. ``guard`` also pings a pooled connection at checkout, under the
same deadline, in place of ``pool_pre_ping`` (which runs before any pool event could arm one).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event, exc

# A correction's whole use of the database (issue 24: every stall ends in a 503 within 2 s). Over the 1.5 s
# statement_timeout, so a live server that is slow answers with its own error first, and only a stalled one is
# cut. A new connection's wait is bounded apart, by connect_timeout (2 s, libpq's and psycopg's least); the
# deadline counts from the block's start, so one that connects late is cut at the same 2 s.
REQUEST_SECONDS = 2
# The download's: it reads the whole store a page at a time, well within gunicorn's 20 s worker timeout.
EXPORT_SECONDS = 15

_local = threading.local()  # the deadline of the block this thread is in (time.monotonic()), or None


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Cut any PostgreSQL connection this thread checks out in this block ``seconds`` after the block starts.

    ``seconds`` > 0, wall-clock seconds. Blocks nest: the inner one's deadline holds inside it. A connection is
    cut only while it is checked out; one returned to the pool before the deadline is left alone.
    """
    previous = getattr(_local, "until", None)
    _local.until = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.until = previous


class _Watch:
    """The timer over one checked-out DBAPI connection; ``cut`` and ``stop`` exclude each other."""

    def __init__(self, dbapi_connection, until: float):
        self.connection, self.lock, self.active, self.fired = dbapi_connection, threading.Lock(), True, False
        self.timer = threading.Timer(max(0.0, until - time.monotonic()), self.cut)
        self.timer.daemon = True
        self.timer.start()

    def cut(self) -> None:
        with self.lock:
            if not self.active:
                return
            self.fired = True
            try:
                descriptor = self.connection.pgconn.socket  # psycopg 3; raises once the connection is closed
                with socket.socket(fileno=os.dup(descriptor)) as sock:
                    sock.shutdown(socket.SHUT_RDWR)  # acts on the socket, not on the duplicated descriptor
            except Exception:  # closed meanwhile: nothing to cut
                pass

    def stop(self) -> None:
        with self.lock:
            self.active = False
        self.timer.cancel()


def guard(engine: Engine) -> None:
    """Arm ``within``'s deadline on ``engine``'s PostgreSQL connections and ping pooled ones at checkout.

    Use it instead of ``pool_pre_ping``. A ping that fails on a live server (a connection the server closed)
    makes the pool replace the connection (``DisconnectionError``); one cut by the deadline raises
    ``sqlalchemy.exc.OperationalError`` at once, as a statement cut by it does.
    """

    @event.listens_for(engine, "connect")
    def fresh(_dbapi_connection, record):
        record.info["fresh"] = True  # just connected: no ping needed

    @event.listens_for(engine, "checkout")
    def arm(dbapi_connection, record, _proxy):
        until = getattr(_local, "until", None)
        if until is None:
            if not record.info.pop("fresh", False):
                _ping(dbapi_connection, None)
            return
        watch = _Watch(dbapi_connection, until)
        record.info["watch"] = watch
        if not record.info.pop("fresh", False):
            _ping(dbapi_connection, watch)

    @event.listens_for(engine, "checkin")
    def disarm(_dbapi_connection, record):
        watch = record.info.pop("watch", None)
        if watch is not None:
            watch.stop()

    @event.listens_for(engine, "invalidate")
    def invalidated(_dbapi_connection, record, _exception):
        disarm(_dbapi_connection, record)


def _ping(dbapi_connection, watch: _Watch | None) -> None:
    """Run ``SELECT 1`` on a pooled connection. Raises DisconnectionError (the pool replaces it) when it fails
    on its own, OperationalError when ``watch`` cut it (the server is stalled: no retry)."""
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()  # the ping's implicit transaction
    except Exception as error:
        if watch is not None:
            watch.stop()
            if watch.fired:
                raise exc.OperationalError("SELECT 1", None, error) from error
        raise exc.DisconnectionError(f"the pooled connection failed its ping: {error}") from error
