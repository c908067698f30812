"""Lines of a small photo found again finer: the photo scaled up before its line is found, so that its thresholded ink
is scaled down into the string reader's 32 px line, not up.

A reader trained on lines found this way (``train-strings --lines finer``; its record's ``config.lines`` is
"finer") is served through ``finer_lines`` too, so that it reads the lines it was trained on. Why and what it
measured: docs/experiments.md, 2026-12-06 (sixth and eighth sessions).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from recognizer.decode import WORK_SIDE, PreprocessingError
from recognizer.line import LINE_HEIGHT, Line, find_lines
from recognizer.lines import CleanInk, clean_ink

# A photo's first line shorter than this is found again in the image scaled up: 3x the reader's input.
FINE_LINE_HEIGHT = 3 * LINE_HEIGHT
MAX_FINE_FACTOR = 4


def finer_lines(grey: np.ndarray, clean: CleanInk, lines: list[Line]) -> tuple[np.ndarray, list[Line]]:
    """Return a photo's lines found again in ``grey`` scaled up, where its first line is under ``FINE_LINE_HEIGHT``
    px tall, with the scaled image (float32 (kH, kW) in [0, 1]); otherwise ``grey`` and ``lines`` as they are.

    ``grey``: float32 (H, W) in [0, 1] as ``decode.decode_image`` returns it; ``clean``: its ``lines.clean_ink``;
    ``lines``: its ``line.find_lines``. A photo's ink is thresholded (``normalize.ink_map``): a line shorter than the
    string reader's input is scaled up into it blocky; found in an image scaled up first (Pillow's bicubic, by the
    whole factor k that makes the line ``FINE_LINE_HEIGHT`` tall, at most ``MAX_FINE_FACTOR`` and within
    ``decode.WORK_SIDE``, so the work stays bounded as any decoded image's), the same ink is scaled down into it,
    smooth. A drawing's ink is not thresholded and is left alone. Where the finer image gives no line (too many
    runs of ink, say), the lines found first are kept. Raises nothing of its own."""
    if not lines or not clean.photo or lines[0].box[3] >= FINE_LINE_HEIGHT:
        return grey, lines
    factor = min(MAX_FINE_FACTOR, math.ceil(FINE_LINE_HEIGHT / max(lines[0].box[3], 1)), WORK_SIDE // max(grey.shape))
    if factor < 2:
        return grey, lines
    height, width = grey.shape
    fine = Image.fromarray(np.asarray(grey, np.float32)).resize((width * factor, height * factor), Image.BICUBIC)
    fine = np.clip(np.asarray(fine, np.float32), 0.0, 1.0)
    try:
        return fine, find_lines(fine)
    except PreprocessingError:
        return grey, lines


def served_lines(grey: np.ndarray, finer: bool = True) -> tuple[np.ndarray, list[Line]]:
    """Every candidate line of ``grey`` as a reader trained with ``finer`` reads it: (the image the lines' boxes are
    in, ``line.find_lines``' lines, found again finer where ``finer`` and ``finer_lines`` says so). What training
    makes its lines with, so that they are the lines served. Raises as ``line.find_lines``."""
    clean = clean_ink(grey)
    lines = find_lines(grey, clean=clean)
    return finer_lines(grey, clean, lines) if finer else (grey, lines)


def served_line(grey: np.ndarray, finer: bool = True) -> Line:
    """The first of ``served_lines``: the line with the most ink, as the reader reads it. Raises as
    ``line.find_lines``."""
    return served_lines(grey, finer)[1][0]
