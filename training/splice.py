"""Real amounts spliced: new real lines made of the left part of one cheque amount and the right part of another.

The reader being trained aligns the real lines (``frame_probabilities``, ``recognizer.ctc.best_path``); where its
digits are the label, each gap between two characters read is a place to cut (``cut_points``), and parts of
different amounts are joined (``splice_lines``). ``training.strings`` adds them halfway through a run
(``--splice``; docs/experiments.md, 2026-12-04, fourth session).
"""

from __future__ import annotations

import numpy as np

from recognizer.ctc import best_path
from recognizer.line import LINE_HEIGHT, LINE_STRIDE, MAX_LINE_WIDTH
from recognizer.strings import character_columns
from training.string_data import alignable, batch
from training.string_steps import keras_probabilities


def cut_points(line: np.ndarray, probabilities: np.ndarray, text: str) -> list[tuple[int, str]] | None:
    """Where a real line can be cut between its characters, as the reader being trained aligns it.

    ``line``: uint8 (32, W); ``probabilities``: its (W / LINE_STRIDE, NUM_STRING_CLASSES) frames; ``text``: its
    label (digits only). Returns (column, digits left of it) for the line's start, each cut between two characters
    read (``recognizer.strings.character_columns``: the emptiest column between their CTC spikes) where that
    column holds no ink (touching digits are not cut apart), and its end; None where the best path's digits are
    not the label (an alignment not to trust)."""
    characters, _ = best_path(probabilities)
    if "".join(c.char for c in characters if c.is_digit) != text:
        return None
    edges = character_columns(line, characters)
    points, digits = [], ""
    empty = line.max(axis=0) == 0
    for k, (edge, character) in enumerate(zip(edges, characters + [None])):
        if k in (0, len(characters)) or empty[min(edge, len(empty) - 1)]:  # cut only through a gap in the ink
            points.append((edge, digits))
        if character is not None and character.is_digit:
            digits += character.char
    return points


def splice_lines(lines: list, texts: list, cuts: list, count: int, seed: int) -> tuple[list, list]:
    """Real amounts recombined: the left part of one real line (cut between two characters, ``cut_points``) and
    the right part of another, 0-6 px apart. Real digits of cheque hands in new neighbours and lengths, where 545
    amounts alone give few. Lines without cuts (None) are not used. Returns (``count`` uint8 lines, their digits),
    each at most ``recognizer.line.MAX_LINE_WIDTH`` wide and ``alignable``."""
    usable = [i for i, c in enumerate(cuts) if c and len(c) > 2]
    if not usable:
        return [], []
    rng = np.random.default_rng(seed)
    out, labels = [], []
    for _ in range(count * 20):
        if len(out) >= count:
            break
        a, b = rng.choice(usable, 2)
        (left, left_digits), (right, right_skip) = (
            cuts[a][rng.integers(1, len(cuts[a]))],
            cuts[b][rng.integers(0, len(cuts[b]) - 1)],
        )
        text = left_digits + texts[b][len(right_skip) :]
        gap = np.zeros((LINE_HEIGHT, int(rng.integers(0, 7))), np.uint8)
        line = np.concatenate([lines[a][:, :left], gap, lines[b][:, right:]], axis=1)
        if text and line.shape[1] <= MAX_LINE_WIDTH and alignable(line, text):
            out.append(line)
            labels.append(text)
    return out, labels


def add_spliced(model, lines: list, texts: list, count: int, seed: int) -> str:
    """Align the real lines with ``model`` and add ``count`` spliced ones to them (``splice_lines``);
    return what was done, for the log."""
    cuts = [cut_points(line, p, text) for line, p, text in zip(lines, frame_probabilities(model, lines), texts)]
    spliced, spliced_texts = splice_lines(lines, texts, cuts, count, seed)
    lines.extend(spliced)
    texts.extend(spliced_texts)
    return f"{sum(c is not None for c in cuts):,} of {len(cuts):,} real lines aligned; {len(spliced):,} spliced added"


def frame_probabilities(model, lines: list, batch_size: int = 64) -> list:
    """Run the Keras reader over uint8 lines (32, W), in batches of similar width: (W / LINE_STRIDE, classes)
    float32 probabilities for each line, in the given order."""
    order = sorted(range(len(lines)), key=lambda i: lines[i].shape[1])
    out = [None] * len(lines)
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        x, widths = batch(lines, indices)
        probabilities = keras_probabilities(model, x)
        for row, i in enumerate(indices):
            out[i] = probabilities[row, : widths[row] // LINE_STRIDE]
    return out
