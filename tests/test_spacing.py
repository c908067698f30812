"""A drawing's line spaced before it is read (recognizer.spacing): narrow digits widened, and only those."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from PIL import Image

from recognizer import spacing
from recognizer.png import encode_png


def narrow_number(images, labels, rng, count: int) -> tuple[bytes, str]:
    """``count`` MNIST test digits written narrow across the page's number canvas, as a phone's user writes a dozen
    digits: each 100 px tall and at most 0.8 of a 270/count px cell wide, black ink on a transparent 280x140 PNG."""
    picks = rng.integers(0, len(images), count)
    canvas = np.zeros((140, 280), np.float32)
    cell = 270 / count
    for k, i in enumerate(picks):
        digit = images[i].astype(np.float32) / 255
        rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
        digit = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        width = max(2, round(cell * 0.8 * min(1.0, digit.shape[1] / digit.shape[0] / 0.6)))
        ink = np.asarray(Image.fromarray(digit).resize((width, 100), Image.BILINEAR))
        left = int(5 + k * cell)
        np.maximum(canvas[20:120, left : left + width], ink, out=canvas[20:120, left : left + width])
    rgba = np.zeros((140, 280, 4), np.uint8)
    rgba[..., 3] = np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8)
    return encode_png(rgba), "".join(str(labels[i]) for i in picks)


def read_all(client, samples) -> int:
    right = 0
    for data, label in samples:
        url = "data:image/png;base64," + base64.b64encode(data).decode()
        body = client.post("/predict", json={"image": url, "mode": "number"}).get_json()
        right += body.get("number") == label
    return right


def test_a_dozen_narrow_digits_across_the_canvas_read_right(real_client, mnist_test, monkeypatch):
    # A stranger on a phone wrote 9-12 digits across the number canvas and read none of 16 right (2026-12-07): the
    # reader learnt digits about half as wide as tall, and these are a fifth.
    images, labels = mnist_test
    rng = np.random.default_rng(31)
    samples = [narrow_number(images, labels, rng, int(rng.integers(9, 13))) for _ in range(20)]
    right = read_all(real_client, samples)
    assert right >= 17, f"{right} of 20 narrow numbers read right (20 of 20 when measured)"
    monkeypatch.setattr(spacing, "DENSE", np.inf)  # the same lines, not widened
    assert read_all(real_client, samples) <= 4  # (0 of 20 when measured): the widening is what reads them


def test_digits_written_as_wide_as_mnists_and_ones_alone_are_not_widened(mnist_test):
    images, labels = mnist_test
    rng = np.random.default_rng(5)

    def line_of(picks, gap):  # MNIST digits side by side, ink = 1, as a line's crop
        digits = [images[i].astype(np.float32) / 255 for i in picks]
        digits = [d[:, np.flatnonzero(d.any(axis=0))[0] : np.flatnonzero(d.any(axis=0))[-1] + 1] for d in digits]
        parts = sum(([d, np.zeros((28, gap), np.float32)] for d in digits), [])[:-1]
        crop = np.concatenate(parts, axis=1)
        return crop[np.flatnonzero(crop.any(axis=1))[0] : np.flatnonzero(crop.any(axis=1))[-1] + 1]

    for _ in range(50):
        picks = rng.integers(0, len(images), int(rng.integers(2, 9)))
        assert spacing.stretch(line_of(picks, int(rng.integers(2, 8)))) == 1.0, labels[picks]
    ones = np.flatnonzero(labels == 1)
    for count in (2, 3, 4):  # "11" written close is dense, but its 1s are as narrow as 1s are (a longer run of 1s
        # may be widened: 90 numbers of 2-6 MNIST 1s on a canvas read the same either way, 65 right, when measured)
        for _ in range(10):
            assert spacing.stretch(line_of(rng.choice(ones, count), 3)) == 1.0


@pytest.mark.parametrize("shape", [(0, 0), (5, 0), (0, 5), (32, 1)])
def test_an_empty_or_degenerate_crop_is_left_as_it_is(shape):
    assert spacing.stretch(np.zeros(shape, np.float32)) == 1.0
