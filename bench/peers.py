"""This project beside RapidOCR on the same images, in one run: whole numbers exact, per digit, time an image.

    python3 -m venv .venv-peers && .venv-peers/bin/pip install -q -r requirements-peers.txt   # once
    .venv/bin/python -m bench.peers [--limit N] [--peer-python .venv-peers/bin/python]

Sets: ``orand_car_a_val`` (200 real cheque amounts, never trained on), the digit cells of ``sudoku_cells_val``
(real phone photos) and held-out synthetic numbers (``evaluation.synthetic_number_samples``). Ours reads
through ``recognizer.reader.Reader`` (mode "auto", as /predict); RapidOCR through ``bench/peer_rapidocr.py`` in
its own environment, its recogniser alone and its detector first. A reading is right when its digits are the
label's digits.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import evaluation
from datasets import load_realworld

ROOT = Path(__file__).resolve().parent.parent
PEER_PYTHON = ROOT / ".venv-peers" / "bin" / "python"


def sudoku_digit_samples(limit: int = 500):
    """Yield (JPEG bytes, digit, "real") digit cells of ``sudoku_cells_val``, a fixed random sample."""
    images, labels, _ = load_realworld("sudoku_cells_val")
    digits = [i for i, label in enumerate(labels) if str(label).isdigit()]
    for i in np.random.default_rng(evaluation.EVAL_SEED).choice(digits, min(limit, len(digits)), replace=False):
        yield images[i], str(labels[i]), "real"


def digits_of(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def ours(samples) -> tuple[list[str], list[float]]:
    """Our digits for each sample and the milliseconds each took in process."""
    reader = evaluation.as_reader()
    numbers, times = [], []
    for data, _, _ in samples:
        started = time.perf_counter()
        reading = evaluation.read_or_none(data, reader)
        times.append((time.perf_counter() - started) * 1000)
        numbers.append(reading.number if reading else "")
    return numbers, times


def peer(samples, python: Path, detect: bool) -> tuple[list[str], list[float]]:
    """RapidOCR's digits for each sample and its milliseconds an image, from its own process."""
    images = [data for data, _, _ in samples]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "images.npz"
        np.savez(
            path, image=np.frombuffer(b"".join(images), np.uint8), offsets=np.cumsum([0] + [len(d) for d in images])
        )
        command = [str(python), str(ROOT / "bench" / "peer_rapidocr.py"), str(path)] + (["--detect"] if detect else [])
        lines = subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()
    answers = [json.loads(line) for line in lines if line.startswith("{")]
    return [digits_of(a["text"]) for a in answers], [a["ms"] for a in answers]


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="at most this many images of each set")
    parser.add_argument("--peer-python", default=str(PEER_PYTHON), help="the Python of RapidOCR's environment")
    args = parser.parse_args(argv)
    python = Path(args.peer_python)
    if not python.exists():
        print(f"{python} not found: make the peer's environment first (see this module's docstring)", file=sys.stderr)
        return 2
    sets = {
        "ORAND-CAR-A val (real cheque amounts)": list(evaluation.orand_samples(limit=args.limit)),
        "Sudoku val digit cells (real phone photos)": list(sudoku_digit_samples(args.limit or 500)),
        "Held-out synthetic numbers": list(evaluation.synthetic_number_samples(args.limit or 500)),
    }
    print("| set | images | this project | RapidOCR, recogniser | RapidOCR, detector + recogniser |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, samples in sets.items():
        labels = [digits_of(label) for _, label, _ in samples]
        cells = []
        for numbers, times in (ours(samples), peer(samples, python, False), peer(samples, python, True)):
            exact = np.mean([n == label for n, label in zip(numbers, labels)])
            cells.append(f"{exact:.1%} ({np.median(times):.1f} ms)")
        print(f"| {name} | {len(samples)} | " + " | ".join(cells) + " |", flush=True)
    print("\nExact: the digits read equal the label's; in brackets the median time an image, in process, one core.")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
