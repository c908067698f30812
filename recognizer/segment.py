"""Segmentation: the strokes of an image -> units left to right -> candidate digits (28x28 each).

Which spans of units are digits is for the network to say (``recognizer.read.predict_image``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from recognizer.decode import EmptyImageError, TooMuchWorkError
from recognizer.lines import CleanInk, clean_ink, is_cell
from recognizer.normalize import (
    INK_THRESHOLD,
    PHOTO_SPECK_FRACTION,
    SPECK_FRACTION,
    find_strokes,
    to_mnist_box,
)

# Segmenting (segment). Components whose horizontal extents overlap by this share of
# the narrower one (at least MERGE_MIN_WIDTH line heights wide, so a thin 1 is not swallowed by a
# neighbour) are one unit: the two strokes of a 4, the bar and body of a 5.
MERGE_OVERLAP = 0.5
MERGE_MIN_WIDTH = 0.3
# A unit wider than this many times its height (at least SPLIT_MIN_HEIGHT line heights) may be
# touching digits: it is sliced at its columns of least ink into round(width / (DIGIT_ASPECT *
# height)) units, each cut within CUT_WINDOW of a slice's width of where even slices would end, at a column
# the ink crosses once (a joint) rather than twice (inside a loop) where the window has one.
# 11% of MNIST digits are wider than tall (20,000 training digits), so the network decides.
SPLIT_ASPECT = 1.1
SPLIT_MIN_HEIGHT = 0.8
DIGIT_ASPECT = 0.75
CUT_WINDOW = 0.3
# An image this many times wider than tall holds a number (a cheque's amount, the page's 2:1 number canvas), not
# one digit: the segments do not read it as one digit (WHOLE_DIGIT, read.EXTRA_DIGIT_COST), and mode auto sends
# a line of ink this wide to the string reader (recognizer.reader).
NUMBER_ASPECT = 1.5
# A digit is read from at most MAX_SPAN consecutive units spanning at most MAX_DIGIT_WIDTH line
# heights, with gaps between them of at most MAX_JOIN_GAP line heights: the pieces of a broken
# digit nearly touch, while separate digits leave a visible gap.
MAX_SPAN = 3
MAX_DIGIT_WIDTH = 1.6
MAX_JOIN_GAP = 0.25
# WHOLE_DIGIT: in an image of one digit (the page's square canvas, a cell, a scan; not NUMBER_ASPECT wide), the
# span of all its units is read too, whatever its width and gaps: a flat 5 wider than MAX_DIGIT_WIDTH was sliced in
# two and both halves skipped as "not a digit" (MNIST test 7195; docs/experiments.md, 2026-12-02). One span more:
# a batch of at most 3 * MAX_UNITS + 1.
# A mark under this share of the line height is punctuation (a decimal point, a comma, the dash of "1,250-"),
# never a digit: MNIST's normalisation scales every mark to the same 20 px box, so the network cannot see
# that it is small, and a hooked dash reads as a 7 or a 2. Digits written in one number differ in height by
# far less (a 1 with a flag and a 0 stay within about 0.7-1.3 of each other).
MIN_DIGIT_HEIGHT = 0.35
# In a photo of a cell or a box (recognizer.lines.is_cell), a mark whose bounding box is under CELL_MIN_MARK
# of the shorter side on both axes is a speck of noise or paper texture, not a digit.
CELL_MIN_MARK = 0.15
# The finding of an image whose only marks are lines, a border or specks: said without "No digit found", which the
# page shows as its headline above it.
NO_DIGIT_FOUND = "The image holds no digit, only lines, a border or specks of noise (an empty cell or box)."
# Bounds on the work of one image, checked before the work: at most MAX_STROKES strokes (after specks
# are dropped) are grouped, by a loop quadratic in their number (a few ms at the bound), and at most
# MAX_UNITS units are read (3 spans each at most, and the whole: a batch of at most 73). Past either, the image
# is refused with TooMuchWorkError (HTTP 422), never cut silently.
MAX_STROKES = 200
MAX_UNITS = 24


@dataclass
class Digit:
    """One candidate digit of an image, rendered by ``Segmentation.render``."""

    image: np.ndarray  # (28, 28) float32 in [0, 1], ink = 1: MNIST-normalised, the network's input
    box: tuple[int, int, int, int]  # (x, y, width, height) of its ink in the source image, pixels


@dataclass
class Unit:
    """A piece of writing: a group of strokes that overlap horizontally, or a slice of a wide group."""

    x0: int  # bounding box in the image, pixels; x1 and y1 exclusive
    x1: int
    y0: int
    y1: int
    ink: np.ndarray  # (y1 - y0, x1 - x0) float32 in [0, 1]: this unit's own ink only


@dataclass
class Segmentation:
    """The units of an image, left to right, and the spans of them that may be one digit.

    Which spans are digits is for the network to say (``recognizer.read.predict_image`` keeps the
    reading with the highest total log-probability): a broken 0 is two units read best as one
    digit, two touching digits one wide group read best as two slices.
    """

    units: list[Unit]
    line_height: int
    shape: tuple[int, int] = (0, 0)  # (H, W) of the image, pixels
    number: bool = False  # the image is wide enough to hold a number (NUMBER_ASPECT)

    def looks_like_one_digit(self) -> bool:
        """Whether the image looks like one digit: not a number (``number``) and its ink no wider than tall, as
        89% of MNIST's digits are (``recognizer.read.EXTRA_DIGIT_COST``)."""
        if self.number or not self.units:
            return False
        width = max(u.x1 for u in self.units) - min(u.x0 for u in self.units)
        height = max(u.y1 for u in self.units) - min(u.y0 for u in self.units)
        return width <= height

    def spans(self) -> list[tuple[int, int]]:
        """Return the (first, last) unit spans that could be one digit: every unit, and runs of up to
        MAX_SPAN units no wider than MAX_DIGIT_WIDTH line heights with no gap over MAX_JOIN_GAP; in an image
        of one digit (not ``number``), all its units too (WHOLE_DIGIT)."""
        spans = []
        for first in range(len(self.units)):
            right = self.units[first].x1
            for last in range(first, min(first + MAX_SPAN, len(self.units))):
                unit = self.units[last]
                too_far = unit.x0 - right > MAX_JOIN_GAP * self.line_height
                too_wide = max(right, unit.x1) - self.units[first].x0 > MAX_DIGIT_WIDTH * self.line_height
                if last > first and (too_far or too_wide):
                    break
                spans.append((first, last))
                right = max(right, unit.x1)
        whole = (0, len(self.units) - 1)
        if not self.number and whole not in spans:  # one digit, however wide (WHOLE_DIGIT)
            spans.append(whole)
        return spans

    def too_short(self, digit: Digit) -> bool:
        """Whether a rendered span is too short for the line to be a digit (``MIN_DIGIT_HEIGHT``): punctuation."""
        return digit.box[3] < MIN_DIGIT_HEIGHT * self.line_height

    def render(self, first: int, last: int) -> Digit:
        """Normalise the units ``first..last`` together as one MNIST digit, with its bounding box in the image."""
        units = self.units[first : last + 1]
        x0, x1 = min(u.x0 for u in units), max(u.x1 for u in units)
        y0, y1 = min(u.y0 for u in units), max(u.y1 for u in units)
        canvas = np.zeros((y1 - y0, x1 - x0), np.float32)
        for u in units:
            region = canvas[u.y0 - y0 : u.y1 - y0, u.x0 - x0 : u.x1 - x0]
            np.maximum(region, u.ink, out=region)
        strokes = canvas > INK_THRESHOLD
        rows = np.flatnonzero(strokes.any(axis=1))
        cols = np.flatnonzero(strokes.any(axis=0))
        crop = canvas[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        return Digit(to_mnist_box(crop), (x0 + int(cols[0]), y0 + int(rows[0]), crop.shape[1], crop.shape[0]))


def segment(grey: np.ndarray, clean: CleanInk | None = None) -> Segmentation:
    """Cut an image of one digit or of a number written left to right into units.

    ``grey``: float (H, W) in [0, 1], either polarity. Lines and borders are erased first
    (``recognizer.lines.remove_lines``, which in a near-square photo, a cell, also takes what is left of
    its border). The strokes (``find_strokes``) that overlap
    horizontally by ``MERGE_OVERLAP`` of the narrower one are one unit (the two strokes of a 4);
    a unit wider than ``SPLIT_ASPECT`` times its height (at least ``SPLIT_MIN_HEIGHT`` line heights) may be touching
    digits, so it is sliced at its columns of least ink into round(width / (DIGIT_ASPECT * height))
    units, which the network may read back together. Units with no stroke pixel are dropped.
    ``clean``: ``lines.clean_ink(grey)`` where the caller has it (auto mode), else made here.
    Raises EmptyImageError when there is no ink, and TooMuchWorkError for more than ``MAX_STROKES``
    strokes or ``MAX_UNITS`` units (or more than ``normalize.MAX_RUNS`` runs of ink).
    """
    if clean is None:
        clean = clean_ink(grey)
        ink, found = clean.ink, clean.found  # made here for this call alone
    else:
        # find_strokes erases specks in place: work on copies, so the shared stage stays as it was made.
        ink, found = clean.ink.copy(), replace(clean.found, labels=clean.found.labels.copy())
    photo, erased = clean.photo, clean.erased
    try:
        found, kept = find_strokes(ink, PHOTO_SPECK_FRACTION if photo else SPECK_FRACTION, found)
    except EmptyImageError:
        if erased:  # there was ink, and all of it was lines or a border
            raise EmptyImageError(NO_DIGIT_FOUND) from None
        raise
    if len(kept) > MAX_STROKES:
        raise TooMuchWorkError(
            f"The image has {len(kept):,} separate marks; a drawing of digits has at most {MAX_STROKES}. "
            "Send a drawing or a photo of the digits alone."
        )
    return _cut(ink, found, kept, photo)


def _cut(ink: np.ndarray, found, kept, photo: bool) -> Segmentation:
    """Group the kept strokes of ``ink`` (float32 (H, W) in [0, 1]) into units and slice the wide ones.

    ``found``, ``kept``: ``find_strokes`` of that ink. Raises EmptyImageError when a cell holds only specks,
    TooMuchWorkError past ``MAX_UNITS``.
    """
    labels = found.labels
    if is_cell(ink.shape, photo):
        # A photo of a cell or a box: its noise specks are small for the cell, whatever the largest mark is.
        least = CELL_MIN_MARK * min(ink.shape)
        kept = [k for k in kept if max(found.boxes[k][2], found.boxes[k][3]) >= least]
        if not kept:
            raise EmptyImageError(NO_DIGIT_FOUND)
    # label -> its edges (x0, x1, y0, y1), x1 and y1 exclusive: what the sweep below compares
    boxes = {int(k): (int(x), int(x + w), int(y), int(y + h)) for k in kept for x, y, w, h in [found.boxes[k]]}
    kept = list(boxes)
    line_height = max(y1 - y0 for _, _, y0, y1 in boxes.values())

    # Union-find over components that overlap horizontally.
    parent = {k: k for k in kept}

    def root(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    order = sorted(kept, key=lambda k: boxes[k][0])
    for i, a in enumerate(order):
        ax0, ax1 = boxes[a][:2]
        for b in order[i + 1 :]:
            bx0, bx1 = boxes[b][:2]
            if bx0 >= ax1:
                break
            overlap = min(ax1, bx1) - bx0
            if overlap >= MERGE_OVERLAP * max(min(ax1 - ax0, bx1 - bx0), MERGE_MIN_WIDTH * line_height):
                parent[root(b)] = root(a)
    groups: dict[int, list[int]] = {}
    for k in kept:
        groups.setdefault(root(k), []).append(k)

    units = []
    for members in groups.values():
        x0 = min(boxes[k][0] for k in members)
        x1 = max(boxes[k][1] for k in members)
        y0 = min(boxes[k][2] for k in members)
        y1 = max(boxes[k][3] for k in members)
        crop = ink[y0:y1, x0:x1]
        if len(groups) > 1:  # another group's strokes may reach into this box: leave them out
            window = labels[y0:y1, x0:x1]
            crop = np.where((window > 0) & ~np.isin(window, members), 0.0, crop).astype(np.float32)
        for c0, c1 in _split_columns(crop, line_height):
            if (crop[:, c0:c1] > INK_THRESHOLD).any():  # a slice of faint ink only has nothing to read
                units.append(Unit(x0 + c0, x0 + c1, y0, y1, crop[:, c0:c1]))
        if len(units) > MAX_UNITS:
            raise TooMuchWorkError(
                f"The image has more than {MAX_UNITS} marks (digits, separators or pieces of a long line); "
                f"send a number of at most {MAX_UNITS} digits."
            )
    units.sort(key=lambda u: u.x0 + u.x1)
    return Segmentation(units, line_height, ink.shape, ink.shape[1] >= NUMBER_ASPECT * ink.shape[0])


def _split_columns(crop: np.ndarray, line_height: int) -> list[tuple[int, int]]:
    """Return the column ranges of the slices of one group, cutting a wide group at its thinnest columns.

    Columns the ink crosses at most once come first: inside a loop every column is crossed twice by thin
    strokes, which is less ink than the joint of two chained 0s, where their sides meet. The ranges are
    non-empty and cover 0..width; at most MAX_UNITS + 1 of them (more are refused anyway).
    """
    height, width = crop.shape
    height = max(height, SPLIT_MIN_HEIGHT * line_height)
    if width <= SPLIT_ASPECT * height or width < 2:
        return [(0, width)]
    pieces = min(max(2, round(width / (DIGIT_ASPECT * height))), width, MAX_UNITS + 1)
    profile = crop.sum(axis=0)
    # A column where the ink is crossed twice or more lies inside a loop (a 0 of "000" written in one stroke):
    # cut there only when no column of the window is crossed once (the joint between two digits).
    strokes = crop > INK_THRESHOLD
    crossings = np.count_nonzero(strokes[1:] & ~strokes[:-1], axis=0) + strokes[0]
    profile = profile + np.where(crossings >= 2, profile.max() + 1.0, 0.0)
    cuts = [0]
    for i in range(1, pieces):
        centre = i * width / pieces
        lo = max(cuts[-1] + 1, int(centre - CUT_WINDOW * width / pieces))
        hi = min(width - 1, int(centre + CUT_WINDOW * width / pieces))
        cut = lo + int(np.argmin(profile[lo : hi + 1])) if hi >= lo else int(centre)
        if cuts[-1] < cut < width:
            cuts.append(cut)
    cuts.append(width)
    return list(zip(cuts[:-1], cuts[1:]))
