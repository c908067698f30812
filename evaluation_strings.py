"""Whole numbers measured through the request path: exact, per digit (longest common subsequence), with their
separators, and the read rate at a string error of at most 1% (a cheque reader's operating point); the sets of
numbers ``evaluation.py`` reads: ``orand_car_a_val`` and held-out synthetic numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datasets import load_mnist, load_realworld
from recognizer.strings import MAX_STRING_ERROR, errors_by_rank, operating_point

EVAL_SEED = 777  # apart from training's seeds (model.SEED and its chunks)


def _common_subsequence(a: str, b: str) -> int:
    """Return the length of the longest common subsequence of two short strings."""
    row = [0] * (len(b) + 1)
    for ca in a:
        previous = 0
        for j, cb in enumerate(b):
            previous, row[j + 1] = row[j + 1], previous + 1 if ca == cb else max(row[j + 1], row[j])
    return row[-1]


@dataclass
class StringReport:
    """Whole numbers read by the request path: exact (digits, and text with separators where it is known), per
    digit, and the share read at a string error of at most 1% (rejecting the least confident)."""

    name: str
    count: int
    exact: float  # the digits read equal the label's digits
    per_digit: float  # longest common subsequence over the longer of the two
    text_exact: float | None  # the text with its separators equals the label (synthetic sets only)
    read_rate: float  # share accepted, at the lowest confidence keeping the error among accepted <= MAX_ERROR
    threshold: float  # that confidence
    flagged_error: float  # error among the readings not flagged low_confidence (the served operating point)
    flagged_rate: float  # share not flagged
    by_kind: dict  # kind -> exact
    risk_coverage: float  # area under the risk-coverage curve (risk_coverage_area): lower ranks errors lower

    def format(self) -> str:
        """Return the figures as text."""
        text = "" if self.text_exact is None else f", text with separators {self.text_exact:.1%}"
        kinds = "  ".join(f"{k}: {v:.1%}" for k, v in sorted(self.by_kind.items()))
        return (
            f"{self.name} ({self.count}): exact {self.exact:.1%}{text}, per digit {self.per_digit:.1%}; read rate "
            f"at <= {MAX_ERROR:.0%} error {self.read_rate:.1%} (confidence >= {self.threshold:.3f}); served flag: "
            f"{self.flagged_rate:.1%} read, {self.flagged_error:.1%} of them wrong; risk-coverage area "
            f"{self.risk_coverage:.1%}" + (f"\n  {kinds}" if kinds else "")
        )


MAX_ERROR = MAX_STRING_ERROR  # the string error a cheque reader is run at, as the served threshold is chosen


def digits_of(text: str) -> str:
    """The digits of a number's text, as ``Reading.number`` gives them ("37.50" -> "3750")."""
    return "".join(c for c in text if c.isdigit())


def read_rate(confidences, correct, max_error: float = MAX_ERROR) -> tuple[float, float]:
    """Return (share read, confidence threshold): the most readings, taken from the most confident down, whose
    error stays <= ``max_error``; (0, inf) when even the most confident is wrong (``strings.operating_point``,
    the rule the served threshold is chosen by)."""
    return operating_point(confidences, correct, max_error)


def risk_coverage_area(confidences, correct) -> float:
    """Return the area under the risk-coverage curve of readings ranked by confidence, in [0, 1]: the mean, over
    k = 1..n, of the error among the k most confident (ties in their given order). Lower is better; it is the
    error itself where confidence says nothing (a random order, on average) and below it where errors rank low.
    Every error counts by its rank, where the read rate at 1% error stops at the first one over it, so on 100-400
    readings it moves less with one image (AURC: Geifman, Uziel and El-Yaniv, ICLR 2019, arXiv 1805.08206)."""
    order, wrong = errors_by_rank(confidences, correct)
    return float(np.mean(wrong / np.arange(1, len(order) + 1))) if len(order) else 0.0


def score_strings(name: str, samples, read) -> StringReport:
    """Score (image bytes, label, kind) numbers: ``label`` the text, separators included where known.

    ``read(data)`` reads image bytes as the request path does: a ``recognizer.reader.Reading``, or None where the
    request path refuses them (a 4xx)."""
    rows = []  # (digits right, text right or None, lcs, longer, confidence, flagged, kind)
    for data, label, kind in samples:
        reading = read(data)
        digits = digits_of(label)
        number = reading.number if reading else ""
        text = reading.answer_text if reading else ""
        confidence = reading.to_json()["confidence"] if reading and not reading.not_a_digit else 0.0
        rows.append(
            (
                number == digits,
                None if label == digits and kind == "real" else text == label,
                _common_subsequence(number, digits),
                max(len(number), len(digits)),
                confidence,
                reading is None or bool(reading.low_confidence),
                kind,
            )
        )
    right = np.array([r[0] for r in rows], bool)
    texts = [r[1] for r in rows if r[1] is not None]
    flagged = np.array([r[5] for r in rows], bool)
    rate, threshold = read_rate([r[4] for r in rows], right)
    kinds = sorted({r[6] for r in rows})
    return StringReport(
        name,
        len(rows),
        float(right.mean()),
        sum(r[2] for r in rows) / max(1, sum(r[3] for r in rows)),
        float(np.mean(texts)) if texts else None,
        rate,
        threshold,
        float((~right[~flagged]).mean()) if (~flagged).any() else 0.0,
        float((~flagged).mean()),
        {k: float(np.mean([r[0] for r in rows if r[6] == k])) for k in kinds} if len(kinds) > 1 else {},
        risk_coverage_area([r[4] for r in rows], right),
    )


def orand_samples(name: str = "orand_car_a_val", limit: int | None = None):
    """Yield (JPEG bytes, digits, "real") cheque amounts of ``name`` (``orand_car_a_val``: never trained on)."""
    images, labels, _ = load_realworld(name)
    for data, label in list(zip(images, labels))[:limit]:
        yield data, str(label), "real"


def synthetic_number_samples(count: int = 500, seed: int = EVAL_SEED + 21):
    """Yield ``count`` held-out synthetic numbers (``synth.strings.number_images``): MNIST test digits, the
    evaluation's fonts, a seed apart from training's; (image bytes, text, scene kind)."""
    from synth.strings import number_images

    _, (x_test, y_test) = load_mnist()
    yield from number_images(count, seed, (x_test, y_test), part="eval")
