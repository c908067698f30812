"""Send each hostile input of issue 10's table A to gunicorn started as the Procfile does, and print
its answer, the time of the slowest of ``--parallel`` copies sent at once, and the server's peak memory.

    .venv/bin/python -m bench.limits               # about a minute on two cores
    .venv/bin/python -m bench.limits --parallel 4  # four of each in flight, as in the issue

A last row times a /predict sent while two clients send their request body a byte every 0.2 s (issue 24:
with sync workers it waited for gunicorn's 20 s timeout; the threaded worker answers it at once).

Memory is the RSS of the master plus its workers, sampled every 10 ms (shared pages counted in every
process, so an upper bound on what a 512 MB dyno sees).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from bench import gunicorn_process, hostile

MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # app.MAX_UPLOAD_BYTES, without importing the app into this process


def transport_cases() -> list[tuple[str, callable, str]]:
    """The inputs that are about the HTTP body rather than the image: (name, function of the URL, before)."""
    bad_chunk = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    )
    over = [b"\x89PNG\r\n\x1a\n"] + [b"\0" * 65536] * (MAX_UPLOAD_BYTES // 65536 + 1)
    return [
        ("a bad chunk size", lambda url: gunicorn_process.send_raw(url, bad_chunk), "500"),
        (
            "chunked body over 2 MB",
            lambda url: gunicorn_process.post_chunked(url + "/predict", over),
            "cut at 2 MB, answered 200",
        ),
    ]


SLOW_HEAD = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n"


def dribble(url: str, head: bytes, stop: threading.Event) -> None:
    """Send ``head``, then one byte every 0.2 s until ``stop`` is set or the server answers (a slow client)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head)
        try:
            while not stop.wait(0.2):
                sock.sendall(b"x")
        except OSError:  # the server answered and closed
            pass


def predict_behind_slow_clients(url: str, seven: bytes, clients: int = 2, timeout: float = 10) -> dict:
    """Time one /predict sent while ``clients`` connections dribble their body a byte every 0.2 s."""
    stop = threading.Event()
    threads = [threading.Thread(target=dribble, args=(url, SLOW_HEAD, stop), daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # both are now being read
    status, body, seconds = timed(lambda: gunicorn_process.post(url + "/predict", seven, timeout=timeout))
    stop.set()
    for thread in threads:
        thread.join()
    return {
        "name": f"/predict while {clients} clients send their body a byte every 0.2 s",
        "bytes": 0,
        "statuses": [status],
        "seconds": seconds,
        "before": "waited for the 20 s timeout",
        "error": str(body.get("digit", body.get("error", ""))),
    }


def timed(fn) -> tuple[int, dict, float]:
    start = time.perf_counter()
    try:
        status, body = fn()
    except Exception as exc:  # a reset or timed-out connection is an answer too: the worst one
        status, body = 0, {"error": repr(exc)}
    return status, body, time.perf_counter() - start


def measure(parallel: int = 2, timeout: float = 10) -> list[dict]:
    """Return one row per case: name, bytes, statuses, the slowest answer in s, peak RSS in MB."""
    rows = []
    with gunicorn_process.start(hostile.seven_png()) as server:
        time.sleep(1)  # let the second worker finish forking
        idle = server.rss_mb()
        rows.append(
            {
                "name": "idle server (master + 2 workers)",
                "bytes": 0,
                "statuses": [],
                "seconds": 0.0,
                "peak_mb": idle,
                "before": "",
            }
        )
        calls = []
        for case in hostile.CASES:
            body = case.build()
            calls.append(
                (
                    case.name,
                    len(body),
                    case.before,
                    lambda url, b=body, c=case.content_type: gunicorn_process.post(
                        url + "/predict", b, c, timeout=timeout
                    ),
                )
            )
        for name, fn, before in transport_cases():
            calls.append((name, 0, before, fn))
        with ThreadPoolExecutor(parallel) as pool:
            for name, size, before, fn in calls:
                with gunicorn_process.PeakMemory(server) as memory:
                    answers = list(pool.map(lambda _, fn=fn: timed(lambda: fn(server.url)), range(parallel)))
                rows.append(
                    {
                        "name": name,
                        "bytes": size,
                        "statuses": [a[0] for a in answers],
                        "seconds": max(a[2] for a in answers),
                        "peak_mb": memory.peak,
                        "before": before,
                        "error": answers[0][1].get("error", ""),
                    }
                )
        with gunicorn_process.PeakMemory(server) as memory:
            row = predict_behind_slow_clients(server.url, hostile.seven_png(), timeout=timeout)
        rows.append({**row, "peak_mb": memory.peak})
        print(f"{row['name']}: {row['seconds']:.2f} s, answered {row['statuses'][0]} ({row['error']})")
        # Still serving after all of it:
        status, body = gunicorn_process.post(server.url + "/predict", hostile.seven_png())
        rows.append(
            {
                "name": "a 7 after all of the above",
                "bytes": 0,
                "statuses": [status],
                "seconds": 0.0,
                "peak_mb": server.rss_mb(),
                "before": "",
                "error": str(body.get("digit")),
            }
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parallel", type=int, default=2, help="copies of each input in flight at once")
    args = parser.parse_args(argv)
    rows = measure(args.parallel)
    print(f"| input | size | before | now | slowest of {args.parallel} | server peak |")
    print("| --- | ---: | --- | --- | ---: | ---: |")
    for row in rows:
        statuses = "/".join(sorted({str(s) for s in row["statuses"]})) or "-"
        size = f"{row['bytes']:,} B" if row["bytes"] else ""
        print(
            f"| {row['name']} | {size} | {row['before']} | {statuses} | {row['seconds']:.2f} s | "
            f"{row['peak_mb']:.0f} MB |"
        )
    worst = max(r["peak_mb"] for r in rows)
    bad = [r for r in rows if any(s >= 500 or s == 0 for s in r["statuses"])]
    print(f"\npeak RSS of the whole server: {worst:.0f} MB; answers that were 5xx or no answer: {len(bad)}")
    print(json.dumps({r["name"]: r.get("error", "") for r in rows}, indent=1))
    return 0 if not bad and worst < 512 else 1


if __name__ == "__main__":
    sys.exit(main())
