"""Benchmark the request path in-process and over HTTP, and print one table.

    .venv/bin/python -m bench.run            # minutes; it prints how long it took
    .venv/bin/python -m bench.run --quick    # fewer iterations, a smoke run

Every figure has a ratio to the naive reference measured in the same run (Keras ``model.predict``
in-process; a gunicorn server calling ``model.predict`` per request over HTTP), because these
machines are noisy: compare ratios within one run, not absolute times across runs.
Needs requirements-dev.txt (TensorFlow for the reference) and `hey` (apt-get install hey).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import numpy as np

import datasets
from bench import gunicorn_process
from recognizer import backends, decode, mnist, normalize, read, segment as segmentation
from synth.canvas import PAGE_DIGIT_SIDE, canvas_from_mnist, encode

ROOT = Path(__file__).resolve().parent.parent
# None of the imports above loads TensorFlow (the Keras backend and the reference import it when used).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The reference server: gunicorn with 2 workers. gunicorn reads ./gunicorn.conf.py (port, workers);
# MODEL_BACKEND=keras turns its preload off, as TensorFlow deadlocks in workers forked after loading it.
NAIVE_SERVER = [str(Path(sys.executable).with_name("gunicorn")), "--timeout", "60", "bench.naive_server:create_app()"]
NAIVE_ENV = {"MODEL_BACKEND": "keras"}
# Where the drawing is posted: in the mode the page sends with it (a JSON field there; the naive server ignores it).
DRAWING_PATH = "/predict?mode=digit"


def canvas_png(size: int = PAGE_DIGIT_SIDE) -> bytes:
    """A drawing as the page posts it: RGBA, black ink on transparent, ``PAGE_DIGIT_SIDE`` (112) px a side
    whatever the canvas's size on screen."""
    _, (x_test, _) = datasets.load_mnist()
    return encode(canvas_from_mnist(x_test[0], size=size, box=(size // 7, size // 7, size * 5 // 7)))


def number_png(width: int = 600, height: int = 200, text: str = "4,250.75") -> bytes:
    """A number as a script posts it: ``text`` written by hand from MNIST test digits, dark ink on a white
    ``width`` x ``height`` PNG (issue 21's 600x200 number image)."""
    from PIL import Image

    from recognizer.png import encode_png
    from synth.strings import write_line

    _, (x_test, y_test) = datasets.load_mnist()
    ink = write_line(text, np.random.default_rng(21), (x_test, y_test), part="eval")
    scale = min((width - 40) / ink.shape[1], (height - 40) / ink.shape[0])
    ink = np.asarray(Image.fromarray(ink).resize((round(ink.shape[1] * scale), round(ink.shape[0] * scale))))
    page = np.zeros((height, width), np.float32)
    top, left = (height - ink.shape[0]) // 2, (width - ink.shape[1]) // 2
    page[top : top + ink.shape[0], left : left + ink.shape[1]] = np.clip(ink, 0, 1)
    return encode_png(np.round(255 - page * 255).astype(np.uint8))


def percentiles(samples_ns: list[int]) -> tuple[float, float]:
    """Return (median, p99) in milliseconds."""
    samples = np.asarray(samples_ns) / 1e6
    return float(np.median(samples)), float(np.percentile(samples, 99))


def time_calls(fn, iterations: int, runs: int) -> tuple[float, float]:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        for _ in range(iterations):
            start = time.perf_counter_ns()
            fn()
            samples.append(time.perf_counter_ns() - start)
    return percentiles(samples)


def in_process(png: bytes, iterations: int, runs: int) -> list[tuple[str, float, float]]:
    """Median and p99 per stage of one request, and the naive model.predict reference."""
    import keras

    from app import create_app

    litert = backends.load_backend("litert")
    float32 = backends.load_backend("litert", cascade=False)  # without the little int8 network read first
    keras_backend = backends.load_backend("keras")
    net = keras.models.load_model(mnist.KERAS_MODEL_PATH, compile=False)
    grey = decode.decode_image(png)
    large = canvas_png(280)
    batch = normalize.normalize_digit(grey)[None, :, :, None]

    def segment_and_normalise():
        units = segmentation.segment(grey)
        return [units.render(first, last) for first, last in units.spans()]

    prediction = read.predict_image(png, litert)
    client = create_app({"MODEL": litert}).test_client()
    number = number_png()

    rows = [
        ("naive Keras model.predict (reference)", lambda: net.predict(batch, verbose=0)),
        (f"decode the page's {PAGE_DIGIT_SIDE} px PNG (decode_image)", lambda: decode.decode_image(png)),
        ("decode a 280 px PNG, for comparison", lambda: decode.decode_image(large)),
        ("segment and normalise (segment, render)", segment_and_normalise),
        ("inference, LiteRT (int8 first, float32 where it is unsure)", lambda: litert.predict(batch)),
        ("inference, LiteRT float32 alone, for comparison", lambda: float32.predict(batch)),
        ("inference, Keras direct call", lambda: keras_backend.predict(batch)),
        ("encode answer (JSON + PNG preview)", lambda: json.dumps(prediction.to_json())),
        (
            "read the page's drawing, predict_image (decode, segment, network: issue 25's in-process measure)",
            lambda: read.predict_image(png, litert),
        ),
        ("the same, float32 network alone, for comparison", lambda: read.predict_image(png, float32)),
        (
            "whole request, Flask test client (the page's mode, digit)",
            lambda: client.post(DRAWING_PATH, data=png, content_type="image/png"),
        ),
        (
            "whole request, a 600x200 number (string reader)",
            lambda: client.post("/predict", data=number, content_type="image/png"),
        ),
    ]
    results = []
    for name, fn in rows:
        n = max(20, iterations // 10) if "Keras" in name else iterations
        results.append((name, *time_calls(fn, n, runs)))
    return results


def hey(url: str, body: Path, requests: int, concurrency: int, path: str = "/predict") -> dict:
    """Run `hey` against POST ``path``; return requests/s, p50 and p99 in ms, and status counts.

    hey sends ``requests`` rounded down to a multiple of ``concurrency`` and prints its 99th percentile only
    from 100 answers on, so at least the next multiple of ``concurrency`` from 100 are sent.
    """
    requests = -(-max(requests, 100) // concurrency) * concurrency
    out = subprocess.run(
        [
            "hey",
            "-n",
            str(requests),
            "-c",
            str(concurrency),
            "-m",
            "POST",
            "-T",
            "image/png",
            "-D",
            str(body),
            url + path,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    statuses = {int(code): int(count) for code, count in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    if not re.search(r"99%+ in ([\d.]+) secs", out):
        raise RuntimeError(f"hey printed no 99th percentile (it needs 100 requests or more):\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": float(re.search(r"50%+ in ([\d.]+) secs", out).group(1)) * 1000,
        "p99": float(re.search(r"99%+ in ([\d.]+) secs", out).group(1)) * 1000,
        "statuses": statuses,
    }


def median_of(runs: list[dict], key: str) -> float:
    return float(np.median([r[key] for r in runs]))


def over_http(
    png: bytes, body: Path, requests: int, runs: int, command=None, env=None, number: Path | None = None
) -> dict:
    """Start a server ``runs`` times for its cold start, then its latency at concurrency 1 (medians of ``runs``) and
    its memory; with ``number`` (a PNG file), the number's latency at concurrency 1 too.

    The drawing is posted to ``DRAWING_PATH``, the number with no mode (``auto``), as a script would."""
    cold = []
    for _ in range(runs):
        with gunicorn_process.start(png, command=command, env=env) as server:
            cold.append(server.startup_seconds)
    with gunicorn_process.start(png, command=command, env=env) as server:
        hey(server.url, body, 100, 4, DRAWING_PATH)  # warm-up
        c1 = [hey(server.url, body, requests // 2, 1, DRAWING_PATH) for _ in range(runs)]
        numbers = [hey(server.url, number, requests // 2, 1) for _ in range(runs)] if number else []
        memory = server.memory_mb()
    errors = sum(n for r in c1 + numbers for code, n in r["statuses"].items() if code != 200)
    return {
        "cold_start_s": float(np.median(cold)),
        "p50_c1": median_of(c1, "p50"),
        "p99_c1": median_of(c1, "p99"),
        "memory": memory,
        "errors": errors,
        "p50_number": median_of(numbers, "p50") if numbers else float("nan"),
        "p99_number": median_of(numbers, "p99") if numbers else float("nan"),
    }


def paired_throughput(png: bytes, body: Path, requests: int, runs: int) -> dict:
    """Throughput of ours and of the naive server at concurrency 1, 8 and 16, measured in pairs, back to back.

    Both servers run at once (idle while the other is measured); each of ``runs`` rounds measures ours and then the
    naive server at each concurrency (the naive one with a quarter of the requests: it is 30 times slower). A machine
    that slows down for a minute then slows both halves of a pair, so the median of the pairs' ratios is steadier
    than the ratio of two medians taken minutes apart. Returns {concurrency: {"ours", "naive", "ratio",
    "errors"}}: the medians of requests/s and of the pairs' ratios, and the non-200 answers of each server."""
    results = {c: {"ours": [], "naive": [], "errors": {"ours": 0, "naive": 0}} for c in (1, 8, 16)}
    with (
        gunicorn_process.start(png) as ours,
        gunicorn_process.start(png, command=NAIVE_SERVER, env=NAIVE_ENV) as naive,
    ):
        hey(ours.url, body, 100, 4, DRAWING_PATH)  # warm-up
        hey(naive.url, body, 100, 4, DRAWING_PATH)
        for _ in range(runs):
            for c, result in results.items():
                for server, key, count in ((ours, "ours", requests), (naive, "naive", requests // 4)):
                    measured = hey(server.url, body, count // 2 if c == 1 else count, c, DRAWING_PATH)
                    result[key].append(measured["rps"])
                    result["errors"][key] += sum(n for code, n in measured["statuses"].items() if code != 200)
    return {
        c: {
            "ours": float(np.median(r["ours"])),
            "naive": float(np.median(r["naive"])),
            "ratio": float(np.median(np.asarray(r["ours"]) / np.asarray(r["naive"]))),
            "errors": r["errors"],
        }
        for c, r in results.items()
    }


def installed_size_mb(requirements: Path) -> float:
    """Size of what `pip install -r requirements` adds to a fresh virtual environment, in MB."""

    def size(folder: Path) -> int:
        return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())

    with tempfile.TemporaryDirectory() as folder:
        venv.create(folder, with_pip=True)
        before = size(Path(folder))
        subprocess.run([f"{folder}/bin/pip", "install", "-q", "--no-cache-dir", "-r", str(requirements)], check=True)
        return (size(Path(folder)) - before) / 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer iterations: a smoke run")
    parser.add_argument("--skip-install", action="store_true", help="skip the fresh-venv install size")
    args = parser.parse_args(argv)
    if not shutil.which("hey"):
        sys.exit("bench needs `hey`: apt-get install -y hey")
    iterations, runs, requests = (100, 2, 400) if args.quick else (500, 5, 2000)
    began = time.perf_counter()

    png = canvas_png()
    body = Path(tempfile.mkdtemp()) / "digit.png"
    body.write_bytes(png)
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; the page's PNG: {PAGE_DIGIT_SIDE}x{PAGE_DIGIT_SIDE}, {len(png)} bytes; "
        f"medians of {runs} runs\n"
    )

    stages = in_process(png, iterations, runs)
    reference = stages[0][1]
    print("| in-process stage | median ms | p99 ms | naive model.predict / this |")
    print("| --- | ---: | ---: | ---: |")
    for name, median, p99 in stages:
        print(f"| {name} | {median:.3f} | {p99:.3f} | {reference / median:.1f}x |")

    number_body = body.with_name("number.png")
    number_body.write_bytes(number_png())
    ours = over_http(png, body, requests, runs, number=number_body)
    naive = over_http(png, body, requests // 4, max(1, runs // 2), command=NAIVE_SERVER, env=NAIVE_ENV)
    print("\n| over HTTP (gunicorn, 2 workers, `hey` from another process) | ours | naive Keras server | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| p50 latency at concurrency 1, ms | {ours['p50_c1']:.2f} | {naive['p50_c1']:.2f} | "
        f"{naive['p50_c1'] / ours['p50_c1']:.1f}x |"
    )
    print(
        f"| p99 latency at concurrency 1, ms | {ours['p99_c1']:.2f} | {naive['p99_c1']:.2f} | "
        f"{naive['p99_c1'] / ours['p99_c1']:.1f}x |"
    )
    print(
        f"| p50 / p99 at concurrency 1, a 600x200 number, ms | {ours['p50_number']:.2f} / {ours['p99_number']:.2f} | "
        f"(reads single digits) | |"
    )
    for c, pair in paired_throughput(png, body, requests, runs).items():
        print(
            f"| throughput at concurrency {c}, requests/s (ratio: the median of {runs} pairs measured back to back) | "
            f"{pair['ours']:.0f} | {pair['naive']:.0f} | {pair['ratio']:.1f}x |"
        )
        ours["errors"] += pair["errors"]["ours"]
        naive["errors"] += pair["errors"]["naive"]
    print(
        f"| cold start to first answer, s | {ours['cold_start_s']:.2f} | {naive['cold_start_s']:.2f} | "
        f"{naive['cold_start_s'] / ours['cold_start_s']:.1f}x |"
    )
    print(
        f"| memory after load, master + workers, RSS MB | {ours['memory']['rss']:.0f} | "
        f"{naive['memory']['rss']:.0f} | {naive['memory']['rss'] / ours['memory']['rss']:.1f}x |"
    )
    print(
        f"| memory after load, master + workers, PSS MB | {ours['memory']['pss']:.0f} | "
        f"{naive['memory']['pss']:.0f} | {naive['memory']['pss'] / ours['memory']['pss']:.1f}x |"
    )
    print(f"| non-200 answers | {ours['errors']} | {naive['errors']} | |")
    if not args.skip_install:
        runtime = installed_size_mb(ROOT / "requirements.txt")
        dev = installed_size_mb(ROOT / "requirements-dev.txt") if not args.quick else float("nan")
        print(
            f"| installed size of requirements.txt, MB | {runtime:.0f} | {dev:.0f} (requirements-dev.txt) | "
            f"{dev / runtime:.1f}x |"
        )
    print(f"\nThe benchmark took {(time.perf_counter() - began) / 60:.1f} min.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
