"""The string reader: a line of handwritten digits read whole by a CTC network, served by LiteRT.

    grey -> ``line.find_lines`` (candidate lines, 32 px tall) -> network: (1, 32, W, 1) -> (1, W/4, 15) probabilities
        -> ``ctc.best_path`` -> text, digits with their boxes and probabilities -> the surest candidate's Reading

The network is ``digit_strings.tflite``, converted from ``digit_strings.keras`` (``python model.py
train-strings``; ``training/strings.py`` says how it is built and trained).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from recognizer.backends import LiteRTBackend, ModelLoadError, ModelOutputError
from recognizer.ctc import NUM_STRING_CLASSES, Character, best_path, digits_probability, text_of
from recognizer.finer import finer_lines
from recognizer.line import LINE_HEIGHT, LINE_STRIDE, Line, find_lines
from recognizer.lines import CleanInk, clean_ink
from recognizer.mnist import NUM_DIGITS, ROOT
from recognizer.normalize import INK_THRESHOLD, to_mnist_box
from recognizer.read import Prediction, Reading
from recognizer.spacing import true_runs

STRING_MODEL_PATH = ROOT / "digit_strings.tflite"
# A reading whose digits' probability (``ctc.digits_probability``) is under the threshold is flagged
# low_confidence. The model's record (digit_strings.json, beside it) holds the threshold chosen when it was
# trained: the operating point at which at most 1% of the texts read are wrong, on real training amounts kept
# out of training (``training.strings.choose_threshold``). This default serves a model without a record.
STRING_THRESHOLD = 0.5
MAX_STRING_ERROR = 0.01  # the string error a cheque reader is run at (issue 21: 65-85% read at about 1% misread)
# Blank columns read after a line by a reader with a recurrent layer (its record's ``config.recurrent`` > 0). In
# training each line of a batch is padded with blank to the batch's widest, so the backward LSTM starts its reading
# over blank paper; a line read alone without it loses its last digit (docs/experiments.md, 2026-12-07).
RECURRENT_PADDING = 64  # px, a multiple of line.LINE_STRIDE: 16 frames, dropped from the output


def operating_point(confidences, correct, max_error: float = MAX_STRING_ERROR) -> tuple[float, float]:
    """The operating point of a reader that rejects its least confident readings: (share read, threshold).

    ``confidences``: (n,) floats, any scale; ``correct``: (n,) bools. The readings are taken from the most
    confident down for as long as the error among those taken stays <= ``max_error`` (a cheque reader's 1%);
    returns the share taken and the confidence of the last one taken, or (0, inf) where even the most confident
    is wrong. Training chooses the served threshold with it, and the evaluation reports the read rate with it."""
    order, wrong = errors_by_rank(confidences, correct)
    ok = np.flatnonzero(wrong <= max_error * np.arange(1, len(order) + 1))
    if ok.size == 0:
        return 0.0, float("inf")
    return float((ok[-1] + 1) / len(order)), float(np.asarray(confidences, np.float64)[order][ok[-1]])


def errors_by_rank(confidences, correct) -> tuple[np.ndarray, np.ndarray]:
    """Rank readings from the most confident down (ties in their given order): (order, wrong), ``wrong[k]`` the
    errors among the k + 1 most confident. ``confidences``: (n,) floats; ``correct``: (n,) bools."""
    order = np.argsort(-np.asarray(confidences, np.float64), kind="stable")
    return order, np.cumsum(~np.asarray(correct, bool)[order])


class StringReader:
    """Read a line of digits whole: ``read(grey)`` or ``read_line(line)`` -> Reading (``reader`` "strings").

    ``backend``: one network, or a list of networks trained apart (a committee): each reads the line, and the
    digits with the most probability summed over the networks win (a vote weighted by each network's digits'
    probability, ``ctc.digits_probability``: string-level voting, as ROVER does for speech, Fiscus 1997). CTC
    readers cannot be averaged frame by frame: each marks a character by a spike on frames of its own
    (docs/experiments.md, 2026-12-05).

    ``photos``: another StringReader for the lines found in photos and scans (``line.Line.photo``), with its own
    networks and threshold; None: this one reads every line. Drawings and photos are different inputs, and a reader
    trained further on real scanned amounts reads them better while reading drawn numbers worse (docs/experiments.md,
    2026-12-06).

    ``finer``: a small photo's lines are found again finer before they are read (``finer.finer_lines``), as the
    reader was trained (its record's ``config.lines`` is "finer"); False: read as ``line.find_lines`` finds them.

    ``padding``: blank columns read after each line (a multiple of ``line.LINE_STRIDE``; their frames are dropped
    from the output): ``RECURRENT_PADDING`` for a recurrent reader (``as_trained``), else 0."""

    name = "strings"

    def __init__(
        self,
        backend,
        threshold: float = STRING_THRESHOLD,
        photos: StringReader | None = None,
        finer: bool = False,
        padding: int = 0,
    ):
        if padding < 0 or padding % LINE_STRIDE:
            raise ValueError(f"padding must be a non-negative multiple of {LINE_STRIDE} px, not {padding}")
        self.backends = list(backend) if isinstance(backend, (list, tuple)) else [backend]
        self.threshold = threshold
        self.photos = photos
        self.finer = finer
        self.padding = padding

    @property
    def backend(self):
        """The first network (the committee's first member)."""
        return self.backends[0]

    def read(self, grey: np.ndarray, clean: CleanInk | None = None) -> Reading:
        """Find the line in a grey image (float32 (H, W) in [0, 1]) and read it; boxes in its pixels.
        ``clean``: its ``lines.clean_ink``, where the caller made it already.

        Raises recognizer.decode.PreprocessingError as ``line.find_lines`` does, ModelOutputError as
        ``read_line``."""
        clean = clean_ink(grey) if clean is None else clean
        return self.read_found(grey, clean, find_lines(grey, clean=clean))

    def read_found(self, grey: np.ndarray, clean: CleanInk, lines: list[Line]) -> Reading:
        """Read the ``lines`` found in ``grey`` (float32 (H, W) in [0, 1]; ``clean`` its ``lines.clean_ink``), a
        small photo's found again finer first where this reader was trained so (``finer``); boxes in ``grey``'s
        pixels. Raises as ``read_lines``."""
        if not self.finer:
            return self.read_lines(lines)
        fine, lines = finer_lines(grey, clean, lines)
        reading = self.read_lines(lines)
        if fine is not grey:
            reading = reading.scaled(grey.shape[1] / fine.shape[1], grey.shape[0] / fine.shape[0])
        return reading

    def read_lines(self, lines: list[Line]) -> Reading:
        """Read each candidate line (``line.find_lines``: at most ``line.SEEDS``, so at most that many network
        runs) and return the surest reading that holds a digit: the highest digits' probability
        (``ctc.digits_probability``); the first line's reading where none holds a digit. Raises ModelOutputError as
        ``read_line``; ValueError for no lines."""
        if not lines:
            raise ValueError("read_lines needs at least one line")
        readings = [self.read_line(line) for line in lines]
        with_digits = [reading for reading in readings if reading.digits]
        if not with_digits:
            return readings[0]
        return max(with_digits, key=lambda reading: reading.string_confidence)  # the first (most ink) on a tie

    def read_line(self, line: Line) -> Reading:
        """Read a found line: its text, each digit's probabilities and box, separators as skipped marks.

        With several networks, each reads the line and the digits with the largest summed digits' probability
        win; the reading returned is the surest network's among those that read them, and its
        ``string_confidence`` is that sum over all the networks' count, in [0, 1]: the mean probability, a
        network that read other digits counting 0. One network: its own reading and probability. A line of a
        photo goes to ``photos`` where there is one. Raises ModelOutputError when a network's output is not
        (1, W/4, 15) probabilities."""
        if line.photo and self.photos is not None:
            return self.photos.read_line(line)
        readings = [self._read_line(backend, line) for backend in self.backends]
        if len(readings) == 1:
            return readings[0]
        votes: dict[str, float] = {}
        for reading in readings:
            votes[reading.number] = votes.get(reading.number, 0.0) + reading.string_confidence
        number = max(votes, key=votes.get)  # the first network's digits on a tie
        chosen = max((r for r in readings if r.number == number), key=lambda r: r.string_confidence)
        chosen.string_confidence = votes[number] / len(readings)
        chosen.string_flagged = chosen.string_confidence < self.threshold
        return chosen

    def _read_line(self, backend, line: Line) -> Reading:
        frames = line.image.shape[1] // LINE_STRIDE
        image = np.pad(line.image, ((0, 0), (0, self.padding))) if self.padding else line.image
        probabilities = backend.predict(image[np.newaxis, :, :, np.newaxis])
        problem = check_string_output(probabilities, frames + self.padding // LINE_STRIDE)
        if problem:
            raise ModelOutputError(f"The string model {problem}.")
        characters, _ = best_path(probabilities[0, :frames])
        confidence = digits_probability(characters)
        digits, skipped = [], []
        edges = character_columns(line.image, characters)
        for character, first, last in zip(characters, edges[:-1], edges[1:]):
            box = line.columns_to_box(first, last - 1)
            x, y, w, h = box
            mark = Prediction(
                character.probabilities[:NUM_DIGITS].copy(),
                float(max(0.0, 1.0 - character.probabilities[:NUM_DIGITS].sum())),
                to_mnist_box(line.ink[y : y + h, x : x + w]),
                box,
                character.is_digit,
            )
            (digits if character.is_digit else skipped).append(mark)
        if not characters:  # nothing read: the whole line is the mark most like a digit
            x, y, w, h = line.box
            skipped.append(
                Prediction(
                    np.zeros(NUM_DIGITS, np.float32), 1.0, to_mnist_box(line.ink[y : y + h, x : x + w]), line.box, False
                )
            )
        return Reading(
            digits,
            skipped,
            reader=self.name,
            text=text_of(characters),
            string_confidence=confidence,
            string_flagged=confidence < self.threshold,
        )


def character_columns(image: np.ndarray, characters: list[Character]) -> list[int]:
    """Split a line's columns among the characters read (``ctc.best_path``): the edges (len(characters) + 1 ints,
    line pixels).

    Where the line's ink falls into as many runs of inked columns (marks apart) as there are characters, or as there
    are digits, and each such character's spike lies on its run (within a frame), they are matched in order: each
    such character gets its run, a separator between two digits the gap between their runs. On cheque amounts the
    counts often agree by chance (two digits joined, a speck of the printed stripes beside), and boxes matched by
    count alone fell on the specks (docs/experiments.md, "Digit boxes on cheque amounts"). Otherwise the spikes
    place the cuts: CTC marks each character by a spike of one or two frames (Graves et al., 2006), usually over
    part of the character only (a drawn 1 at columns 41-81 spiked at 69-78), so the spikes alone make boxes too
    narrow; each cut between two neighbours is a column with the least ink between their spikes (the middle of the
    run of such columns nearest the middle of the two: a gap, or where touching digits are thinnest). In a loop (a
    0, a 6) that column may lie inside the digit, and a separator read in the middle of a number of 8 digits put
    every box after it on the wrong digit (a stranger's "20261985", 2026-12-06): hence the runs first. The first
    character starts at column 0, the last ends at the line's width. ``image``: (LINE_HEIGHT, W) ink, float or
    uint8. O(W) for the whole line."""
    width = image.shape[1]
    starts, ends = true_runs((np.asarray(image, np.float32) > INK_THRESHOLD).any(axis=0))  # the marks' columns
    marks = list(zip(starts.tolist(), ends.tolist()))
    centres = [(c.first + c.last + 1) * LINE_STRIDE / 2 for c in characters]  # each spike's centre column
    for owners in ([True] * len(characters), [c.is_digit for c in characters]):
        owned = [centre for centre, owns in zip(centres, owners) if owns]
        if (
            characters
            and len(owned) == len(marks)
            and all(start - LINE_STRIDE <= centre <= end + LINE_STRIDE for centre, (start, end) in zip(owned, marks))
        ):
            return _edges_from_runs(marks, owners, width)
    profile = image.sum(axis=0)
    inked = np.flatnonzero(profile > 0)
    start, end = (int(inked[0]), int(inked[-1])) if inked.size else (0, width - 1)  # no cut in the empty pad
    edges = [0]
    for left, right in zip(centres[:-1], centres[1:]):
        lo, hi = int(np.clip(np.ceil(left), start, end)), int(np.clip(np.floor(right), start, end))
        if hi <= lo:
            edges.append(max(edges[-1], int(round((left + right) / 2))))
            continue
        window = profile[lo : hi + 1]
        emptiest = np.flatnonzero(window <= window.min() + 1e-6)
        runs = np.split(emptiest, np.flatnonzero(np.diff(emptiest) > 1) + 1)  # contiguous runs of the least ink
        run = min(runs, key=lambda r: abs((r[0] + r[-1]) / 2 - (hi - lo) / 2))  # the run nearest the middle
        edges.append(max(edges[-1], lo + int(run[len(run) // 2])))
    edges.append(width)
    return edges


def _edges_from_runs(runs: list[tuple[int, int]], owners: list[bool], width: int) -> list[int]:
    """Edges (len(owners) + 1) giving each owning character its run, in order, and each other character the gap
    between the runs of its neighbours; two neighbours meet halfway between where one ends and the next starts."""
    spans, taken = [], 0
    for owns in owners:
        if owns:
            spans.append(runs[taken])
            taken += 1
        else:  # from the end of the last run taken to the start of the next
            spans.append((runs[taken - 1][1] if taken else 0, runs[taken][0] if taken < len(runs) else width))
    edges = [0]
    for (_, end), (start, _) in zip(spans[:-1], spans[1:]):
        edges.append(max(edges[-1], (end + start) // 2))
    edges.append(width)
    return edges


def check_string_output(probabilities: np.ndarray, frames: int) -> str | None:
    """Return what is wrong with the string network's output for a line of ``frames`` frames, or None."""
    probabilities = np.asarray(probabilities)
    if probabilities.shape != (1, frames, NUM_STRING_CLASSES):
        return f"gives output of shape {probabilities.shape}, not (1, {frames}, {NUM_STRING_CLASSES}) probabilities"
    if not np.all(np.isfinite(probabilities)):
        return "gives NaN or infinite outputs"
    if probabilities.min() < -1e-6 or np.abs(probabilities.sum(axis=2) - 1).max() > 1e-3:
        return "gives outputs that are not probabilities (each frame must sum to 1)"
    return None


def load_string_reader(path=STRING_MODEL_PATH, threshold: float | None = None) -> StringReader:
    """Load the string network(s) with LiteRT and check each on a blank line and a line with a stroke.

    The model's record (``<model>.json``) may name a committee (``"committee": {"members": [file names beside
    it], "threshold": ...}``, written by ``python model.py train-strings``): then every member is loaded and they
    vote (``StringReader``). It may also name the reader of photos and scans (``"photos": "<file name beside
    it>"``, written by ``python model.py serve-strings-for-photos``), loaded the same way from its own record (its
    own threshold; a ``photos`` there is not followed). ``threshold``: the low_confidence operating point of the
    drawings' reader; default the committee's, else the record's, else ``STRING_THRESHOLD``. Raises
    ModelLoadError naming the file and the command that rebuilds it."""
    path = Path(path)
    record = _record(path)
    photos = None
    if isinstance(record.get("photos"), str):
        photos = _load_reader(path.parent / record["photos"], _record(path.parent / record["photos"]), None)
    reader = _load_reader(path, record, threshold)
    reader.photos = photos
    return reader


def _record(path: Path) -> dict:
    """The model's record (``<model>.json`` beside it), {} where there is none or it is not a JSON object."""
    try:
        record = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def as_trained(record: dict) -> dict:
    """``StringReader``'s settings for reading as the reader whose record (``<model>.json``) is ``record`` was
    trained: ``finer``, where its ``config.lines`` is "finer" (``training.strings.CONFIG["lines"]``: a small photo's
    lines found again finer, ``finer.finer_lines``); ``padding``, ``RECURRENT_PADDING`` px where its
    ``config.recurrent`` is above 0 (``training.strings.build_string_model``), else 0."""
    config = record.get("config")
    config = config if isinstance(config, dict) else {}
    recurrent = config.get("recurrent")
    return {
        "finer": config.get("lines") == "finer",
        "padding": RECURRENT_PADDING if isinstance(recurrent, int) and recurrent > 0 else 0,
    }


def _load_reader(path: Path, record: dict, threshold: float | None) -> StringReader:
    settings = as_trained(record)  # read as it was trained
    committee = record.get("committee")
    members = [path]
    if isinstance(committee, dict) and committee.get("members"):
        members = [path.parent / str(name) for name in committee["members"]]
        record = committee
    if threshold is None:
        try:
            threshold = float(record["threshold"])
        except (KeyError, TypeError, ValueError):
            threshold = STRING_THRESHOLD
    return StringReader([_load_member(member) for member in members], threshold, **settings)


def _load_member(path: Path) -> LiteRTBackend:
    try:
        backend = LiteRTBackend(path)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{exc} The string reader is rebuilt with `python model.py train-strings`.") from None
    probe = np.zeros((1, LINE_HEIGHT, 64, 1), np.float32)
    probe[0, 4:28, 30:33, 0] = 1.0
    try:
        problem = check_string_output(backend.predict(probe), 16)
    except Exception as exc:  # any failure of the runtime is a broken model file
        problem = f"fails on a (1, 32, 64, 1) line ({type(exc).__name__}: {exc})"
    if problem:
        raise ModelLoadError(f"Model file {path} {problem}: rebuild it with `python model.py train-strings`.")
    return backend
