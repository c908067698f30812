"""Measure the recognizer through the request path, on input nobody here made, and print the results table.

Every measurement sends image bytes through ``recognizer.reader.Reader.read``, the path a /predict request
takes (decode, then the segmenting reader or the string reader as ``mode`` "auto" chooses), with the committed
LiteRT models:
- MNIST test: the network alone, and the 10,000 digits drawn as canvases (false "not a digit" flags);
- USPS postal digits (LeCun et al., 1990), never trained on;
- Sudoku cells from phone photos (``sudoku_cells_val``): digit cells read exactly and alone, blank cells
  answered "no digit", candidates cells;
- cheque amounts (``orand_car_a_val``, never trained on): exact, per digit (longest common subsequence), the
  read rate at <= 1% string error and the served ``low_confidence`` flag; held-out synthetic numbers;
- non-digits by kind (``synth.nondigits.non_digit`` with fonts and seeds apart from training's), caught when the
  answer is not a digit or is flagged ``low_confidence`` (``Reading.low_confidence``, the API's flag);
- numbers composed from MNIST test digits; the models' sizes.

    python evaluation.py [--limit N] [--model PATH.tflite] [--strings PATH.tflite]
    # prints the README's Results table (a few minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from datasets import load_mnist, load_realworld, load_usps, to_model_input
from evaluation_strings import (
    EVAL_SEED,
    StringReport,
    orand_samples,
    score_strings,
    synthetic_number_samples,
)
from recognizer import backends
from recognizer.decode import PreprocessingError
from recognizer.mnist import NOT_A_DIGIT, TFLITE_MODEL_PATH
from recognizer.png import encode_png
from recognizer.reader import Reader
from recognizer.strings import load_string_reader
from synth.canvas import canvas_from_mnist, compose_number, encode, mark_on_canvas
from synth.nondigits import NON_DIGIT_KINDS, non_digit
from synth.scenes import photo


@lru_cache(maxsize=1)
def string_reader():
    """The string reader (``recognizer.strings``) at ``$STRING_MODEL`` (a .tflite with its record beside it, set by
    ``--strings``) where set, else the committed one; loaded once."""
    path = os.environ.get("STRING_MODEL")
    return load_string_reader(path) if path else load_string_reader()


def as_reader(reader=None) -> Reader:
    """The request path to measure: a ``recognizer.reader.Reader`` as given, else one built on a digit backend
    (default: the committed LiteRT model) and the committed string reader, as the server builds it."""
    if isinstance(reader, Reader):
        return reader
    return Reader(reader or backends.load_backend(), string_reader())


def read_or_none(data: bytes, reader, mode: str = "auto"):
    """Return the Reading of image bytes through ``as_reader(reader)``, or None when the request path refuses
    them (a 4xx)."""
    try:
        return as_reader(reader).read(data, mode)
    except PreprocessingError:
        return None


@dataclass
class Report:
    """Accuracy through the request path, overall and per class."""

    name: str
    accuracy: float
    per_class: dict  # class -> accuracy
    count: int
    refused: int  # images the pipeline refused (blank)
    flagged: float = 0.0  # share of readings flagged low_confidence

    def format(self) -> str:
        """Return the figures as two lines of text."""
        per_class = "  ".join(f"{k}: {a:.1%}" for k, a in sorted(self.per_class.items()))
        return (
            f"{self.name}: {self.accuracy:.2%} of {self.count} ({self.refused} refused, {self.flagged:.2%} flagged)"
            f"\n  {per_class}"
        )


def _score(name: str, samples, backend) -> Report:
    """Score (image_bytes, label, class) samples, the label compared with the reading's number."""
    correct, seen, refused, flagged = Counter(), Counter(), 0, 0
    for data, label, key in samples:
        seen[key] += 1
        reading = read_or_none(data, backend)
        if reading is None:
            refused += 1
            continue
        correct[key] += reading.number == label
        flagged += reading.low_confidence
    count = sum(seen.values())
    return Report(
        name,
        sum(correct.values()) / count,
        {k: correct[k] / seen[k] for k in sorted(seen)},
        count,
        refused,
        flagged / count,
    )


def evaluate_usps(backend=None, data_dir=None, split: str = "test", limit: int | None = None) -> Report:
    """Score USPS digits sent through the request path, per digit.

    Each 16x16 USPS digit is encoded as a PNG of dark ink on white paper (as scanned), so it
    goes through decoding, polarity detection, cropping, scaling and centring like any request.
    """
    backend = backend or backends.load_backend()
    images, labels = load_usps(data_dir, split)
    if limit:
        images, labels = images[:limit], labels[:limit]
    samples = ((encode_png(255 - image), str(label), int(label)) for image, label in zip(images, labels))
    return _score("USPS test accuracy through the request path", samples, backend)


def evaluate_mnist_canvases(backend=None, limit: int | None = None) -> Report:
    """Score MNIST test digits drawn as transparent canvases (as the page sends them) through the request path."""
    backend = backend or backends.load_backend()
    _, (images, labels) = load_mnist()
    if limit:
        images, labels = images[:limit], labels[:limit]
    samples = ((encode(canvas_from_mnist(image)), str(label), int(label)) for image, label in zip(images, labels))
    return _score("MNIST test digits drawn as canvases", samples, backend)


def mnist_network_accuracy(backend=None) -> float:
    """Return the network's accuracy on the 28x28 MNIST test images themselves (digit columns, argmax)."""
    backend = backend or backends.load_backend()
    _, (images, labels) = load_mnist()
    probabilities = np.concatenate(
        [backend.predict(to_model_input(images[i : i + 500])) for i in range(0, len(images), 500)]
    )
    return float(np.mean(probabilities[:, :NOT_A_DIGIT].argmax(axis=1) == labels))


@dataclass
class SudokuReport:
    """Sudoku cells: digits read exactly and alone, flagged digits, blanks answered "no digit", candidates."""

    digits_exact: float
    digits_flagged: float
    blank_no_digit: float
    candidates_no_digit: float
    counts: tuple  # (digit cells, blank cells, candidates cells)

    def format(self) -> str:
        """Return the figures as text."""
        return (
            f"Sudoku val ({self.counts[0]} digit, {self.counts[1]} blank, {self.counts[2]} candidates cells): "
            f"digits read exactly {self.digits_exact:.1%} (flagged {self.digits_flagged:.1%}); blank cells "
            f'"no digit" {self.blank_no_digit:.1%}; candidates "no digit" {self.candidates_no_digit:.1%}'
        )


def evaluate_sudoku(backend=None, name: str = "sudoku_cells_val", limit: int | None = None) -> SudokuReport:
    """Score the Sudoku cells of ``name`` (measure-only) through the request path.

    A digit cell is right when ``number`` is exactly its digit; a blank or candidates cell when the answer is
    "no digit" (``not_a_digit``, or a 422 for no ink at all).
    """
    backend = backend or backends.load_backend()
    images, labels, groups = load_realworld(name)
    if limit:
        pick = np.random.default_rng(EVAL_SEED).choice(len(images), min(limit, len(images)), replace=False)
        images, labels, groups = [images[i] for i in pick], labels[pick], groups[pick]
    exact, flagged, blank, candidates, counts = 0, 0, 0, 0, Counter()
    for data, label in zip(images, labels):
        reading = read_or_none(data, backend)
        no_digit = reading is None or reading.not_a_digit
        if label.isdigit():
            counts["digit"] += 1
            exact += reading is not None and reading.number == label
            flagged += reading is None or reading.low_confidence
        elif label == "blank":
            counts["blank"] += 1
            blank += no_digit
        else:
            counts["candidates"] += 1
            candidates += no_digit
    return SudokuReport(
        exact / max(counts["digit"], 1),
        flagged / max(counts["digit"], 1),
        blank / max(counts["blank"], 1),
        candidates / max(counts["candidates"], 1),
        (counts["digit"], counts["blank"], counts["candidates"]),
    )


def evaluate_strings(name: str, samples, reader=None, mode: str = "auto") -> StringReport:
    """Score (image bytes, label, kind) numbers through ``as_reader(reader)`` in ``mode`` (``score_strings``)."""
    reader = as_reader(reader)
    return score_strings(name, samples, lambda data: read_or_none(data, reader, mode))


def non_digit_samples(count_per_kind: int = 200, seed: int = EVAL_SEED):
    """Yield (PNG bytes, kind) non-digits made apart from training's: other seeds, the "eval" fonts, and
    MNIST test digits (not training ones) for partial digits; each on a canvas as the page sends it."""
    _, (x_test, y_test) = load_mnist()
    rng = np.random.default_rng(seed)
    for kind in NON_DIGIT_KINDS:
        for _ in range(count_per_kind):
            ink = non_digit(kind, rng, (x_test, y_test), part="eval")
            yield mark_on_canvas(ink, rng), kind


@dataclass
class NonDigitReport:
    """Share of non-digits caught (no digit, or flagged low_confidence), by kind."""

    caught: dict  # kind -> share caught
    count: int

    @property
    def overall(self) -> float:
        """The mean share caught over the kinds."""
        return float(np.mean(list(self.caught.values())))

    def format(self) -> str:
        """Return the figures as text."""
        kinds = "  ".join(f"{k}: {v:.0%}" for k, v in self.caught.items())
        return f"Non-digits caught ({self.count}): {self.overall:.1%}\n  {kinds}"


def evaluate_non_digits(backend=None, count_per_kind: int = 200) -> NonDigitReport:
    """Measure how often non-digits are caught: "no digit" (or a 422 for no ink) or ``low_confidence``."""
    backend = backend or backends.load_backend()
    caught, seen = Counter(), Counter()
    for data, kind in non_digit_samples(count_per_kind):
        reading = read_or_none(data, backend)
        seen[kind] += 1
        caught[kind] += reading is None or reading.low_confidence
    return NonDigitReport({k: caught[k] / seen[k] for k in seen}, sum(seen.values()))


def number_samples(count: int = 500, seed: int = 0, lengths=(2, 6)):
    """Yield ``count`` (PNG bytes, label, length) composed numbers of random lengths from MNIST test digits."""
    _, (x_test, y_test) = load_mnist()
    rng = np.random.default_rng(seed)
    for _ in range(count):
        length = int(rng.integers(lengths[0], lengths[1] + 1))
        picks = rng.integers(0, len(x_test), length)
        image = compose_number([x_test[i] for i in picks], rng)
        yield encode_png(image), "".join(str(y_test[i]) for i in picks), length


def evaluate_numbers(backend=None, count: int = 500, seed: int = 0) -> Report:
    """Score whole numbers of 2 to 6 composed MNIST test digits: right only if every digit is."""
    backend = backend or backends.load_backend()
    return _score("Whole numbers (2-6 MNIST test digits)", number_samples(count, seed), backend)


def photo_samples(count: int = 300, seed: int = 0):
    """Yield ``count`` (jpeg_bytes, label, label) synthetic photos of MNIST test digits."""
    _, (x_test, y_test) = load_mnist()
    rng = np.random.default_rng(seed)
    for i in rng.choice(len(x_test), count, replace=False):
        yield photo(x_test[i], rng), str(y_test[i]), int(y_test[i])


def evaluate_photos(backend=None, count: int = 300, seed: int = 0) -> Report:
    """Score synthetic photos of MNIST test digits on paper through the request path."""
    backend = backend or backends.load_backend()
    return _score("Synthetic photos of MNIST test digits", photo_samples(count, seed), backend)


def results_table(backend=None, limit: int | None = None) -> str:
    """Measure everything and return the README's Results table (Markdown); ``limit`` caps each set."""
    backend = backend or backends.load_backend()
    rows = []

    def row(what, figure, how):
        rows.append(f"| {what} | {figure} | {how} |")
        print(rows[-1], file=sys.stderr, flush=True)

    row("MNIST test, the network alone", f"{mnist_network_accuracy(backend):.2%}", "10,000 digits, 28x28")
    canvases = evaluate_mnist_canvases(backend, limit)
    row("MNIST test drawn as canvases, read right", f"{canvases.accuracy:.2%}", f"{canvases.count:,} canvases")
    row("MNIST test canvases falsely flagged", f"{canvases.flagged:.2%}", "no digit or low_confidence")
    usps = evaluate_usps(backend, limit=limit)
    row("USPS test, read right", f"{usps.accuracy:.2%}", f"{usps.count:,} scans")
    row("USPS falsely flagged", f"{usps.flagged:.2%}", "no digit or low_confidence")
    sudoku = evaluate_sudoku(backend, limit=limit)
    row("Sudoku val digit cells read exactly and alone", f"{sudoku.digits_exact:.1%}", f"{sudoku.counts[0]:,} cells")
    row("Sudoku val digit cells flagged", f"{sudoku.digits_flagged:.1%}", "no digit or low_confidence")
    row('Sudoku val blank cells answered "no digit"', f"{sudoku.blank_no_digit:.1%}", f"{sudoku.counts[1]:,} cells")
    row(
        'Sudoku val candidates cells answered "no digit"',
        f"{sudoku.candidates_no_digit:.1%}",
        f"{sudoku.counts[2]:,} cells",
    )
    reader = as_reader(backend)
    orand = evaluate_strings("orand_car_a_val", orand_samples(limit=limit), reader)
    row("ORAND-CAR-A val amounts read exactly", f"{orand.exact:.1%}", f"{orand.count:,} cheques, never trained on")
    row("ORAND-CAR-A val digits in place", f"{orand.per_digit:.1%}", "longest common subsequence")
    row(
        "ORAND-CAR-A val read at <= 1% string error",
        f"{orand.read_rate:.1%}",
        f"the rest rejected (digits' probability >= {orand.threshold:.5f})",
    )
    row(
        "ORAND-CAR-A val not flagged low_confidence",
        f"{orand.flagged_rate:.1%}",
        f"{orand.flagged_error:.1%} of them wrong (threshold from training's held-out amounts)",
    )
    synthetic = evaluate_strings("synthetic", synthetic_number_samples(min(500, limit or 500)), reader)
    row(
        "Held-out synthetic numbers read exactly",
        f"{synthetic.exact:.1%}",
        f"{synthetic.count} on canvas, paper, photo, scan; text with separators {synthetic.text_exact:.1%}",
    )
    non_digits = evaluate_non_digits(backend, min(200, limit or 200))
    row(
        "Non-digits caught, all kinds",
        f"{non_digits.overall:.1%}",
        f"{non_digits.count:,} marks, fonts and seeds apart",
    )
    for kind, share in non_digits.caught.items():
        row(f"  {kind}", f"{share:.0%}", "caught")
    numbers = evaluate_numbers(backend, min(500, limit or 500))
    row("Numbers of 2-6 MNIST test digits, exact", f"{numbers.accuracy:.1%}", f"{numbers.count} numbers")
    size = Path(getattr(backend, "path", TFLITE_MODEL_PATH)).stat().st_size / 1e6
    little = getattr(backend, "little", None)
    if little is None:
        row("Digit model size (.tflite)", f"{size:.1f} MB", "float32, LiteRT")
    else:
        little_size = Path(little.path).stat().st_size / 1e6
        row("Digit model size (.tflite)", f"{size:.1f} + {little_size:.1f} MB", "float32, and int8 read first, LiteRT")
    networks = string_reader().backends
    size = sum(Path(network.path).stat().st_size for network in networks) / 1e6
    members = f"{len(networks)} networks voting, " if len(networks) > 1 else ""
    row("String model size (.tflite)", f"{size:.1f} MB", f"{members}float32, LiteRT")
    return "| measure | result | on |\n| --- | ---: | --- |\n" + "\n".join(rows)


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="at most this many images of each set")
    parser.add_argument("--model", default=None, help="a .tflite to measure instead of the committed one")
    parser.add_argument(
        "--strings", default=None, help="a string reader's .tflite (its .json beside it) instead of the committed one"
    )
    parser.add_argument(
        "--no-cascade", action="store_true", help="the float32 network alone, without its little int8 file read first"
    )
    args = parser.parse_args(argv)
    if args.strings:
        os.environ["STRING_MODEL"] = args.strings  # string_reader() reads it: every set through that reader
    backend = backends.load_backend("litert", args.model, cascade=not args.no_cascade)
    print(results_table(backend, limit=args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
