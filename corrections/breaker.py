"""A circuit breaker over the corrections database, so that a stalled database costs a worker one wait, not one
per correction.

A worker waiting on the database (the app runs one request at a time a worker) also holds the /predict
requests queued behind it. Each wait is bounded (SQLite's busy timeout, 1 s; corrections.deadline, 2 s), but
while the database stays locked or frozen every correction would wait its bound again, and corrections
arriving faster than that keep the workers busy. The breaker (the standard pattern, as in the ``pybreaker``
library) remembers the failure instead:

- **closed** (normal): every call reaches the database. A call that fails by a timeout, a lock or a lost
  connection (``TRIPS``) opens the breaker; any other outcome, errors included (a full store, a bad row),
  means the database answered, and leaves it closed.
- **open**, for ``seconds`` after the failure: calls are refused at once with ``Open`` (a 503 with
  Retry-After), without touching the database.
- **half-open**, once the cool-down is over: the next call is let through as the one trial (others meanwhile
  are refused); its success closes the breaker, its failure opens it for another cool-down.

The state lives in this object, so in each gunicorn worker process on its own (each finds a stalled database
by its own first failure); a lock makes it safe for threads. ``seconds`` <= 0 turns it off: every call tries.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import exc

log = logging.getLogger(__name__)

# The failures that say the database is unavailable, not that it refused a request: a lock or busy timeout, a
# statement timeout, a connection refused, lost or cut at the deadline (OperationalError), a pooled connection
# that failed its ping (DisconnectionError), no connection free in the pool (TimeoutError).
TRIPS = (exc.OperationalError, exc.DisconnectionError, exc.TimeoutError)
TRIAL_RETRY_SECONDS = 1  # Retry-After while another request makes the half-open trial


class Open(Exception):
    """The breaker refused a call: the database failed within the cool-down; ``retry_after`` whole seconds >= 1."""

    def __init__(self, retry_after: int):
        super().__init__(f"the database failed recently; retry in {retry_after} s")
        self.retry_after = retry_after


class Breaker:
    """Refuse database calls for ``seconds`` after one fails by ``TRIPS``; then let one trial through.

    ``clock`` returns seconds (time.monotonic by default; tests pass their own).
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.clock = seconds, clock
        self._lock = threading.Lock()
        self._opened_at: float | None = None  # None: closed
        self._trial = False  # the half-open trial is in flight

    @property
    def state(self) -> str:
        """Return "closed", "open" or "half-open" (the cool-down is over: the next call is the trial)."""
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self._trial or self._remaining() <= 0 else "open"

    def _remaining(self) -> float:
        return self._opened_at + self.seconds - self.clock()

    def _refusal(self) -> Open | None:
        """Return the Open a call would be refused with now, or None; call with the lock held."""
        if self._opened_at is None:
            return None
        if self._trial:
            return Open(TRIAL_RETRY_SECONDS)
        remaining = self._remaining()
        return Open(max(1, math.ceil(remaining))) if remaining > 0 else None

    def check(self) -> None:
        """Raise Open if a call would be refused now; claims nothing (a request checks before its costly work)."""
        with self._lock:
            refusal = self._refusal()
        if refusal is not None:
            raise refusal

    @contextmanager
    def call(self) -> Iterator[None]:
        """Run the block as one database call: refused with Open while open, the trial when half-open.

        An exception of ``TRIPS`` from the block opens the breaker (and propagates). The trial's end, or any other
        exception from it (the database answered: a full store, a missing row), closes it. An interruption
        (KeyboardInterrupt, SystemExit) decides nothing: the next call is the trial.
        """
        with self._lock:
            refusal = self._refusal()
            if refusal is not None:
                raise refusal
            trial = self._opened_at is not None  # the cool-down is over: this call is the trial
            if trial:
                self._trial = True
        try:
            yield
        except TRIPS:
            self._record(trial, failed=True)
            raise
        except Exception:
            self._record(trial, failed=False)
            raise
        except BaseException:
            with self._lock:
                self._trial = self._trial and not trial
            raise
        self._record(trial, failed=False)

    def retry_after(self) -> int | None:
        """Return whole seconds to the end of the cool-down (>= 1), or None when calls are let through."""
        with self._lock:
            refusal = self._refusal()
        return refusal.retry_after if refusal is not None else None

    def _record(self, trial: bool, failed: bool) -> None:
        """Open on a failure (any call's); close on the trial's success only: a call begun before the breaker
        opened, and answered after, says nothing about the database now."""
        with self._lock:
            if trial:
                self._trial = False
            if failed and self.seconds > 0:
                if self._opened_at is None or trial:
                    log.warning("corrections database failed: corrections are refused for %g s", self.seconds)
                self._opened_at = self.clock()
            elif trial:
                log.warning("corrections database answered again: corrections are accepted")
                self._opened_at = None
