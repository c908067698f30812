"""Find the line of handwriting in an image and normalise it for the string reader.

    grey image -> ink (``normalize.ink_map``) -> ruled lines, borders, margins out (``lines.remove_lines``)
        -> strokes (``normalize.find_strokes``) -> the line: of the lines grown from the largest strokes
        along their row bands, then along the line's slope (in a drawing, along the strokes' slope from the
        start), the one with the most ink -> put on a level baseline -> cropped, scaled to ``LINE_HEIGHT`` px tall
        (at most ``MAX_LINE_WIDTH`` wide)

Training (``training.strings``), evaluation and serving all find lines here, through ``finer.served_lines`` where
a reader was trained on a small photo's lines found again finer, so the network never sees two different
pipelines. The height of 32 px is the usual input of CRNN-style readers (Shi et al., 2017,
"An end-to-end trainable neural network for image-based sequence recognition", arXiv 1507.05717).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from recognizer.decode import NO_INK, EmptyImageError, TooMuchWorkError
from recognizer.lines import CleanInk, clean_ink, margin_marks
from recognizer.normalize import INK_THRESHOLD, PHOTO_SPECK_FRACTION, SPECK_FRACTION
from recognizer.spacing import kept_columns, stretch

LINE_HEIGHT = 32  # px: the string reader's input height
MAX_LINE_WIDTH = 512  # px: the widest line it reads (16 aspect units: a 16-character line at most)
LINE_STRIDE = 4  # px of the line per output frame of the network (two 2x2 poolings)
LINE_PAD = 2  # px of empty margin above, below and on each side of the ink
# A stroke belongs to the line when it overlaps the line's row band (grown by BAND_SLACK of its height) and, in a
# photo or a scan, lies within MAX_GAP band heights of the strokes already taken: a printed word, a margin or a row
# number far to the side stays out, a dot or a comma at the foot of the line stays in. A drawing holds nothing but
# what its writer drew: there every stroke in the band joins, however far (a "1" and a "4" drawn at the two ends of
# the page's number canvas read "4" alone, at over 99.9%), and the gap is shortened (MAX_BLANK) before reading.
BAND_SLACK = 0.25
MAX_GAP = 1.5
MAX_LINE_STROKES = 400  # strokes looked at; more is noise or an attack (the segmenter allows 200 in a digit image)
SEEDS = 4  # strokes, largest first, that each grow a candidate line (the one with the most ink is read)
# A line written uphill or downhill is put on a level baseline before it is read (the reader learnt from lines within
# a few degrees of level; the page's canvas is drawn on, and paper photographed, at any slant), where its marks'
# centres rise or fall by at least MIN_RISE of their height from end to end; marks under MIN_SLOPE_MARK of the median
# height (a 7's bar, a dash) do not set the slope, and a slope is at most MAX_SLOPE (px down per px right).
MIN_RISE = 0.35
MIN_SLOPE_MARK = 0.5
MAX_SLOPE = 2.0
MIN_LEVEL_GAIN = 0.8  # ... and where levelled, they stand at most this share as tall from top to bottom
LEVEL_ROUNDS = 3  # times a drawing's line is grown again along its slope


@dataclass
class Line:
    """A line of handwriting, normalised for the string reader, and where it lies in the image.

    ``image``: float32 (LINE_HEIGHT, W) in [0, 1], ink = 1, W a multiple of LINE_STRIDE, <= MAX_LINE_WIDTH.
    ``ink``: float32 (H, W0) in [0, 1], the line's ink in the work image (other strokes erased), for boxes.
    ``box``: (x, y, width, height) of the line in the work image, pixels; ``scale``: line px per work px.
    ``columns``: int64 (n,), the box's columns (from its left edge, work px) kept in the line, left to right: all
    of them but the part of each empty stretch past ``MAX_BLANK``; None: all.
    ``photo``: the line was found in a photo or a scan (``lines.CleanInk.photo``), not in a drawing.
    """

    image: np.ndarray
    ink: np.ndarray
    box: tuple[int, int, int, int]
    scale: float
    columns: np.ndarray | None = None
    photo: bool = False

    def columns_to_box(self, first: int, last: int) -> tuple[int, int, int, int]:
        """Return the box (x, y, width, height) in the work image of the ink between line columns first..last.

        Columns are in ``image``'s pixels (inclusive); the box is the ink's bounding box in that stretch (the
        line's height where there is none). Used to give each character read a box."""
        x0, y0, width, height = self.box
        kept = width if self.columns is None else len(self.columns)
        left = int(np.clip(np.floor((first - LINE_PAD) / self.scale), 0, kept - 1))
        right = int(np.clip(np.ceil((last + 1 - LINE_PAD) / self.scale), left + 1, kept))
        if self.columns is not None:  # from the kept columns back to the box's own
            left, right = int(self.columns[left]), int(self.columns[right - 1]) + 1
        stretch = self.ink[y0 : y0 + height, x0 + left : x0 + right] > INK_THRESHOLD
        rows = np.flatnonzero(stretch.any(axis=1))
        cols = np.flatnonzero(stretch.any(axis=0))
        if rows.size == 0:
            return (x0 + left, y0, right - left, height)
        return (x0 + left + int(cols[0]), y0 + int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))


def find_line(grey: np.ndarray) -> Line:
    """Find the line of handwriting in a grey image and normalise it: the first of ``find_lines``."""
    return find_lines(grey)[0]


def find_lines(grey: np.ndarray, limit: int = SEEDS, clean: CleanInk | None = None) -> list[Line]:
    """Find the candidate lines of handwriting in a grey image, normalised: 1..``limit`` ``Line``s, most ink first.

    ``grey``: float (H, W) in [0, 1], either polarity (``normalize.ink_map``), as ``decode.decode_image``
    returns it (at most 1024 px a side, so every step is bounded by the image's size); ``clean``: its
    ``lines.clean_ink`` where the caller has it (auto mode shares it with the segmenter). Each of the ``limit``
    largest strokes seeds a candidate line (the same line grown twice is returned once); strokes overlapping its
    row band join it, one at a time, in a photo only those no farther than ``MAX_GAP`` band heights from the
    line's ends (in a drawing, any). Strokes that run along an edge of the image (a scanner's black margin, a
    column rule cut by the crop) never seed it. Raises EmptyImageError when there is no ink and TooMuchWorkError
    for more than ``MAX_LINE_STROKES`` strokes.
    """
    clean = clean_ink(grey) if clean is None else clean
    cleaned, photo, found = clean.ink, clean.photo, clean.found
    if found.count == 0:
        raise EmptyImageError(NO_INK, "write a number, or send a picture of one.")
    boxes = found.boxes[1:].astype(np.int64)  # (n, 4) x, y, w, h of labels 1..n
    areas = found.areas[1:].astype(np.float64)
    margin = margin_marks(boxes, areas, cleaned.shape)
    if margin.all():
        margin[:] = False
    # Specks (noise) are measured against the largest stroke that is not a margin or a rule; they take no part
    # in choosing the line but stay in its ink: a decimal point is a speck, and the reader must see it.
    speck = areas < (PHOTO_SPECK_FRACTION if photo else SPECK_FRACTION) * areas[~margin].max()
    if np.count_nonzero(~speck) > MAX_LINE_STROKES:
        raise TooMuchWorkError(
            f"The image has {np.count_nonzero(~speck):,} separate marks; a line of digits has at "
            f"most {MAX_LINE_STROKES}. Send a photo of the number alone."
        )
    # A photo's specks that a drawing would count as strokes (a dash, a thin 1) carry the line across them.
    bridge = speck & ~margin & (areas >= SPECK_FRACTION * areas[~margin].max()) if photo else np.zeros_like(speck)
    if np.count_nonzero(bridge) > MAX_LINE_STROKES:  # bounded as strokes are: the largest bridge, the rest specks
        kept = np.flatnonzero(bridge)[np.argsort(-areas[bridge], kind="stable")[:MAX_LINE_STROKES]]
        bridge = np.zeros_like(bridge)
        bridge[kept] = True
    margin |= speck
    if margin.all():
        margin = np.zeros_like(speck)
    # Each of the ``limit`` largest strokes grows a line, so a cross or a tick larger than any one digit beside a
    # short number does not hide the number: the string reader reads each candidate and keeps the surest.
    order = np.argsort(np.where(margin, -1.0, areas))[::-1][: max(1, limit)]
    order = order[~margin[order]] if (~margin[order]).any() else order[:1]
    # A drawing holds one number: its strokes' common slope (written uphill or downhill) levels the bands they grow
    # along (a photo may hold a printed word or a row number: its lines start level). Each line found is grown again
    # along its own slope.
    tilt = None if photo else _slope(boxes, ~margin, speck)
    levelled = boxes if tilt is None else _levelled(boxes, *tilt)
    masks = []
    for seed in order:
        mask = _grow(int(seed), levelled, margin, speck, bridge, MAX_GAP if photo else np.inf)
        mask = _grow_levelled(int(seed), mask, boxes, margin, speck, bridge, MAX_GAP if photo else np.inf)
        if not any(np.array_equal(mask, other) for other in masks):
            masks.append(mask)
    masks.sort(key=lambda mask: -areas[mask].sum())  # stable: the largest seed first on a tie
    return [_line_of(mask, found, speck, cleaned, boxes, not photo) for mask in masks]


def _line_of(
    chosen: np.ndarray, found, speck: np.ndarray, cleaned: np.ndarray, boxes: np.ndarray, drawing: bool
) -> Line:
    """Normalise the strokes ``chosen`` (mask (n,) over labels 1..n) of ``found`` into a Line; specks stay in its
    ink. ``drawing``: the image is no photo (its wide gaps are shortened, ``spacing.MAX_BLANK``; its narrow digits
    widened, ``spacing.stretch``)."""
    selected = np.zeros(found.count + 1, bool)
    selected[1:] = chosen | speck
    others = (found.labels > 0) & ~selected[found.labels]
    line_ink = np.where(others, 0.0, cleaned).astype(np.float32)
    x, y, w, h = boxes[chosen].T
    x0, y0 = int(x.min()), int(y.min())
    x1, y1 = int((x + w).max()), int((y + h).max())
    box = (x0, y0, x1 - x0, y1 - y0)
    slope = _slope(boxes, chosen, speck)
    if slope is None:
        return _normalise(line_ink, box, drawing)
    straight = _straightened(line_ink, found.labels, boxes, box, *slope)
    line = _normalise(straight, (0, 0, straight.shape[1], straight.shape[0]), drawing)
    # The reader reads the straightened line; boxes are found in the ink as drawn (columns are the same in both).
    line.ink, line.box = line_ink, box
    return line


def _slope(boxes: np.ndarray, chosen: np.ndarray, speck: np.ndarray) -> tuple[float, float] | None:
    """The slope of a line written uphill or downhill (px down per px right) and the column it turns about.

    ``boxes``: (n, 4) x, y, w, h of labels 1..n; ``chosen``: mask (n,) of the line's strokes and specks. Theil-Sen
    (the median of the pairs' slopes; Sen, 1968) through the centres of marks at least ``MIN_SLOPE_MARK`` of the
    median height, over pairs side by side (a digit's two strokes say nothing of the line), at most ``MAX_SLOPE``;
    the column is their centres' median. None where the line rises less than ``MIN_RISE`` of its marks' height end
    to end, or levelled would stand over ``MIN_LEVEL_GAIN`` as tall (read as it is). O(m^2), m <= MAX_LINE_STROKES."""
    marks = np.flatnonzero(chosen & ~speck)
    if marks.size < 2:
        return None
    x, y, w, h = boxes[marks].T.astype(np.float64)
    tall = h >= MIN_SLOPE_MARK * np.median(h)
    x, y, w, h = x[tall], y[tall], w[tall], h[tall]
    centre_x, centre_y = x + w / 2, y + h / 2
    first, second = np.nonzero(x[None, :] >= (x + w)[:, None])  # pairs (i, j) with j wholly right of i
    if first.size == 0:
        return None
    slope = float(np.median((centre_y[second] - centre_y[first]) / (centre_x[second] - centre_x[first])))
    slope = float(np.clip(slope, -MAX_SLOPE, MAX_SLOPE))
    if abs(slope) * (centre_x.max() - centre_x.min()) < MIN_RISE * np.median(h):
        return None
    middle = float(np.median(centre_x))
    moved = y - np.round(slope * (centre_x - middle))
    if (moved + h).max() - moved.min() > MIN_LEVEL_GAIN * ((y + h).max() - y.min()):
        return None  # levelled, the marks would stand nearly as tall: scattered pieces, not a sloping line
    return slope, middle


def _levelling(boxes: np.ndarray, slope: float, middle: float) -> np.ndarray:
    """How far each box (n, 4) moves down to level a line of ``slope`` turning about column ``middle``: int64 (n,)
    px, from the box's centre."""
    return -np.round(slope * (boxes[:, 0] + boxes[:, 2] / 2 - middle)).astype(np.int64)


def _levelled(boxes: np.ndarray, slope: float, middle: float) -> np.ndarray:
    """A copy of the boxes (n, 4), each moved down by ``_levelling``."""
    levelled = boxes.copy()
    levelled[:, 1] += _levelling(boxes, slope, middle)
    return levelled


def _grow_levelled(
    seed: int, chosen: np.ndarray, boxes: np.ndarray, margin, speck, bridge, max_gap: float = np.inf
) -> np.ndarray:
    """Grow a line again along its slope: the line ``chosen`` (mask (n,)) grown from ``seed`` along a level band
    is regrown (``_grow``, with ``max_gap``) with every box moved as the line's ``_slope`` says at its column, until
    it no longer changes (at most ``LEVEL_ROUNDS`` times). The digits of a number written steeply uphill have level
    bands that barely overlap; along its slope they line up."""
    for _ in range(LEVEL_ROUNDS):
        found = _slope(boxes, chosen, speck)
        if found is None:
            return chosen
        grown = _grow(seed, _levelled(boxes, *found), margin, speck, bridge, max_gap)
        if np.array_equal(grown, chosen):
            return chosen
        chosen = grown
    return chosen


def _straightened(
    ink: np.ndarray, labels: np.ndarray, boxes: np.ndarray, box: tuple[int, int, int, int], slope: float, middle: float
) -> np.ndarray:
    """The line's ink in ``box`` put on a level baseline: each stroke (``labels`` 1..n, ``boxes`` (n, 4)) moved up
    or down as a whole by ``_levelling`` (its shape untouched), a pixel of no stroke with a stroke up to two pixels
    away (its soft edge) moved with it, any other as the slope says at its column. float32 (h', w), w the box's
    width. O(the box's pixels)."""
    x0, y0, width, height = box
    crop = ink[y0 : y0 + height, x0 : x0 + width]
    offsets = np.concatenate([[0], _levelling(boxes, slope, middle)])
    rows, cols = np.nonzero(crop > 0)
    owners = owners_of(labels[y0 : y0 + height, x0 : x0 + width], rows, cols)
    moved = rows + np.where(owners > 0, offsets[owners], -np.round(slope * (x0 + cols - middle)).astype(np.int64))
    if moved.size == 0:
        return np.zeros((1, width), np.float32)
    top = int(moved.min())
    straight = np.zeros((int(moved.max()) - top + 1, width), np.float32)
    np.maximum.at(straight, (moved - top, cols), crop[rows, cols])
    return straight


def owners_of(labels: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The stroke of each ink pixel (``rows``, ``cols``) of a crop of ``labels`` (int (h, w)): its own label, else
    the largest within two pixels (its soft edge, under the stroke threshold), else 0: the values of Pillow's
    ``MaxFilter(5)`` over the crop (edges repeated) at those pixels alone. O(pixels given), where filtering a
    1024 px crop took 70-210 ms a candidate line."""
    owners = labels[rows, cols]
    loose = np.flatnonzero(owners == 0)
    height, width = labels.shape
    nearest = np.zeros(loose.size, labels.dtype)
    for dy in range(-2, 3):
        near_rows = np.clip(rows[loose] + dy, 0, height - 1)
        for dx in range(-2, 3):
            nearest = np.maximum(nearest, labels[near_rows, np.clip(cols[loose] + dx, 0, width - 1)])
    owners[loose] = nearest
    return owners


def _grow(
    seed: int, boxes: np.ndarray, margin: np.ndarray, speck: np.ndarray, bridge: np.ndarray, max_gap: float = MAX_GAP
) -> np.ndarray:
    """Return which strokes (boxes (n, 4)) form the line grown from stroke ``seed``: a boolean mask (n,).

    Strokes that overlap the line's row band and lie within ``max_gap`` band heights of its ends join it, one
    round at a time (at most m rounds of O(m) each, m the strokes and bridges: at most 2 x MAX_LINE_STROKES);
    specks join in one last pass and never grow the band, but ``bridge`` specks (a photo's dash) join in the
    rounds and lengthen the line, so the gap is measured past them."""
    chosen = np.zeros(len(boxes), bool)
    chosen[seed] = True
    x, y, w, h = boxes.T
    top, bottom = y[seed], y[seed] + h[seed]
    left, right = x[seed], x[seed] + w[seed]
    # Only strokes and bridges join in the rounds (at most 2 x MAX_LINE_STROKES): each round looks at them alone,
    # not at every speck of a noisy photo, so a round's work is bounded whatever the specks.
    pool = np.flatnonzero(~margin | bridge)
    px, py, pw, ph = x[pool], y[pool], w[pool], h[pool]
    taken = pool == seed
    changed = True
    while changed:
        changed = False
        band = bottom - top
        slack = BAND_SLACK * band
        near = ~taken & (py < bottom + slack) & (py + ph > top - slack)
        near &= (px < right + max_gap * band) & (px + pw > left - max_gap * band)
        # Strokes far taller than the line (a column rule, a border) are not part of it.
        near &= ph <= 2.5 * band
        for k in np.flatnonzero(near):
            taken[k] = True
            changed = True
            index = pool[k]
            left, right = min(left, x[index]), max(right, x[index] + w[index])
            # The band grows with digits, not with a low comma or a high apostrophe.
            if h[index] >= 0.5 * band and not bridge[index]:
                top, bottom = min(top, y[index]), max(bottom, y[index] + h[index])
    chosen[pool[taken]] = True
    # One pass for the specks, once the line is known: a thin 1 or a decimal point beside it joins the line (so
    # the box holds it); the band does not grow with them. Specks elsewhere stay in the ink, outside the box.
    band = bottom - top
    chosen |= (
        speck
        & (y < bottom + BAND_SLACK * band)
        & (y + h > top - BAND_SLACK * band)
        & (x < right + max_gap * band)
        & (x + w > left - max_gap * band)
    )
    return chosen


def _normalise(ink: np.ndarray, box: tuple[int, int, int, int], drawing: bool = True) -> Line:
    """Crop ``ink`` to ``box`` and scale it to LINE_HEIGHT (minus the padding), within MAX_LINE_WIDTH; in a
    ``drawing``, each empty stretch between marks shortened to ``spacing.MAX_BLANK`` of the box's height, and a line
    of narrow digits widened (``spacing.stretch``); ``Line.scale`` is then the scale across."""
    x0, y0, width, height = box
    crop = np.ascontiguousarray(ink[y0 : y0 + height, x0 : x0 + width], dtype=np.float32)
    columns = kept_columns(crop, height) if drawing else None
    if columns is not None:
        crop = np.ascontiguousarray(crop[:, columns])
        width = crop.shape[1]
    inner = LINE_HEIGHT - 2 * LINE_PAD
    widest = (MAX_LINE_WIDTH - 2 * LINE_PAD) / width  # the most px of the line per px of the crop, sideways
    scale = min(inner / height, widest)
    across = min(scale * (stretch(crop) if drawing else 1.0), widest)  # px of the line per px of the crop, sideways
    size = (max(1, round(width * across)), max(1, round(height * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    small = np.asarray(Image.fromarray(crop).resize(size, resample), dtype=np.float32)
    small = np.clip(small, 0.0, None) / max(float(small.max()), 1e-6)
    out_width = -(-(size[0] + 2 * LINE_PAD) // LINE_STRIDE) * LINE_STRIDE
    image = np.zeros((LINE_HEIGHT, out_width), np.float32)
    top = (LINE_HEIGHT - size[1]) // 2
    image[top : top + size[1], LINE_PAD : LINE_PAD + size[0]] = small
    return Line(image, ink, box, across, columns, photo=not drawing)


def line_from_ink(ink: np.ndarray) -> Line:
    """Normalise an ink map that holds only the line (training data made in ink): a ``Line``.

    ``ink``: float32 (H, W) in [0, 1], ink = 1. Raises EmptyImageError when nothing is above INK_THRESHOLD."""
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    if rows.size == 0:
        raise EmptyImageError(NO_INK, "write a number, or send a picture of one.")
    return _normalise(ink, (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)))
