"""The choice rows of a string reader: whether a candidate may replace the shipped one, side by side in one run.

    .venv/bin/python choose_reader.py runs/strings/NAME/digit_strings.tflite     # the shipped reader beside it
    .venv/bin/python choose_reader.py --ink                                      # and where the draw's lines are lost

A candidate is shipped only where it is at least as good as the shipped reader on every row, read in the same
run (docs/experiments.md, "The string reader"); the reported sets (``orand_car_a_val``, the held-out synthetic
numbers of ``evaluation.py``) are never read here, so nothing is chosen on them:

- the 100 real training amounts each reader's training held out (``holdout_indices`` of its ``.json`` record):
  exact, the area under the risk-coverage curve of its confidence (AURC, lower is better) and the read rate at
  <= 1% string error (reported, no veto);
- a validation draw of 400 synthetic numbers (``synth.strings.number_images``, MNIST test digits, the
  evaluation's fonts, seed 777), exact, and per scene;
- a guardrail: 500 numbers of 2-6 MNIST test digits drawn on a canvas (``evaluation.number_samples``, seed 777);
- 200 numbers with a leading minus or a cheque's terminator ("-15", "1500.-"; ``synth.strings.signed_text``, seed
  ``SIGNED_SEED``, each scene), their text read exactly as the API answers it (``recognizer.ctc.number_text``: "-15"
  keeps its sign, "1500.-" reads "1500");
- the cells of ``sudoku_cells_train`` (trainable, phone photos): digit cells read exactly and alone, blank cells
  answered "no digit", each also on the half that ``training.no_number.held_out_cell`` keeps out of the string
  reader's training (a reader trained with ``--empty`` or ``--cells`` has seen the other half).

Beside each candidate's share, ``(+b -c)``: the items it reads right and the shipped reader wrong, and the reverse
(the discordant pairs of McNemar's test): on 500 lines a change of a few items either way is within chance.

Every reading goes through the request path in mode ``auto`` (``recognizer.reader.Reader``) with the committed
digit network. ``--ink`` also reads each line of the draw from its written ink alone (``line.line_from_ink``, no
scene): what the reader reads there but not from the scene is lost to the scene and the line finder.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from datasets import load_mnist, load_realworld
from evaluation import number_samples, read_or_none
from evaluation_strings import EVAL_SEED, digits_of, read_rate, risk_coverage_area
from recognizer import backends
from recognizer.backends import ModelLoadError
from recognizer.ctc import number_text
from recognizer.decode import decode_image
from recognizer.line import line_from_ink
from recognizer.mnist import ROOT
from recognizer.reader import Reader
from recognizer.strings import STRING_MODEL_PATH, load_string_reader
from synth.strings import SCENES, number_images
from training.no_number import held_out_cell

DRAW = 400  # synthetic numbers of the validation draw
GUARDRAIL = 500  # canvas numbers of the guardrail
SIGNED, SIGNED_SEED = 200, 4242  # signed numbers, and their seed (apart from training's and the draw's)


def held_out_amounts(reader, path: Path, limit: int | None = None) -> dict:
    """Read the real training amounts that ``path``'s training held out: "right" (whether each was read exactly),
    "aurc" and "read rate" (shares)."""
    record = json.loads(path.with_suffix(".json").read_text())
    images, labels, _ = load_realworld("orand_car_a_train")
    confidences, right = [], []
    for i in record["holdout_indices"][:limit]:
        reading = reader.read(decode_image(images[i]))
        confidences.append(reading.string_confidence)
        right.append(reading.number == str(labels[i]))
    return {
        "right": right,
        "aurc": risk_coverage_area(confidences, right),
        "read rate": read_rate(confidences, right)[0],
    }


def validation_draw(reader: Reader, count: int = DRAW, ink: bool = False) -> dict[str, dict]:
    """Read ``count`` synthetic numbers of seed ``EVAL_SEED``: scene -> {"right": whether each line was read right}
    (and "ink": the share read right from the written ink alone where ``ink``); scene "all" for the whole draw."""
    _, mnist_test = load_mnist()
    rows = defaultdict(list)
    for data, text, kind, written in number_images(count, EVAL_SEED, mnist_test, "eval", with_ink=True):
        reading, want = read_or_none(data, reader), digits_of(text)
        row = [reading is not None and reading.number == want]
        if ink:
            row.append(reader.strings.read_line(line_from_ink(written)).number == want)
        rows[kind].append(row)
        rows["all"].append(row)
    return {
        kind: {"right": [x[0] for x in r], **({"ink": float(np.mean([x[1] for x in r]))} if ink else {})}
        for kind, r in rows.items()
    }


def guardrail(reader: Reader, count: int = GUARDRAIL) -> list[bool]:
    """Whether each of ``count`` canvas numbers of 2-6 MNIST test digits (seed ``EVAL_SEED``) was read exactly."""
    right = []
    for data, label, _ in number_samples(count, EVAL_SEED):
        reading = read_or_none(data, reader)
        right.append(reading is not None and reading.number == label)
    return right


def signed_numbers(reader: Reader, count: int = SIGNED) -> list[bool]:
    """Whether each of ``count`` numbers with a sign or a terminator (seed ``SIGNED_SEED``, MNIST test digits, the
    evaluation's fonts) was read with exactly its text as the API answers it: "-15" must read "-15", not "15"."""
    _, mnist_test = load_mnist()
    right = []
    for data, text, _ in number_images(count, SIGNED_SEED, mnist_test, "eval", signed=True):
        reading = read_or_none(data, reader)
        right.append(reading is not None and reading.answer_text == number_text(text))
    return right


def sudoku_cells(reader: Reader, limit: int | None = None) -> dict[str, list[bool]]:
    """Read the digit and blank cells of ``sudoku_cells_train`` (``limit`` cells evenly spread, the set being sorted
    by label; None: all 6,480) in mode auto: row -> whether each cell was answered right. "digits": the number read
    is the cell's digit, alone; "blanks": "no digit" (refused as a 4xx, or ``not_a_digit``); "... held out": only the
    cells ``held_out_cell`` keeps out of the string reader's training. Cells of pencil candidates are skipped."""
    images, labels, _ = load_realworld("sudoku_cells_train")
    rows = {"digits": [], "digits held out": [], "blanks": [], "blanks held out": []}
    step = 1 if limit is None else max(1, len(labels) // max(1, limit))
    for data, label in list(zip(images, labels))[::step][:limit]:
        if label != "blank" and not label.isdigit():
            continue
        reading = read_or_none(data, reader)
        if label == "blank":
            name, right = "blanks", reading is None or reading.not_a_digit
        else:
            name, right = "digits", reading is not None and reading.number == label
        rows[name].append(right)
        if held_out_cell(data):
            rows[f"{name} held out"].append(right)
    return rows


def choice_rows(
    strings,
    path: Path,
    digits,
    draw: int = DRAW,
    guard: int = GUARDRAIL,
    ink: bool = False,
    holdout=None,
    cells: int | None = None,
    signed: int = SIGNED,
) -> dict:
    """Every choice row of the string reader ``strings`` loaded from ``path`` (its ``.json`` record beside it),
    with ``digits`` (a ``recognizer.backends`` backend) as the digit network of the request path; ``cells``: the
    so many cells of ``sudoku_cells_train``, spread (None: all; 0: none)."""
    reader = Reader(digits, strings)
    return {
        "held-out": held_out_amounts(strings, path, holdout),
        "draw": validation_draw(reader, draw, ink),
        "guardrail": guardrail(reader, guard),
        "signed": signed_numbers(reader, signed),
        "sudoku": sudoku_cells(reader, cells) if cells != 0 else {},
    }


def paired(first: list[bool], other: list[bool]) -> str:
    """``other``'s share right, and beside it ``(+b -c)``: the items it reads right where ``first`` does not, and the
    reverse (both lists over the same items)."""
    first, other = np.asarray(first, bool), np.asarray(other, bool)
    return f"{other.mean():.1%} (+{np.count_nonzero(other & ~first)} -{np.count_nonzero(first & ~other)})"


def table(paths: list[Path], rows: list[dict]) -> str:
    """The choice rows of each reader, side by side, as a Markdown table."""
    names = [str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in paths]
    lines = ["| choice row | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(paths)]

    def row(name, values):
        lines.append(f"| {name} | " + " | ".join(values) + " |")

    def shares(name, items):  # each reader's share right; each candidate's changes against the first reader
        row(name, [f"{np.mean(items[0]):.1%}"] + [paired(items[0], other) for other in items[1:]])

    shares("held-out real amounts, exact", [r["held-out"]["right"] for r in rows])
    row("their AURC (lower is better)", [f"{r['held-out']['aurc']:.2%}" for r in rows])
    row("their read rate at <= 1% error (no veto)", [f"{r['held-out']['read rate']:.1%}" for r in rows])
    draw = len(rows[0]["draw"]["all"]["right"])
    shares(
        f"validation draw ({draw} synthetic numbers, seed {EVAL_SEED}), exact",
        [r["draw"]["all"]["right"] for r in rows],
    )
    for kind in SCENES:
        if kind in rows[0]["draw"]:
            count = len(rows[0]["draw"][kind]["right"])
            shares(f"&nbsp;&nbsp;{kind} ({count})", [r["draw"][kind]["right"] for r in rows])
            if "ink" in rows[0]["draw"][kind]:
                row(
                    f"&nbsp;&nbsp;{kind}, read from the written ink alone",
                    [f"{r['draw'][kind]['ink']:.1%}" for r in rows],
                )
    shares("guardrail: canvas numbers, exact", [r["guardrail"] for r in rows])
    if rows[0]["signed"]:
        count = len(rows[0]["signed"])
        shares(f'signed numbers ({count}: "-15", "1500.-"), text exact', [r["signed"] for r in rows])
    sudoku = {
        "digits": "`sudoku_cells_train` digit cells read exactly and alone",
        "digits held out": "&nbsp;&nbsp;the digit cells kept out of string training",
        "blanks": '`sudoku_cells_train` blank cells answered "no digit"',
        "blanks held out": "&nbsp;&nbsp;the blank cells kept out of string training",
    }
    for key, name in sudoku.items():
        if rows[0]["sudoku"].get(key):
            shares(f"{name} ({len(rows[0]['sudoku'][key])})", [r["sudoku"][key] for r in rows])
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("candidates", nargs="*", type=Path, help="string readers (.tflite, .json beside each)")
    parser.add_argument("--shipped", type=Path, default=STRING_MODEL_PATH, help="the reader to compare with")
    parser.add_argument("--ink", action="store_true", help="also read the draw's lines from their written ink")
    parser.add_argument("--draw", type=int, default=DRAW, help=f"numbers of the validation draw ({DRAW})")
    parser.add_argument("--guardrail", type=int, default=GUARDRAIL, help=f"canvas numbers ({GUARDRAIL})")
    parser.add_argument("--holdout", type=int, default=None, help="only the first N held-out amounts (a test)")
    parser.add_argument("--cells", type=int, default=None, help="only N sudoku_cells_train cells, spread (0: none)")
    parser.add_argument("--signed", type=int, default=SIGNED, help=f"signed numbers ({SIGNED}; 0: none)")
    args = parser.parse_args(argv)
    paths = [args.shipped, *args.candidates]
    try:  # every reader loaded, and its record read, before minutes are spent on the first
        readers = [load_string_reader(p) for p in paths]
        for p in paths:
            if "holdout_indices" not in json.loads(p.with_suffix(".json").read_text()):
                raise ValueError(f"{p.with_suffix('.json')} names no held-out amounts (holdout_indices)")
    except (OSError, ValueError, ModelLoadError) as error:
        print(f"Error: {error!s}", file=sys.stderr)
        return 1
    digits = backends.load_backend()  # one digit network for every reader's request path
    rows = [
        choice_rows(r, p, digits, args.draw, args.guardrail, args.ink, args.holdout, args.cells, args.signed)
        for r, p in zip(readers, paths)
    ]
    print(table(paths, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
