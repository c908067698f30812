"""Does a stalled corrections database move /predict? Issue 24's bar: its p50 does not.

    .venv/bin/python -m bench.database                  # SQLite, then PostgreSQL: 300 /predict a condition
    .venv/bin/python -m bench.database --requests 20 --limit 20   # a smoke run

gunicorn runs as the Procfile starts it (2 workers) on each database in turn: SQLite in a temporary folder,
and a throwaway PostgreSQL from Debian's package (bench.postgres_server, as the tests start it; the schema
made by the Procfile's `release:` command). Each database is measured in four conditions: healthy or
stalled, and with or without a client posting a correction (a distinct drawing, as bench.corrections
makes them) every ``--interval`` seconds, each in its own thread as separate visitors would; the rate limit
and the daily budget are lifted so every one reaches the database. Stalled: SQLite's file held by another
process in an exclusive write transaction; PostgreSQL frozen with SIGSTOP (postmaster and backends). In
each condition the page's drawing is posted to /predict ``--requests`` times at concurrency 1, after
``--warmup`` seconds of corrections, so that stalled ones are in flight, for ``--limit`` seconds at most:
where corrections hold the workers longer than they arrive, the queue in front of /predict only grows, and
its requests time out (30 s, past gunicorn's 20 s worker timeout). It prints one table, then how many workers
one stalled correction holds and for how long.

Everything is undone on an error, Ctrl+C or SIGTERM: the lock holder ended, PostgreSQL thawed, stopped and
removed, gunicorn stopped, the temporary folder removed. Needs requirements-dev.txt (psutil) and, for the
PostgreSQL half, Debian's postgresql (skipped without it).
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
from collections import Counter, deque
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from bench import gunicorn_process, postgres_server
from bench.corrections import correction_body
from bench.run import canvas_png
from corrections import POSTGRES_CONNECT_SECONDS, SQLITE_BUSY_SECONDS, deadline

ROOT = Path(__file__).resolve().parent.parent
# Every correction reaches the database: one every 0.5 s is many visitors, not one over its limit.
ENV = {
    "CORRECTIONS_RATE_LIMIT": "100000 per minute",
    "CORRECTIONS_CLIENT_MB_PER_DAY": "0",
    "CORRECTIONS_MAX_ROWS": "1000000",
}
# Another process's writer: it takes the write lock, says so, and keeps it until its stdin closes.
HOLD_LOCK = (
    "import sqlite3, sys\n"
    "connection = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "connection.execute('BEGIN EXCLUSIVE')\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
    "connection.execute('ROLLBACK')\n"
)
CLIENT_TIMEOUT = 30  # seconds, past gunicorn's 20 s worker timeout, so a killed worker's answer is seen
THAW_AFTER = 900  # seconds: PostgreSQL resumes by itself if this process hangs frozen


def timed_post(url: str, body: bytes, kind: str) -> tuple[str, float]:
    """POST ``body``; return the status (or what went wrong: a timeout, a reset) and the seconds to the answer."""
    begin = time.perf_counter()
    try:
        status = str(gunicorn_process.post(url, body, kind, timeout=CLIENT_TIMEOUT)[0])
    except urllib.error.URLError as error:
        status = type(error.reason).__name__
    except Exception as error:  # a reset connection, an answer that is not JSON: counted and shown
        status = type(error).__name__
    return status, time.perf_counter() - begin


class Workers:
    """Sample, every ``interval`` seconds in a thread, how many of gunicorn's workers hold a client's
    connection (a sync worker serves one request at a time, so that is how many are busy)."""

    def __init__(self, server: gunicorn_process.Server, interval: float):
        self.master, self.interval = psutil.Process(server.process.pid), interval
        self.port = int(server.url.rsplit(":", 1)[1])
        self.samples: list[tuple[float, int, int]] = []  # (time.perf_counter(), busy workers, workers)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def busy(self) -> tuple[int, int]:
        count, workers = 0, self.master.children()
        for worker in workers:
            try:
                connections = worker.net_connections(kind="tcp")
            except psutil.NoSuchProcess:  # replaced after a timeout
                continue
            count += any(c.laddr and c.laddr.port == self.port and c.status != psutil.CONN_LISTEN for c in connections)
        return count, len(workers)

    def _sample(self):
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), *self.busy()))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class Corrections:
    """Post a distinct correction every ``interval`` seconds, each in its own thread, until the block ends,
    then wait for every answer; ``results`` holds (status, seconds) per correction."""

    def __init__(self, url: str, interval: float, numbers: itertools.count):
        self.url, self.interval, self.numbers = url + "/corrections", interval, numbers
        self.results: list[tuple[str, float]] = []
        self._posts: list[threading.Thread] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        due = time.monotonic()
        while not self._stop.is_set():
            body = correction_body(next(self.numbers))
            post = threading.Thread(
                target=lambda b=body: self.results.append(timed_post(self.url, b, "application/json")), daemon=True
            )
            post.start()
            self._posts.append(post)
            due += self.interval
            self._stop.wait(max(0.0, due - time.monotonic()))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, kind, *exc):
        self._stop.set()
        self._thread.join()
        if kind is not None:  # an error or Ctrl+C: clean up now, leaving the posts' daemon threads behind
            return
        for post in self._posts:  # each ends within its own CLIENT_TIMEOUT
            post.join(CLIENT_TIMEOUT + 5)
        self.results = list(self.results) + [("unanswered", float("nan"))] * (len(self._posts) - len(self.results))


@dataclass
class Row:
    database: str
    state: str  # "healthy", "locked", "frozen"
    posting: bool
    predict: list[tuple[str, float]]
    corrections: list[tuple[str, float]]


def condition(server, png: bytes, args, numbers, database: str, state: str, posting: bool) -> Row:
    """Post /predict ``args.requests`` times at concurrency 1, with corrections posted meanwhile or not."""
    print(f"{database}, {state}, {'corrections' if posting else 'no corrections'}...", file=sys.stderr, flush=True)
    client = Corrections(server.url, args.interval, numbers) if posting else nullcontext()
    with client:
        if posting:
            time.sleep(args.warmup)
        predict, end = [], time.perf_counter() + args.limit
        while len(predict) < args.requests and time.perf_counter() < end:  # a growing queue would never end
            predict.append(timed_post(server.url + "/predict", png, "image/png"))
    return Row(database, state, posting, predict, client.results if posting else [])


def probe(server, numbers, label: str, interval: float) -> str:
    """Post one correction with nothing else in flight; say how many workers it held, for how long, and what
    share of the workers corrections posted every ``interval`` seconds would hold at that rate."""
    with Workers(server, 0.01) as workers:  # not while /predict is timed: a sample costs milliseconds of CPU
        status, seconds = timed_post(server.url + "/corrections", correction_body(next(numbers)), "application/json")
        time.sleep(0.1)  # a sample or two after the answer
    times = [t for t, _, _ in workers.samples]
    held = [t for t, n, _ in workers.samples if n]
    span = held[-1] - held[0] if held else 0.0
    most = max((n for _, n, _ in workers.samples), default=0)
    total = max((total for _, _, total in workers.samples), default=0)
    return (
        f"{label}: one correction held {most} of {total} workers for {span:.2f} s (sampled every "
        f"{1000 * np.mean(np.diff(times)):.0f} ms) and was answered {status} after {seconds:.2f} s: without the "
        f"circuit breaker, one every {interval:g} s would need {seconds / interval:.1f} workers to itself; "
        f"with it, one such wait per worker per cool-down"
    )


def measure(database: str, state: str, server, stall, png: bytes, args, numbers) -> tuple[list[Row], list[str]]:
    """The four conditions on one database; ``stall()`` is the context manager that locks or freezes it."""
    for _ in range(10):  # warm both workers
        timed_post(server.url + "/predict", png, "image/png")
    rows, probes = [], []
    for stalled in (False, True):
        with stall() if stalled else nullcontext():
            if stalled:  # twice: PostgreSQL cuts a pooled connection at the deadline, a new one at connect_timeout
                probes += [probe(server, numbers, f"{database} {state}", args.interval) for _ in range(2)]
            for posting in (False, True):
                rows.append(condition(server, png, args, numbers, database, state if stalled else "healthy", posting))
    return rows, probes


@contextmanager
def sqlite_locked(path: Path):
    """Hold ``path``'s write lock in another process, in an exclusive transaction, while the block runs."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        if holder.stdout.readline().strip() != "locked":
            raise RuntimeError(f"the lock holder did not lock {path}")
        yield
    finally:
        holder.stdin.close()  # it rolls back and exits
        try:
            holder.wait(10)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()


@contextmanager
def serve(png: bytes, url: str):
    """gunicorn as the Procfile starts it on DATABASE_URL ``url``; its log drained (a full pipe would block
    it) and its last lines shown if the block fails."""
    with gunicorn_process.start(png, env={**ENV, "DATABASE_URL": url}) as server:
        log = deque(maxlen=20)
        threading.Thread(target=lambda: log.extend(server.process.stderr), daemon=True).start()
        try:
            yield server
        except Exception:
            print("gunicorn's last lines:\n" + b"".join(log).decode(errors="replace"), file=sys.stderr)
            raise


def cell(samples: list[float], q: float, unit: float = 1000) -> float:
    return float(np.percentile(samples, q)) * unit if samples else float("nan")


def statuses(results) -> str:
    return " ".join(f"{s}x{n}" for s, n in sorted(Counter(s for s, _ in results).items())) or "-"


def table(rows: list[Row], args) -> str:
    """One line per condition: /predict p50, p95, the p50's move from healthy, statuses; the corrections' answers."""
    healthy = {(r.database, r.posting): cell([t for _, t in r.predict], 50) for r in rows if r.state == "healthy"}
    lines = [
        f"{'condition':<46} {'p50 ms':>7} {'p95 ms':>7} {'p50 moved':>9}  {'/predict':<12}  "
        f"corrections: statuses, answer p50 / max s"
    ]
    for r in rows:
        times = [t for _, t in r.predict]
        p50 = cell(times, 50)
        name = f"{r.database}, {r.state}, " + (
            f"a correction every {args.interval:g} s" if r.posting else "no corrections"
        )
        sent = statuses(r.predict) + (
            f" ({len(r.predict)} sent in {args.limit:g} s)" if len(r.predict) < args.requests else ""
        )
        answers = [t for _, t in r.corrections if t == t]  # not NaN: answered
        posted = f"{statuses(r.corrections)}, {cell(answers, 50, 1):.2f} / {max(answers):.2f}" if answers else "-"
        lines.append(
            f"{name:<46} {p50:7.1f} {cell(times, 95):7.1f} {p50 - healthy[r.database, r.posting]:+9.1f}  "
            f"{sent:<12}  {posted}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="/predict requests a condition (300)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between corrections (0.5)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=deadline.REQUEST_SECONDS,
        help=f"seconds of corrections before /predict is measured (the deadline, {deadline.REQUEST_SECONDS})",
    )
    parser.add_argument(
        "--limit", type=float, default=60, help="seconds a condition may post /predict requests, answered or not (60)"
    )
    parser.add_argument("--database", choices=["both", "sqlite", "postgresql"], default="both")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds the same clean-up as Ctrl+C
    begin = time.perf_counter()
    png, numbers = canvas_png(), itertools.count()
    rows, probes = [], []
    if args.database != "postgresql":
        with tempfile.TemporaryDirectory(prefix="bench-database-") as folder:
            path = Path(folder) / "corrections.sqlite3"
            with serve(png, f"sqlite:///{path}") as server:
                found = measure("SQLite", "locked", server, lambda: sqlite_locked(path), png, args, numbers)
            rows, probes = rows + found[0], probes + found[1]
    bin_dir = postgres_server.find_bin_dir()
    if args.database != "sqlite" and bin_dir is None:
        probes.append("PostgreSQL: skipped, no pg_ctl (apt-get install -y postgresql)")
    elif args.database != "sqlite":
        with postgres_server.running(bin_dir, prefix="bench-postgres-") as postgres:
            url = postgres.url("postgres")
            release = subprocess.run(
                gunicorn_process.procfile_command("release"),
                cwd=ROOT,
                capture_output=True,
                text=True,
                env={**os.environ, "DATABASE_URL": url},
            )
            if release.returncode:
                raise RuntimeError(f"the Procfile's release: failed: {release.stderr[-2000:]}")
            with serve(png, url) as server:
                found = measure(
                    "PostgreSQL", "frozen", server, lambda: postgres.frozen(thaw_after=THAW_AFTER), png, args, numbers
                )
            rows, probes = rows + found[0], probes + found[1]
    print(
        f"/predict: the page's drawing ({len(png)} bytes), {args.requests} requests at concurrency 1 a condition; "
        f"gunicorn as the Procfile starts it;\np50 moved: from the same database healthy, with corrections posted "
        f"alike, in ms\n"
    )
    print(table(rows, args))
    print(
        f"\nBounds: a correction's deadline {deadline.REQUEST_SECONDS} s (corrections/deadline.py), SQLite's busy "
        f"timeout {SQLITE_BUSY_SECONDS} s, PostgreSQL's connect_timeout {POSTGRES_CONNECT_SECONDS} s"
    )
    print("\n".join(probes))
    print(f"\n{time.perf_counter() - begin:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # everything is cleaned up by now
        sys.exit(130)
