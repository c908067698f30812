"""Read images with RapidOCR, the general OCR engine a user could install instead: one JSON line an image.

Runs in its own virtual environment (``requirements-peers.txt``), never beside the server:

    python3 -m venv .venv-peers && .venv-peers/bin/pip install -r requirements-peers.txt
    .venv-peers/bin/python bench/peer_rapidocr.py images.npz [--detect]    # what bench.peers calls

``images.npz`` holds ``image`` (uint8, the files concatenated) and ``offsets`` (n + 1), as the real-world sets
do. Each output line is {"text": the texts found, left to right, joined, "score": the lowest score, "ms"}.
RapidOCR runs with the default models from its wheel, as a user would: on a crop that is already the line (a
cheque amount, a number) its recogniser alone, which reads these far better than with its detector first (on
cheque amounts its detector finds no text in most crops); with ``--detect``, its detector first (scans).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def main(path: str, detect: bool = False) -> int:
    from rapidocr import RapidOCR

    engine = RapidOCR()
    with np.load(path) as data:
        blob, offsets = data["image"], data["offsets"]
    for i in range(len(offsets) - 1):
        image = blob[offsets[i] : offsets[i + 1]].tobytes()
        started = time.perf_counter()
        try:
            result = engine(image, use_det=detect, use_cls=detect, use_rec=True)
            boxes = [] if getattr(result, "boxes", None) is None else list(result.boxes)
            texts = list(result.txts or ())
            scores = list(result.scores or ())
        except Exception as exc:  # a peer's failure on one image is its answer for that image
            print(f"image {i}: {type(exc).__name__}: {exc}", file=sys.stderr)
            boxes, texts, scores = [], [], []
        order = sorted(range(len(texts)), key=lambda k: float(np.min(np.asarray(boxes[k])[:, 0])) if boxes else k)
        print(
            json.dumps(
                {
                    "text": "".join(texts[k] for k in order),
                    "score": float(min(scores)) if scores else 0.0,
                    "ms": (time.perf_counter() - started) * 1000,
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--detect" in sys.argv[2:]))
