"""The string reader's training lines: synthetic lines (``synth.strings``), made once or afresh while training, the
real cheque amounts of ``orand_car_a_train`` and the numbers people corrected on the page (an export of
``corrections``), scanned again with small changes.

Lines are uint8 (32, W) arrays, ink = 255, as ``recognizer.line.find_line`` normalises them (32 px high, any width).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from recognizer.ctc import ALPHABET
from recognizer.decode import PreprocessingError, decode_image
from recognizer.finer import served_line
from recognizer.line import LINE_HEIGHT, LINE_STRIDE
from recognizer.mnist import ROOT

SYNTHETIC_CHUNKS = 16  # synthetic lines are made in this many seeded chunks, whatever the number of processes


def encode_text(text: str) -> list[int]:
    """Class indices of a text over ALPHABET; characters outside it are dropped."""
    return [ALPHABET.index(c) for c in text if c in ALPHABET]


def alignable(line: np.ndarray, text: str) -> bool:
    """Whether CTC can align ``text`` to the frames of ``line`` (uint8 (32, W)): one frame per ``LINE_STRIDE``
    columns must cover each character and a blank between each pair of equal neighbours (Graves et al., 2006).
    A line too narrow for its text (a squeezed run of 1s) has no path: TensorFlow's loss for it is large, JAX's
    about 1e5, and either swamps the batch's gradient."""
    codes = encode_text(text)
    return line.shape[1] // LINE_STRIDE >= len(codes) + sum(a == b for a, b in zip(codes, codes[1:]))


def to_uint8(line: np.ndarray) -> np.ndarray:
    """A float32 line in [0, 1] as uint8 (0..255), the form lines are kept in."""
    return np.round(line * 255).astype(np.uint8)


@lru_cache(maxsize=1)
def _mnist():
    """MNIST's (train, test) splits, read once per process (``FreshLines``' process makes hundreds of chunks)."""
    import datasets

    return datasets.load_mnist()


def _synthetic_chunk(args):
    """Make ``count`` lines from ``seed`` (a process pool's unit of work): (list of uint8 lines, list of texts),
    each ``alignable``; ``finer``: lines found as a reader trained with ``--lines finer`` reads them; ``signed``:
    numbers with a sign or a terminator (``synth.strings.signed_text``)."""
    seed, count, part, finer, signed = args
    from synth.strings import line_sample, signed_text

    mnist = _mnist()[0 if part == "train" else 1]
    rng = np.random.default_rng(seed)
    lines, texts = [], []
    while len(lines) < count:
        try:
            text = signed_text(rng) if signed else None
            line, text, _ = line_sample(rng, mnist, part, text=text, finer=finer)
        except PreprocessingError:
            continue
        if not alignable(line.image, text):
            continue
        lines.append(to_uint8(line.image))
        texts.append(text)
    return lines, texts


def synthetic_lines(
    count: int,
    seed: int,
    part: str = "train",
    workers: int | None = None,
    log=None,
    finer: bool = False,
    signed: bool = False,
):
    """Make ``count`` synthetic lines (``synth.strings.line_sample``) in ``SYNTHETIC_CHUNKS`` chunks, run by
    ``workers`` processes (default: one per CPU, at most one per chunk). ``log``, when given, is called with a line
    of progress as each chunk is done (lines made so far, seconds): a full set takes many minutes on 2 cores.
    ``finer``: each line found as ``recognizer.finer.served_line`` finds it for a reader trained so. ``signed``:
    every text a number with a leading minus or a cheque's terminator (``synth.strings.signed_text``).

    Returns (list of uint8 (32, W) lines, list of texts); the same for the same arguments on any machine."""
    chunks = [
        (seed * 1000 + i, count // SYNTHETIC_CHUNKS + (i < count % SYNTHETIC_CHUNKS), part, finer, signed)
        for i in range(SYNTHETIC_CHUNKS)
    ]
    chunks = [c for c in chunks if c[1]]
    workers = min(len(chunks), workers or os.cpu_count() or 1)
    started, results = time.time(), []

    def done(result):
        results.append(result)
        if log:
            made = sum(len(r[1]) for r in results)
            log(f"synthetic lines: {made:,} of {count:,} ({time.time() - started:.0f} s)")

    if workers == 1:
        for c in chunks:
            done(_synthetic_chunk(c))
    else:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for result in pool.imap(_synthetic_chunk, chunks):  # in the chunks' order: the same lines as one process
                done(result)
    return [line for r in results for line in r[0]], [text for r in results for text in r[1]]


def signed_lines(count: int, seed: int, finer: bool = False, data_dir=None, log=None) -> tuple[list, list]:
    """``count`` synthetic lines whose texts carry a leading minus or a cheque's terminator ("-15", "1500.-"), which
    the other synthetic lines never do: (list of uint8 (32, W) lines, list of texts). ``data_dir`` is unused (the
    signature of the other extra sources, ``training.no_number.empty_lines``)."""
    return synthetic_lines(count, seed, log=log, finer=finer, signed=True)


def cached_synthetic_lines(work_dir: Path, count: int, seed: int, finer: bool = False, log=None):
    """``synthetic_lines(count, seed, finer=finer)``, made once and kept in ``work_dir`` under a name that holds the
    arguments and ``_source_digest()``: (list of uint8 (32, W) lines, list of texts)."""
    cache = Path(work_dir) / f"synthetic-{seed}-{count}{'-finer' * finer}-{_source_digest()}.npz"
    if cache.exists():
        with np.load(cache) as saved:
            return unpack(saved["blob"], saved["offsets"]), list(saved["texts"])
    lines, texts = synthetic_lines(count, seed, log=log, finer=finer)
    np.savez_compressed(cache, **dict(zip(("blob", "offsets"), pack(lines))), texts=np.array(texts))
    return lines, texts


def _source_digest() -> str:
    """A short digest of the code that makes and normalises the synthetic lines, and of the fonts they are printed
    in (``synth.fonts``: Debian's fonts-* packages differ from machine to machine; Chromium's bring Liberation): a
    cache made by other code or with other fonts is not reused."""
    import hashlib

    from synth.fonts import fonts

    files = (
        sorted((ROOT / "synth").glob("*.py"))
        + [ROOT / "recognizer" / name for name in ("decode.py", "finer.py", "line.py", "lines.py", "normalize.py")]
        + [ROOT / "training" / "string_data.py"]
    )
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    digest.update("\n".join(path.name for path in fonts("train")).encode())
    return digest.hexdigest()[:10]


class FreshLines:
    """A fixed number of synthetic lines, ``chunk`` of which are replaced by new ones every ``every`` steps.

    The new lines are made by one background process from seeds apart from the first lines' (``seed`` * 1000 +
    100 + k for the k-th chunk), and chunk k always replaces the same lines at the same step, so a run is the same
    whatever the machine's speed: a slow machine waits for the next chunk. With ``every`` = 0 the lines never
    change. Why: a reader trained 20,000 steps on 60,000 fixed lines learned the lines themselves
    (docs/experiments.md, 2026-12-04)."""

    def __init__(
        self, lines: list, texts: list, seed: int, steps: int, every: int = 0, chunk: int = 500, finer: bool = False
    ):
        self.lines, self.texts, self.every, self.chunk = lines, texts, every, chunk
        self.made, self.count = 0, (steps // every if every else 0)
        self.pool = self.results = None
        if self.count:
            self.pool = multiprocessing.get_context("spawn").Pool(1)
            self.results = self.pool.imap(
                _synthetic_chunk, [(seed * 1000 + 100 + k, chunk, "train", finer, False) for k in range(self.count)]
            )

    def refresh(self, step: int) -> None:
        """Before ``step`` (1-based): replace the next chunk of lines when it is that chunk's turn."""
        if not self.count or step % self.every or self.made >= self.count:
            return
        lines, texts = next(self.results)
        start = self.made * self.chunk
        for j, (line, text) in enumerate(zip(lines, texts)):
            self.lines[(start + j) % len(self.lines)] = line
            self.texts[(start + j) % len(self.texts)] = text
        self.made += 1

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()


def augment_photo(data: bytes, rng: np.random.Generator) -> np.ndarray:
    """Scan a real image again, a little differently: grey float32 (H, W), 1 = white.

    The image is sheared (a hand leaning more or less), stretched or squeezed by up to 15%, turned by up to
    3 degrees, given another exposure, and re-compressed as a scanner would (``synth.scenes.camera``)."""
    from synth.scenes import camera

    grey = decode_image(data)
    height, width = grey.shape
    shear, stretch, turn = rng.uniform(-0.25, 0.25), rng.uniform(0.85, 1.15), np.radians(rng.uniform(-3, 3))
    fill = float(np.median(grey))
    out_w = int(width * stretch + abs(shear) * height) + 2
    matrix = np.array([[1 / stretch, -shear, 0.0], [0.0, 1.0, 0.0]])
    rotate = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    matrix[:, :2] = matrix[:, :2] @ rotate
    # Pillow maps each output pixel back to an input pixel; keep the centre in place.
    centre_out = np.array([out_w / 2, height / 2])
    matrix[:, 2] = np.array([width / 2, height / 2]) - matrix[:, :2] @ centre_out
    image = Image.fromarray(grey).transform(
        (out_w, height), Image.Transform.AFFINE, tuple(matrix.ravel()), Image.Resampling.BILINEAR, fillcolor=fill
    )
    grey = np.clip(
        np.asarray(image, np.float32) ** rng.uniform(0.7, 1.4) * rng.uniform(0.85, 1.1) + rng.uniform(-0.08, 0.08), 0, 1
    )
    return decode_image(camera(grey, rng, quality=(50, 95)))


def real_lines(images: list[bytes], texts, variants: int, seed: int, finer: bool = False):
    """The real amounts as uint8 lines: each image as it is, then ``variants`` - 1 augmented copies
    (``augment_photo``), but for lines too narrow for their label (``alignable``); each line found as
    ``recognizer.finer.served_line`` finds it (found again finer in a small photo where ``finer``). Returns
    (lines, texts)."""
    rng = np.random.default_rng(seed)
    lines, labels = [], []
    for data, text in zip(images, texts):
        for k in range(variants):
            try:
                grey = decode_image(data) if k == 0 else augment_photo(data, rng)
                line = served_line(grey, finer).image
            except PreprocessingError:
                continue
            if alignable(line, str(text)):
                lines.append(to_uint8(line))
                labels.append(str(text))
    return lines, labels


def correction_lines(path, variants: int, seed: int):
    """The number corrections of an export (``flask --app app corrections export``) as training lines: each number
    row's original image as sent, found (``find_line``) and scanned again like a real amount (``real_lines``),
    labelled with the number as the person wrote it (``number_text``, "37.50": separators included, so these lines
    train the separators too). Digit and "not a digit" rows are the digit network's (``load_extra_data``).

    Returns (list of uint8 (32, W) lines, list of texts), up to ``variants`` per number row. Raises ValueError
    when the file is not such an export (no ``number``, ``number_text``, ``originals`` or ``original_offsets``)."""
    keys = ("number", "number_text", "originals", "original_offsets")
    with np.load(path) as data:
        if any(key not in data for key in keys):
            raise ValueError(f"{path} is not a corrections export: write it with `flask --app app corrections export`.")
        numbers, written, offsets = data["number"], data["number_text"], data["original_offsets"]
        rows = [i for i, number in enumerate(numbers) if str(number)]
        originals = data["originals"]
        images = [originals[offsets[i] : offsets[i + 1]].tobytes() for i in rows]
    texts = [str(written[i]) or str(numbers[i]) for i in rows]
    return real_lines(images, texts, variants, seed)


def pack(lines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pack uint8 lines side by side (to save them): uint8 (32, sum W) and int64 offsets (n + 1,)."""
    offsets = np.cumsum([0] + [line.shape[1] for line in lines])
    return np.concatenate(lines, axis=1), offsets


def unpack(blob: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """The lines that ``pack`` packed."""
    return [blob[:, offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def width_order(lines: list[np.ndarray]) -> np.ndarray:
    """Indices of ``lines`` from the narrowest to the widest (stable): int64 (n,)."""
    return np.argsort([line.shape[1] for line in lines], kind="stable")


def draw_indices(rng: np.random.Generator, order: np.ndarray, count: int, quantile: float, bucket: int) -> np.ndarray:
    """Draw ``count`` distinct line indices for one batch: int64 (count,).

    ``bucket`` = 0 draws uniformly (with replacement). Otherwise the lines are drawn from a window of ``bucket`` x
    ``count`` lines of ``order`` (lines sorted by width, ``width_order``) placed at ``quantile`` in [0, 1) of it,
    so that a batch holds lines of about one width and is padded little (bucketing by length, as speech and
    handwriting recognisers batch: on the shipped reader's synthetic lines random batches are padded to 1.96
    times their ink's width, windowed ones to 1.01). With ``quantile`` uniform each line is drawn about as often
    as with uniform draws, but for the narrowest and widest ``bucket`` x ``count`` / 2."""
    if not bucket:
        return rng.integers(0, len(order), count)
    window = min(len(order), bucket * count)
    start = int(quantile * (len(order) - window + 1))
    return order[start : start + window][rng.choice(window, min(count, window), replace=False)]


def batch(lines: list[np.ndarray], indices) -> tuple[np.ndarray, np.ndarray]:
    """Stack lines into one batch: float32 (B, 32, W_max, 1) in [0, 1] padded with background, and widths (B,)."""
    widths = np.array([lines[i].shape[1] for i in indices])
    out = np.zeros((len(indices), LINE_HEIGHT, int(widths.max()), 1), np.float32)
    for row, i in enumerate(indices):
        out[row, :, : widths[row], 0] = lines[i] / 255.0
    return out, widths
