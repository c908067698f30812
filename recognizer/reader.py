"""The recognizer seam: image bytes and a mode -> the recognizer that fits -> Reading.

Two recognizers read a decoded grey image into a ``read.Reading``:
    segments   cut the ink into candidate digits and classify each 28x28 (``read.read_segments``): single
               digits, Sudoku cells, a few digits drawn on the canvas
    strings    find the line and read it whole with a CTC network (``strings.StringReader``): numbers

``/predict``, ``/corrections``, ``evaluation.py`` and ``bench`` all call ``Reader.read``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from recognizer.decode import PreprocessingError, decode_image_sized
from recognizer.line import find_lines
from recognizer.lines import CleanInk, clean_ink
from recognizer.read import Reading, read_segments
from recognizer.segment import NUMBER_ASPECT

MODES = ("auto", "digit", "number")
DEFAULT_MODE = "auto"


class Recognizer(Protocol):
    """What reads a decoded image: a name and ``read``."""

    name: str

    def read(self, grey: np.ndarray, clean: CleanInk | None = None) -> Reading:
        """Read a grey image, float32 (H, W) in [0, 1] (either polarity); boxes in its pixels.

        ``clean``: the image's ``lines.clean_ink``, where the caller made it already (a reader may ignore it).
        Raises recognizer.decode.PreprocessingError for an image it cannot read (a client error) and
        recognizer.backends.ModelOutputError when its network's output is not probabilities."""


class SegmentingReader:
    """Today's segment-and-classify pipeline as a Recognizer (``read.read_segments``)."""

    name = "segments"

    def __init__(self, backend):
        self.backend = backend

    def read(self, grey: np.ndarray, clean: CleanInk | None = None) -> Reading:
        return read_segments(grey, self.backend, clean)


class Reader:
    """Choose a recognizer for each image by ``mode`` and read it: the one request path.

    ``digits``: a ``SegmentingReader`` (or the digit backend, wrapped); ``strings``: a
    ``strings.StringReader``, or None to read everything by segments (a digits-only deployment)."""

    def __init__(self, digits, strings=None):
        self.digits = digits if hasattr(digits, "read") else SegmentingReader(digits)
        self.strings = strings

    def read(self, data: bytes, mode: str = DEFAULT_MODE) -> Reading:
        """Read image bytes: the digit or the number in them, boxes in the pixels of the image as sent.

        ``mode``: "digit" reads by segments; "number" reads the line whole (the string reader), and by segments
        where the string reader finds at most one digit (a 7 in number mode was "not sure enough" by the string
        reader's cheque-grade bar, and "over 99.9%" by the segments); "auto" sends
        an image whose line with the most ink (the first of ``line.find_lines``) is at least
        ``segment.NUMBER_ASPECT`` times wider than tall to the string reader (which reads every candidate line)
        and any other to the segments, and falls back to the segments where the string reader finds no line or
        at most one digit (a single digit drawn wide, a ruled line, a smudge: the segmenter reads single digits
        best and answers blanks and marks as it always has). Raises ValueError for another mode, and what the
        recognizers and ``decode.decode_image_sized`` raise."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        grey, (width, height) = decode_image_sized(data)
        reading, clean = None, None
        if mode == "number" and self.strings is not None:
            clean = clean_ink(grey)
            reading = self.strings.read_found(grey, clean, find_lines(grey, clean=clean))
            if len(reading.digits) <= 1:
                reading = None  # a number of one digit, or none: the segments read single digits best, as in auto
        elif mode == "auto" and self.strings is not None:
            try:
                clean = clean_ink(grey)  # made once: the line finder and the segmenter both start from it
                lines = find_lines(grey, clean=clean)
            except PreprocessingError:
                lines = []  # the segmenter answers blank and noisy images with its own words
            # The line with the most ink decides: a digit in a Sudoku cell beside a wide scrap of its grid is a digit.
            if lines and lines[0].box[2] >= NUMBER_ASPECT * lines[0].box[3]:
                reading = self.strings.read_found(grey, clean, lines)
                if len(reading.digits) <= 1:
                    reading = None
        if reading is None:
            reading = self.digits.read(grey, clean)
        return reading.scaled(width / grey.shape[1], height / grey.shape[0])
