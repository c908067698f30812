"""Least connections among gunicorn's workers on one listening socket: a worker listens for new connections only
while it holds no more open connections than any other live worker.

A client that keeps its connections alive (a platform's router, a proxy, a load test) sends all its requests to
the workers that accepted its connections, for as long as they live. On one shared socket the first worker to
wake accepted a whole burst; with a socket per worker (``SO_REUSEPORT``) the kernel spreads connections by a
hash of their addresses, and 8 connections split 4:4 between 2 workers in only 70 of 256 draws (6:2 or worse in 74):
the busier worker then sets the pace and the other idles. Measured at concurrency 8 (``hey``): 690-750 requests/s
split 4:4, 545-565 split 5:3, 450 split 6:2. Counting connections and letting the least loaded worker accept is
the ``leastconn`` balancing of HAProxy and the ``least_conn`` of nginx, here between the processes of one server.

``Board`` is a table in memory shared by the master and the workers it forks (an anonymous ``mmap``, made when the
master imports this module): one row per worker, (pid, open connections, heartbeat as ``time.monotonic()``). A
worker writes its own row each turn of its event loop (at least every ``BEAT_SECONDS``); a row whose heartbeat is
older than ``STALE_SECONDS`` (a worker killed without its goodbye) is not counted, so a dead worker stops new
connections for at most that long. Rows are taken by the worker's age (the arbiter's spawn count) modulo ``SLOTS``:
two live workers sharing a row see no other and both accept, as on a plain shared socket, never neither.
"""

from __future__ import annotations

import mmap
import os
import time

import numpy as np

SLOTS = 64  # rows of the table; more than any dyno's workers
BEAT_SECONDS = 0.25  # a worker's event loop turns at least this often, writing its heartbeat
STALE_SECONDS = 1.0  # a row not written for this long is a worker gone
RECHECK_SECONDS = 0.02  # a worker not accepting looks again this often (another may have taken connections)
_PID, _CONNECTIONS, _BEAT = range(3)


class Board:
    """Each worker's open connections, in memory that forked processes share.

    ``slot``: the row this process writes (``take``); ``None`` in the master."""

    def __init__(self, slots: int = SLOTS):
        self._memory = mmap.mmap(-1, slots * 3 * 8)  # anonymous and shared: forked workers see one table
        self.rows = np.frombuffer(self._memory, np.float64).reshape(slots, 3)
        self.slot: int | None = None

    def take(self, age: int) -> None:
        """Take the row of the worker of this ``age`` (gunicorn's ``Worker.age``), counting 0 connections."""
        self.slot = age % len(self.rows)
        self.rows[self.slot] = (os.getpid(), 0, time.monotonic())

    def beat(self, connections: int) -> None:
        """Write this worker's open connections and heartbeat."""
        self.rows[self.slot] = (os.getpid(), connections, time.monotonic())

    def leave(self) -> None:
        """Clear this worker's row (it accepts no more connections: a shutdown), so it holds no other back."""
        if self.slot is not None:
            self.rows[self.slot] = 0

    def least_loaded(self, connections: int) -> bool:
        """Whether a worker holding ``connections`` holds no more than any other live worker (then it accepts)."""
        rows = self.rows
        live = (rows[:, _PID] > 0) & (rows[:, _BEAT] >= time.monotonic() - STALE_SECONDS)
        live[self.slot] = False
        return not live.any() or connections <= rows[live, _CONNECTIONS].min()


BOARD = Board()  # made at import: gunicorn's master imports the worker class before it forks any worker
