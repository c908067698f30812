"""Measure POST /corrections against gunicorn as the Procfile starts it: throughput, latency, memory.

python -m bench.corrections [--requests 300] [--concurrency 8]     # SQLite in a temporary folder
DATABASE_URL=postgresql://... python -m bench.corrections            # an existing PostgreSQL (schema upgraded)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL.PngImagePlugin import PngInfo

from bench import gunicorn_process
from synth.canvas import encode  # noqa: E402
from synth.digits import stroke_digit  # noqa: E402


def correction_body(i: int) -> bytes:
    """A JSON correction of a drawn 7, labelled 7, whose PNG bytes differ for each ``i`` (a PNG text chunk), so it
    is stored: the same bytes with the same label again are a duplicate, which stores nothing."""
    info = PngInfo()
    info.add_text("n", str(i))
    image = encode(stroke_digit(7), pnginfo=info)
    return json.dumps({"image": "data:image/png;base64," + base64.b64encode(image).decode(), "label": 7}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    png = encode(stroke_digit(7))
    folder = tempfile.mkdtemp()
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{folder}/corrections.sqlite3"
    env = {
        "DATABASE_URL": url,
        "CORRECTIONS_RATE_LIMIT": "100000 per minute",
        "CORRECTIONS_MAX_ROWS": "1000000",
        "CORRECTIONS_CLIENT_MB_PER_DAY": "0",
    }
    with gunicorn_process.start(png, env=env) as server:

        def timed(path, data, kind):
            begin = time.perf_counter()
            status, _ = gunicorn_process.post(server.url + path, data, kind)
            return status, time.perf_counter() - begin

        bodies = [correction_body(i) for i in range(args.requests)]
        for path, data, kind in [
            ("/predict", [png] * args.requests, "image/png"),
            ("/corrections", bodies, "application/json"),
        ]:
            begin = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                results = list(pool.map(lambda d, p=path, k=kind: timed(p, d, k), data))
            seconds = time.perf_counter() - begin
            statuses = sorted({s for s, _ in results})
            latency = np.array([t for _, t in results]) * 1000
            print(
                f"{path}: {args.requests / seconds:.0f} requests/s at concurrency {args.concurrency}, "
                f"p50 {np.percentile(latency, 50):.1f} ms, p95 {np.percentile(latency, 95):.1f} ms, "
                f"statuses {statuses}"
            )
        memory = server.memory_mb()
        print(
            f"gunicorn: {memory['processes']} processes, PSS {memory['pss']:.0f} MB, "
            f"database {url.split('://')[0]}, a canvas PNG of {len(png)} bytes (a distinct one per correction)"
        )


if __name__ == "__main__":
    main()
