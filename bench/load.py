"""Load test: gunicorn started as the Procfile does, thousands of requests at concurrency 16 from
this (separate) process. Checks every answer and the memory of master plus workers.

    .venv/bin/python -m bench.load [--requests 5000] [--concurrency 16]

Every answer must be right: a digit equal to the in-process reading of the same image, or the
4xx of a bad input. Exits 1 on any wrong answer, any error, or memory growth over 20% from after
warm-up to the end.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import datasets
from bench import gunicorn_process
from recognizer import backends, read
from synth.canvas import canvas_from_mnist, encode

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Case:
    name: str
    body: bytes
    content_type: str
    status: int
    digit: int | None = None


def cases() -> list[Case]:
    """Twenty MNIST test digits drawn as canvases (in three request forms) and five bad inputs."""
    backend = backends.load_backend("litert")
    _, (images, _) = datasets.load_mnist()
    out = []
    for i in range(20):
        png = encode(canvas_from_mnist(images[i], box=(30 + i, 30, 200)))
        digit = read.predict_image(png, backend).digit
        if i % 2:
            body = json.dumps({"image": "data:image/png;base64," + base64.b64encode(png).decode()}).encode()
            out.append(Case(f"json {i}", body, "application/json", 200, digit))
        else:
            out.append(Case(f"raw {i}", png, "image/png", 200, digit))
    blank = encode(canvas_from_mnist(images[0] * 0))
    out += [
        Case("blank", blank, "image/png", 422),
        Case("junk", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "image/png", 400),
        Case("no image", b'{"image": null}', "application/json", 400),
        Case("text", b"hello", "text/plain", 415),
        Case("bomb", encode(canvas_from_mnist(images[0], size=5000, box=(0, 0, 28)), optimize=True), "image/png", 413),
    ]
    return out


@dataclass
class Tally:
    sent: int = 0
    wrong: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def send(url: str, case: Case, tally: Tally) -> None:
    host = urlsplit(url)
    try:
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        connection.request("POST", "/predict", body=case.body, headers={"Content-Type": case.content_type})
        response = connection.getresponse()
        body = json.loads(response.read())
        connection.close()
        right = response.status == case.status and (case.digit is None or body.get("digit") == case.digit)
        with tally.lock:
            tally.sent += 1
            if not right:
                tally.wrong.append((case.name, response.status, body))
    except Exception as exc:  # a refused, reset or timed-out connection is a failure of the run
        with tally.lock:
            tally.sent += 1
            tally.errors.append((case.name, repr(exc)))


def run(requests: int = 5000, concurrency: int = 16, workers: int = 2, warmup: int = 300) -> dict:
    """Run the load and return its figures."""
    mix = cases()
    with gunicorn_process.start(mix[0].body, workers=workers) as server:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda i: send(server.url, mix[i % len(mix)], Tally()), range(warmup)))
            after_warmup = server.memory_mb()
            tally = Tally()
            start = time.perf_counter()
            list(pool.map(lambda i: send(server.url, mix[i % len(mix)], tally), range(requests)))
            seconds = time.perf_counter() - start
        at_end = server.memory_mb()
    return {
        "requests": tally.sent,
        "seconds": seconds,
        "rps": tally.sent / seconds,
        "wrong": tally.wrong,
        "errors": tally.errors,
        "rss_after_warmup_mb": after_warmup["rss"],
        "rss_at_end_mb": at_end["rss"],
        "growth": at_end["rss"] / after_warmup["rss"] - 1,
        "processes": at_end["processes"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    result = run(args.requests, args.concurrency, args.workers)
    print(
        f"{result['requests']} requests at concurrency {args.concurrency} against {args.workers} workers "
        f"in {result['seconds']:.1f} s ({result['rps']:.0f}/s)"
    )
    print(f"wrong answers: {len(result['wrong'])}, connection errors: {len(result['errors'])}")
    print(
        f"RSS of master + workers ({result['processes']} processes): {result['rss_after_warmup_mb']:.0f} MB after "
        f"warm-up, {result['rss_at_end_mb']:.0f} MB at the end ({result['growth']:+.1%})"
    )
    for failure in (result["wrong"] + result["errors"])[:10]:
        print("  ", failure)
    return 0 if not result["wrong"] and not result["errors"] and result["growth"] <= 0.20 else 1


if __name__ == "__main__":
    sys.exit(main())
