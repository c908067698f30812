"""Lines and borders out before segmentation: ruled and grid lines, cell borders, underlines, dark margins.

A photo of a form, a Sudoku grid or a cheque holds long straight structures that are not writing. Left in,
they join digits into one stroke and become digits themselves ("000000" for an underline). A structure is a
line when it is a run of ink along a row (column) that is long for the image: at least ``LINE_LENGTH`` of the
image's width (height), and either lies in the outer ``BORDER_BAND`` of a near-square image (a cell's border,
a scanner's margin; ``FULL_LINE_BAND`` for a line across nearly all of it, a neighbouring cell's border) or
is ``UNDERLINE_RATIO`` times longer than the image is high (an underline or a ruled line under a number).
Rows are smeared by ``TILT_SLACK`` pixels first, so a line a few degrees off the horizontal still forms one
run. Where a stroke crosses or touches the line, the pixels whose run across the line is longer than the line
is thick are kept, so a 7 written through a ruled line keeps its stem. Nothing is
removed when it would leave under ``KEEP_FRACTION`` of the ink: a lone stroke is for the network to read
(a drawn 1 is a vertical line, and a dash alone is "not a digit").

What the long-line search leaves of a cell's border in a photo (a grid line cut short where the cell was
cropped, or bent by the lens) is a short thin piece lying wholly in the border band, along its edge: such a
piece is never part of a centred digit, and left in it reads as a "1" (``remove_edge_remains``).

The line finder (``recognizer.line``) keeps a scan's margins and rules out of the line it reads: the strokes
``margin_marks`` names among the strokes found.

The cost is a few passes over the pixels: O(H * W), bounded by the decoder's pixel limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recognizer.normalize import INK_THRESHOLD, SPECK_FRACTION, Components, ink_map, label_components

LINE_LENGTH = 0.6  # share of the image's side a line's run must span
BORDER_BAND = 0.15  # share of the side, from each edge, where borders and margins lie
# A cell cut loosely from a grid holds its neighbour's border well inside the band: a line across nearly the
# whole side (FULL_LINE_LENGTH) is a grid line up to FULL_LINE_BAND from an edge. A digit in a cell has a
# margin above and below it, so even a 1 near the side is shorter than that.
FULL_LINE_LENGTH = 0.9
FULL_LINE_BAND = 0.3
BORDER_MAX_ASPECT = 1.6  # images up to this aspect ratio (a cell, a box) have their borders removed
UNDERLINE_RATIO = 1.5  # a horizontal line this many image heights long is an underline or a ruled line
TILT_SLACK = 2  # pixels: rows (columns) are smeared this far so a slightly tilted line stays one run
EDGE_BAND = 0.2  # share of the side from each edge where border remains lie
EDGE_REMAIN_ASPECT = 2.0  # a border remain is this many times longer along its edge than it is wide
EDGE_REMAIN_WIDTH = 0.1  # and at most this share of the side wide across it
KEEP_FRACTION = 0.1  # never remove lines that would leave less than this share of the ink
MARGIN_SHARE = 0.8  # a stroke touching the image's edge and this long along it is a scanner margin or a rule
RULE_ASPECT = 12  # a stroke that long across the image and this many times longer than wide is a rule
EDGE_SHARE = 0.03  # a margin lies within this share of the width from the left or right edge
MARGIN_WIDTH_SHARE = 0.25  # ... and is a band at most this share of the width wide (not a tall "40" at the edge)
TALL_RATIO = 1.6  # a stroke this many times taller than the median of the others, and as tall as the image


def run_lengths(mask: np.ndarray) -> np.ndarray:
    """Return, for each pixel of a boolean (H, W) image, the length of the horizontal run of True it lies in.

    Returns int32 (H, W), 0 where the mask is False. One pass: the runs are found from the row-wise
    differences of the padded mask, as in ``recognizer.normalize.label_components``.
    """
    height, width = mask.shape
    padded = np.zeros((height, width + 2), np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]
    lengths = ends - starts
    out = np.zeros((height, width), np.int32)
    if lengths.size:
        pixel_runs = np.repeat(np.arange(lengths.size), lengths)
        within_run = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # 0, 1, .. in each run
        columns = np.repeat(starts, lengths) + within_run
        out[rows[pixel_runs], columns] = lengths[pixel_runs]
    return out


def _smear(mask: np.ndarray, slack: int) -> np.ndarray:
    """Return the mask OR-ed with itself shifted up and down by 1..slack rows."""
    out = mask.copy()
    for shift in range(1, slack + 1):
        out[shift:] |= mask[:-shift]
        out[:-shift] |= mask[shift:]
    return out


def _horizontal_lines(mask: np.ndarray, border_only: bool, underlines: bool) -> np.ndarray:
    """Return the pixels of ``mask`` that belong to long horizontal lines (see the module's docstring)."""
    height, width = mask.shape
    wide = underlines and width >= UNDERLINE_RATIO * height
    if not (wide or border_only):
        return np.zeros_like(mask)  # no line can be one here (a drawing on a canvas): the runs are not measured
    runs = run_lengths(_smear(mask, TILT_SLACK))
    candidates = mask & (runs >= LINE_LENGTH * width)
    if not candidates.any():
        return candidates
    if wide:
        lines = candidates  # a wide image: any long line is an underline or a ruled line
    else:
        lines = candidates & (
            _edge_rows(height, BORDER_BAND) | (_edge_rows(height, FULL_LINE_BAND) & (runs >= FULL_LINE_LENGTH * width))
        )
    if not lines.any():
        return lines
    # A stroke crossing the line runs across it for longer than the line is thick: keep those pixels.
    across = run_lengths(mask.T).T
    thickness = float(np.median(across[lines]))
    return lines & (across <= thickness + 2)


def _edge_rows(height: int, share: float) -> np.ndarray:
    """Return a (height, 1) bool column: the rows within ``share`` of the height (at least 2) of the top or bottom."""
    rows = np.arange(height)[:, None]
    band = max(2, round(share * height))
    return (rows < band) | (rows >= height - band)


def is_cell(shape: tuple[int, int], photo: bool) -> bool:
    """Whether an image of ``shape`` (H, W) is a photo of a cell or a box: a photo at most ``BORDER_MAX_ASPECT``
    times longer than wide, whose borders (and border remains and specks) are taken out before segmentation."""
    return photo and max(shape) <= BORDER_MAX_ASPECT * min(shape)


def remove_lines(ink: np.ndarray, threshold: float, photo: bool) -> np.ndarray:
    """Return a copy of an ink map with ruled lines, grid lines, borders, underlines and margins erased.

    ``ink``: float32 (H, W) in [0, 1], 1 = ink; ``threshold``: the ink level of a stroke pixel; ``photo``:
    whether the image is a photo or scan of paper (``recognizer.normalize.ink_map``). Borders, and what is
    left of them (``remove_edge_remains``), are looked for in near-square photos only: on a clean canvas a
    digit may fill the frame, and its top bar is no border. Horizontal lines are found on the image and
    vertical ones on its transpose (borders only: a vertical stroke in a wide image is a 1, never an
    underline). Returns float32 (H, W); outside near-square photos the lines are kept when removing them
    would leave under ``KEEP_FRACTION`` of the ink, and the input itself is returned when nothing is erased.
    """
    mask = ink > threshold
    height, width = mask.shape
    if min(height, width) < 16:
        return ink
    square = is_cell(mask.shape, photo)
    lines = _horizontal_lines(mask, border_only=square, underlines=True)
    if square:
        lines |= _horizontal_lines(mask.T, border_only=True, underlines=False).T
    cleaned = ink
    total = int(mask.sum())
    # In a cell only its border can be found (border_only), and a border alone is no digit: erase it even
    # when nothing is left (segment then answers "no digit"). Elsewhere a lone line is for the network.
    if lines.any() and (square or total - int((mask & lines).sum()) >= KEEP_FRACTION * total):
        cleaned = np.where(lines, 0.0, ink).astype(np.float32)
    return remove_edge_remains(cleaned, threshold) if square else cleaned


def remove_edge_remains(ink: np.ndarray, threshold: float) -> np.ndarray:
    """Return a copy of a cell's ink map without the border remains: strokes wholly within the border band.

    ``ink``: float32 (H, W) in [0, 1], 1 = ink, of a near-square photo (a cell, a box). A stroke (an
    8-connected component above ``threshold``) is a remain when its bounding box lies within the outer
    ``EDGE_BAND`` of one edge and is ``EDGE_REMAIN_ASPECT`` times longer along that edge than across it.
    Returns float32 (H, W); the input itself when there is none, and no ink at all when only remains are
    there (a blank cell: no digit). Raises TooMuchWorkError past ``normalize.MAX_RUNS`` runs of ink.
    """
    mask = ink > threshold
    height, width = mask.shape
    found = label_components(mask)
    if found.count == 0:
        return ink
    x, y, w, h = found.boxes[1:].T
    band_x, band_y = EDGE_BAND * width, EDGE_BAND * height
    upright = (h >= EDGE_REMAIN_ASPECT * w) & (w <= EDGE_REMAIN_WIDTH * width)
    flat = (w >= EDGE_REMAIN_ASPECT * h) & (h <= EDGE_REMAIN_WIDTH * height)
    remains = (upright & ((x + w <= band_x) | (x >= width - band_x))) | (
        flat & ((y + h <= band_y) | (y >= height - band_y))
    )
    if not remains.any():
        return ink
    erase = np.concatenate([[False], remains])[found.labels]
    return np.where(erase, 0.0, ink).astype(np.float32)


@dataclass
class CleanInk:
    """An image's ink with its lines, borders and margins out, and its strokes: where line finding
    (``recognizer.line.find_lines``) and segmentation (``recognizer.segment``) both start.

    Made once per request (``clean_ink``) and shared, so auto mode's two readers do not each map the ink,
    search for lines and label the strokes again. Readers copy what they change."""

    ink: np.ndarray  # float32 (H, W) in [0, 1], 1 = ink, lines erased (``remove_lines``)
    photo: bool  # a photo or scan of paper (``normalize.ink_map``)
    erased: bool  # ``remove_lines`` erased something
    found: Components  # ``label_components(ink > INK_THRESHOLD)``: every stroke, specks included


def clean_ink(grey: np.ndarray) -> CleanInk:
    """Map a grey image's ink (``normalize.ink_map``), erase its lines (``remove_lines``) and label its strokes.

    ``grey``: float (H, W) in [0, 1], either polarity, at most ``decode.WORK_SIDE`` a side. O(H * W). Raises
    TooMuchWorkError past ``normalize.MAX_RUNS`` runs of ink."""
    ink, photo = ink_map(grey)
    cleaned = remove_lines(ink, INK_THRESHOLD, photo)
    return CleanInk(cleaned, photo, cleaned is not ink, label_components(cleaned > INK_THRESHOLD))


def margin_marks(boxes: np.ndarray, areas: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Which strokes (boxes (n, 4), areas (n,)) are a scanner's margin or a rule, not writing.

    A stroke at least MARGIN_SHARE of the image tall, within EDGE_SHARE of its left or right edge (or at least four
    times taller than wide: the edge of a margin whose inside the lighting hollowed), is a margin where the
    writing beside it is far shorter (its strokes, specks aside, under 1 / TALL_RATIO of it tall: the margin
    beside a row number). In a tight crop of "3.827" the 3, 8 and 7 are as tall as the crop, and the 1 of "25.441"
    touches its edge, but the other digits are nearly as tall, so they stay writing. A stroke that long across
    the image and RULE_ASPECT times thinner than long is a rule; a stroke touching the top or bottom edge across
    MARGIN_SHARE of the width is a margin. A margin is a band along one edge, so a stroke that spans
    MARGIN_SHARE of the image both ways is never one: it is the writing of a crop cut to its ink (a cursive cheque
    amount joined into one stroke, or joined to the cheque's printed stripes); nor is a stroke at a side edge wider
    than MARGIN_WIDTH_SHARE of the image (the touching "40" of "40.000" beside its small zeros)."""
    height, width = shape
    x, y, w, h = boxes.T
    tall = h >= MARGIN_SHARE * height
    side = (x <= EDGE_SHARE * width) | (x + w >= (1 - EDGE_SHARE) * width)  # lighting may hollow a margin's edge
    writing = ~tall & (areas >= SPECK_FRACTION * areas[~tall].max()) if (~tall).any() else ~tall
    through = (y <= 1) & (y + h >= height - 1)  # a margin runs from the top edge to the bottom one
    margins = (
        tall
        & ((side & (w <= MARGIN_WIDTH_SHARE * width)) | (w * 4 <= h))
        & through
        & (h >= TALL_RATIO * np.median(h[writing]))
        if writing.any()
        else np.zeros_like(tall)
    )
    margins |= ((y <= 0) | (y + h >= height)) & (w >= MARGIN_SHARE * width) & (h < MARGIN_SHARE * height)
    rules = (tall & (w * RULE_ASPECT <= h)) | ((w >= MARGIN_SHARE * width) & (h * RULE_ASPECT <= w))
    return margins | rules
