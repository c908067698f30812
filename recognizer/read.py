"""Read the digits in an image: the whole request path, bytes -> Reading.

decode (recognizer.decode) -> ink, lines out, segmentation (recognizer.normalize, .segment)
    -> one batch through the network (recognizer.backends) -> the best reading -> JSON
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recognizer.backends import ModelOutputError, check_output
from recognizer.decode import decode_image_sized
from recognizer.lines import CleanInk
from recognizer.mnist import MODEL_NAME, NOT_A_DIGIT, NUM_DIGITS
from recognizer.png import to_png_data_url
from recognizer.segment import Segmentation, segment

# A digit read with a probability under this is flagged "low_confidence": hard to read, or not a digit the
# network could name. Chosen with the 11-class model from evaluation.py's measures of flagged canvases against
# non-digits caught (docs/experiments.md, 2026-12-04).
LOW_CONFIDENCE_THRESHOLD = 0.5
# Skipping a span as "not a digit" costs log(SKIP_COST) a unit on top of log P(not a digit), so a reading
# never drops real digits by calling a whole merged group "not a digit": a mark is skipped when its
# P(not a digit) is far above its best digit's (about 0.97 against 0.03 for one unit; chosen on MNIST test,
# docs/experiments.md, 2026-12-04).
SKIP_COST = 0.03
# An image that looks like one digit (segment.Segmentation.looks_like_one_digit: not a number, its ink no wider
# than tall) holds one digit as a rule: there, each digit read after the first costs log(EXTRA_DIGIT_COST), so a
# digit broken in pieces that each look like a digit (a 1 with a gap read "11", a 2 read "21") is read whole
# unless the pieces are far likelier apart; two clear digits side by side are still read as two
# (docs/experiments.md, 2026-12-02).
EXTRA_DIGIT_COST = 0.3


@dataclass
class Prediction:
    """The network's reading of one mark: a digit, or "not a digit"."""

    probabilities: np.ndarray  # (10,) float32: P(digit k); sums to 1 - not_digit_probability
    not_digit_probability: float  # P(the mark is not a digit), in [0, 1]; 0 for a digits-only model
    preprocessed: np.ndarray  # (28, 28) float32 in [0, 1]: what the network saw
    box: tuple[int, int, int, int]  # (x, y, width, height) of the mark in the image, pixels
    is_digit: bool = True  # whether the reading took the mark as a digit rather than skipping it (SKIP_COST)

    @classmethod
    def from_row(cls, row: np.ndarray, preprocessed: np.ndarray, box, is_digit: bool) -> Prediction:
        """Build from one row of a backend's (N, 11) or (N, 10) output and the reading's verdict on it."""
        row = np.asarray(row, dtype=np.float32)
        not_digit = float(row[NOT_A_DIGIT]) if row.shape[0] > NUM_DIGITS else 0.0
        return cls(row[:NUM_DIGITS], not_digit, preprocessed, tuple(int(v) for v in box), bool(is_digit))

    @property
    def digit(self) -> int:
        """The most probable digit, 0..9 (whether or not the mark is a digit at all)."""
        return int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float:
        """The most probable digit's probability, in [0, 1]."""
        return float(self.probabilities.max())

    @property
    def low_confidence(self) -> bool:
        """Whether this is a digit read with a probability under LOW_CONFIDENCE_THRESHOLD (or no digit)."""
        return not self.is_digit or self.confidence < LOW_CONFIDENCE_THRESHOLD

    def to_json(self) -> dict:
        """Return the mark's JSON: digit, confidence, probabilities, not_digit_probability, box, low_confidence,
        and ``preprocessed``: its 28x28 image as MNIST normalises a digit, a PNG data URL (about 0.3 KB), so a
        page can show each digit of a number beside its chart."""
        return {
            "digit": self.digit,
            "confidence": self.confidence,
            "probabilities": self.probabilities.tolist(),
            "not_digit_probability": self.not_digit_probability,
            "box": list(self.box),
            "low_confidence": self.low_confidence,
            "preprocessed": to_png_data_url(self.preprocessed),
        }


@dataclass
class Reading:
    """Every digit found in one image, left to right, and the marks skipped as not digits.

    A string reader (``recognizer.strings``) also gives the ``text`` read with its separators ("37.50") and
    the probability of its digits (``string_confidence``, ``ctc.digits_probability``), from which
    ``low_confidence`` is set instead.
    """

    digits: list[Prediction]
    skipped: list[Prediction] = field(default_factory=list)
    reader: str = "segments"  # which recognizer read it: "segments" (segment and classify) or "strings"
    text: str | None = None  # the text with its separators; None: the digits alone (``number``)
    string_confidence: float | None = None  # P(digits read), in [0, 1], from a string reader
    string_flagged: bool = False  # the string reader's verdict: string_confidence under its operating point

    def scaled(self, sx: float, sy: float) -> Reading:
        """Return this reading with every box scaled by (sx, sy): from the work image to the image as sent."""
        for mark in (*self.digits, *self.skipped):
            x, y, w, h = mark.box
            mark.box = (round(x * sx), round(y * sy), max(1, round(w * sx)), max(1, round(h * sy)))
        return self

    @property
    def not_a_digit(self) -> bool:
        """Whether nothing in the image was read as a digit."""
        return not self.digits

    @property
    def strongest(self) -> Prediction:
        """The only digit, the most confident of several, or (no digit) the mark most like one."""
        if self.digits:
            return max(self.digits, key=lambda d: d.confidence)
        return min(self.skipped, key=lambda d: d.not_digit_probability)

    @property
    def number(self) -> str:
        """The digits read left to right, e.g. "2026"; one character for a single digit; "" for none."""
        return "".join(str(d.digit) for d in self.digits)

    @property
    def answer_text(self) -> str:
        """The text the API answers: ``text`` with its separators from a string reader, else ``number``."""
        return self.number if self.text is None else self.text

    @property
    def digit(self) -> int | None:
        """The strongest digit, or None when nothing in the image is a digit."""
        return self.strongest.digit if self.digits else None

    @property
    def low_confidence(self) -> bool:
        """The one definition of the flag: no digit at all, or any digit under LOW_CONFIDENCE_THRESHOLD; for a
        string reader's reading, its text's probability under the reader's operating point."""
        if self.string_confidence is not None:
            return self.not_a_digit or self.string_flagged
        return self.not_a_digit or any(d.low_confidence for d in self.digits)

    def to_json(self) -> dict:
        """Return the API's JSON body.

        ``digit``, ``confidence``, ``probabilities``, ``not_digit_probability`` and ``preprocessed`` (a
        PNG data URL of the 28x28 input) describe the strongest digit, as for a single-digit drawing;
        ``digits`` lists every digit left to right with its ``box`` (pixels of the image as sent) and ``number``
        joins them; ``text`` is the number with its separators ("37.50") and ``reader`` the recognizer that read
        it; from the string reader, ``confidence`` is the product of the digits' probabilities
        (``ctc.digits_probability``); ``skipped`` lists the marks judged not digits (separators, dots, lines),
        with their boxes.
        When nothing is a digit: ``not_a_digit`` true, ``digit`` null, ``number`` "" and ``digits`` [],
        the other fields describing the mark most like a digit. ``low_confidence`` is ``Reading.low_confidence``.
        """
        strongest = self.strongest
        digits = [d.to_json() for d in self.digits]
        # The strongest digit's preview is in ``digits`` already (unless none is a digit): its PNG is encoded once.
        shown = next((j for d, j in zip(self.digits, digits) if d is strongest), None)
        preprocessed = shown["preprocessed"] if shown else to_png_data_url(strongest.preprocessed)
        return {
            "digit": self.digit,
            "confidence": strongest.confidence if self.string_confidence is None else self.string_confidence,
            "probabilities": strongest.probabilities.tolist(),
            "not_digit_probability": strongest.not_digit_probability,
            "not_a_digit": self.not_a_digit,
            "low_confidence": self.low_confidence,
            "preprocessed": preprocessed,
            "digits": digits,
            "number": self.number,
            "text": self.answer_text,
            "reader": self.reader,
            "skipped": [{"box": list(d.box), "not_digit_probability": d.not_digit_probability} for d in self.skipped],
        }


def predict_image(data: bytes, backend) -> Reading:
    """Read the digits in image bytes: the whole request path, decode -> segment -> normalise -> network.

    Every span of units that could be one mark (``recognizer.segment.Segmentation.spans``) is
    normalised and read in one (N, 28, 28, 1) batch. The reading kept is the cover of the units by
    spans with the highest sum over units of log-probabilities (dynamic programming): each span is scored
    by a digit or "not a digit" (at ``SKIP_COST`` a unit), once per unit it covers (in an image that looks
    like one digit, each digit after the first also costs ``EXTRA_DIGIT_COST``), so
    fewer, longer spans are not favoured for their fewer terms: a broken digit is read whole,
    touching digits apart, and a separator ("19.950", "1,250-") is a span of its own that is skipped; a
    span shorter than ``segment.MIN_DIGIT_HEIGHT`` of the line height is never read as a digit.
    ``backend``: any ``recognizer.backends.Backend``. Raises recognizer.decode.PreprocessingError (a
    client error) for unreadable, oversized, blank or too costly images, and
    recognizer.backends.ModelOutputError (a server fault) when the backend's output is not
    probabilities (``check_output``), rather than answering NaN.
    """
    grey, (width, height) = decode_image_sized(data)
    return read_segments(grey, backend).scaled(width / grey.shape[1], height / grey.shape[0])


def read_segments(grey: np.ndarray, backend, clean: CleanInk | None = None) -> Reading:
    """Read a decoded grey image (float32 (H, W) in [0, 1]) by segmenting it (``predict_image``).

    ``clean``: the image's ``lines.clean_ink`` where the caller made it already. The boxes are in the grey
    image's pixels. Raises as ``predict_image`` does."""
    return read_segmentation(segment(grey, clean), backend)


def read_segmentation(segmentation: Segmentation, backend) -> Reading:
    """Read the spans of one segmentation in one batch and keep the best cover of its units (``predict_image``):
    the one whose sum over units of the log-probability (floored at log 1e-12 a unit, plus the skip costs) of the
    label given to the span that covers each is the highest. Raises ModelOutputError as ``predict_image`` does.
    """
    spans = segmentation.spans()
    rendered = [segmentation.render(first, last) for first, last in spans]
    probabilities = backend.predict(np.stack([d.image for d in rendered])[:, :, :, np.newaxis])
    problem = check_output(probabilities, len(rendered))
    if problem:
        raise ModelOutputError(f"The model {problem}.")
    widths = np.array([last - first + 1 for first, last in spans])  # units a span covers
    # Every unit is scored, so a span's log-probability counts once per unit it covers: two digits squeezed
    # into one span and read as one digit at 0.3 no longer beat reading them apart at 0.99 and 0.5.
    digit_scores = np.log(np.maximum(probabilities[:, :NOT_A_DIGIT].max(axis=1), 1e-12)) * widths
    # A mark far shorter than the line is punctuation, whatever the network makes of it scaled up to 20 px.
    digit_scores[[segmentation.too_short(d) for d in rendered]] = -np.inf
    not_digit = probabilities[:, NOT_A_DIGIT] if probabilities.shape[1] > NUM_DIGITS else np.zeros(len(spans))
    skip_scores = np.array([_skip_score(p, units) for p, units in zip(not_digit, widths)])
    extra = np.log(EXTRA_DIGIT_COST) if segmentation.looks_like_one_digit() else 0.0
    # best[state][k]: the highest score of a reading of units 0..k-1 and how it ends (span, its label, the
    # previous state); state 1 once a digit has been read, so that each digit after the first costs ``extra``.
    n = len(segmentation.units)
    best = [[(0.0, None)] + [(-np.inf, None)] * n, [(-np.inf, None)] * (n + 1)]
    for index, (first, last) in enumerate(spans):
        for state in (0, 1):
            start = best[state][first][0]
            if start == -np.inf:
                continue
            if digit_scores[index] > -np.inf:
                candidate = start + digit_scores[index] + (extra if state else 0.0)
                if candidate > best[1][last + 1][0]:
                    best[1][last + 1] = (candidate, (index, True, state))
            candidate = start + skip_scores[index]
            if candidate > best[state][last + 1][0]:
                best[state][last + 1] = (candidate, (index, False, state))
    chosen, end = [], n
    state = 1 if best[1][n][0] >= best[0][n][0] else 0
    while end > 0:
        index, is_digit, previous = best[state][end][1]
        chosen.append((index, is_digit))
        end, state = spans[index][0], previous
    marks = [
        Prediction.from_row(probabilities[i], rendered[i].image, rendered[i].box, is_digit)
        for i, is_digit in reversed(chosen)
    ]
    return Reading([m for m in marks if m.is_digit], [m for m in marks if not m.is_digit])


def _skip_score(not_digit_probability: float, units: int) -> float:
    """The log-score of reading a span of ``units`` units as "not a digit" (see SKIP_COST).

    Always finite (the probability is floored at 1e-12, as the digits' are), so every unit can be covered
    and the reading always exists, even where a span may not be a digit (too short) and the network is sure
    it is one (P(not a digit) = 0 in float32, or a digits-only model)."""
    return float(np.log(max(not_digit_probability, 1e-12)) + units * np.log(SKIP_COST))


def model_info(backend) -> dict:
    """Return the model's name, backend and file for /healthz, with ``little_file``, the little network read first
    (``backends.CascadeBackend``), or None where the model is served alone."""
    little = getattr(backend, "little", None)
    return {
        "model": MODEL_NAME,
        "backend": backend.name,
        "file": Path(backend.path).name,
        "little_file": Path(little.path).name if little is not None else None,
    }
