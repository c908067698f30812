"""Real photographed digits composed into strings: the digit cells of ``sudoku_cells_train`` side by side (issue 21,
"digits of sudoku_cells_train composed into strings").

Each cell (a phone photo of a newspaper Sudoku cell, printed or handwritten, 128 px) loses its edges, where the grid
lines are, has its paper levelled to white and is cut to the columns that hold ink; two to six such digits are set
side by side at one height with gaps of up to a quarter of it and a little vertical jitter, and the line is found
as served (``recognizer.finer.served_lines``), labelled with the digits. Only the cells that
``training.no_number.held_out_cell`` does not keep out are used, so the other half measures the reader.
"""

from __future__ import annotations

import numpy as np

from recognizer.decode import PreprocessingError, decode_image
from recognizer.finer import served_line
from recognizer.png import encode_png
from training.no_number import held_out_cell
from training.string_data import alignable, to_uint8

CELL_MARGIN = 0.14  # share of a cell's side cut from each edge: its grid lines lie within it
INK_LEVEL = 0.7  # a column holds ink where a pixel of the levelled cell is darker than this (paper is 1)
MIN_DIGITS, MAX_DIGITS = 2, 6


def cell_digit(grey: np.ndarray) -> np.ndarray | None:
    """The digit of a cell: grey float32 (h, w) in [0, 1], 1 = paper: ``grey`` (float32 (H, W), dark ink on light
    paper, as ``decode.decode_image`` gives a cell) without its edges, divided by its paper's level (the 90th
    percentile) and cut to the columns that hold ink, 2 px either side; None where no column does."""
    height, width = grey.shape
    margin_y, margin_x = int(round(CELL_MARGIN * height)), int(round(CELL_MARGIN * width))
    inner = grey[margin_y : height - margin_y, margin_x : width - margin_x]
    inner = np.clip(inner / max(float(np.percentile(inner, 90)), 1e-3), 0.0, 1.0)
    columns = np.flatnonzero((inner < INK_LEVEL).any(axis=0))
    if columns.size == 0:
        return None
    return inner[:, max(0, columns[0] - 2) : columns[-1] + 3].astype(np.float32)


def compose(digits: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Set digit crops (``cell_digit``) side by side on white: grey float32 (H, W) in [0, 1]. Each is scaled to the
    first one's height; the gaps are 0 to a quarter of it, each digit raised or lowered by up to a twelfth."""
    from PIL import Image

    height = digits[0].shape[0]
    scaled = []
    for digit in digits:
        width = max(1, round(digit.shape[1] * height / digit.shape[0]))
        scaled.append(np.asarray(Image.fromarray(digit).resize((width, height), Image.BILINEAR), np.float32))
    gaps = rng.integers(0, height // 4 + 1, len(scaled) + 1)
    gaps[0] = gaps[-1] = height // 4
    jitter = height // 12
    canvas = np.ones((height + 2 * jitter, int(sum(d.shape[1] for d in scaled) + gaps.sum())), np.float32)
    x = int(gaps[0])
    for digit, gap in zip(scaled, gaps[1:]):
        y = jitter + int(rng.integers(-jitter, jitter + 1))
        spot = canvas[y : y + height, x : x + digit.shape[1]]
        np.minimum(spot, digit, out=spot)
        x += digit.shape[1] + int(gap)
    return canvas


def cell_lines(count: int, seed: int, finer: bool = False, data_dir=None, log=None) -> tuple[list, list]:
    """``count`` lines of ``MIN_DIGITS`` to ``MAX_DIGITS`` digit cells of ``sudoku_cells_train`` composed
    (``compose``), each sent through PNG and found as served (``finer``: found again finer where a reader is trained
    so), labelled with its digits; lines CTC cannot align are left out. Only cells not ``held_out_cell``.

    Returns (list of uint8 (32, W) lines, list of texts); none where the set is absent. ``log``: a line of progress."""
    import datasets

    try:
        images, labels, _ = datasets.load_realworld("sudoku_cells_train", data_dir)
    except FileNotFoundError:
        return [], []
    cells = []
    for data, label in zip(images, labels):
        if label.isdigit() and not held_out_cell(data):
            digit = cell_digit(decode_image(data))
            if digit is not None:
                cells.append((digit, str(label)))
    rng = np.random.default_rng(seed)
    lines, texts = [], []
    for _ in range(count if cells else 0):
        chosen = rng.choice(len(cells), int(rng.integers(MIN_DIGITS, MAX_DIGITS + 1)))
        text = "".join(cells[i][1] for i in chosen)
        grey = compose([cells[i][0] for i in chosen], rng)
        try:
            line = served_line(decode_image(encode_png(grey)), finer)
        except PreprocessingError:
            continue
        if alignable(line.image, text):
            lines.append(to_uint8(line.image))
            texts.append(text)
    if log:
        log(f"composed cell lines: {len(lines):,} from {len(cells):,} digit cells")
    return lines, texts
