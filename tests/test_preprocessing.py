"""Golden cases for the MNIST-style normalisation: every drawing ends up as MNIST would have it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image
from scipy import ndimage

from recognizer import decode, normalize, png
from recognizer.mnist import DIGIT_BOX, IMAGE_SIZE
from synth.canvas import canvas_from_mnist, encode
from synth.digits import stroke_digit


def ink_box(image: np.ndarray, level: float = 0.05) -> tuple[int, int]:
    """Return (height, width) of the bounding box of pixels above ``level``."""
    rows, cols = np.nonzero(image > level)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def assert_mnist_like(image: np.ndarray) -> None:
    assert image.shape == (IMAGE_SIZE, IMAGE_SIZE) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() == pytest.approx(1.0)
    assert max(ink_box(image)) in (DIGIT_BOX - 1, DIGIT_BOX, DIGIT_BOX + 1)
    # Centred by mass, unless that would push the digit out of the frame (then it touches the edge).
    rows, cols = np.nonzero(image)
    cy, cx = ndimage.center_of_mass(image)
    assert abs(cy - 14.0) <= 0.6 or rows.min() == 0 or rows.max() == IMAGE_SIZE - 1
    assert abs(cx - 14.0) <= 0.6 or cols.min() == 0 or cols.max() == IMAGE_SIZE - 1


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.fixture(scope="module")
def seven(mnist_test):
    images, labels = mnist_test
    return images[0]  # MNIST's first test digit is a 7


def test_a_canvas_drawing_of_an_mnist_digit_comes_back_as_that_digit(seven):
    image = normalize.normalize_digit(decode.decode_image(encode(canvas_from_mnist(seven))))
    assert_mnist_like(image)
    assert similarity(image, seven / 255.0) > 0.9


@pytest.mark.parametrize(
    "box",
    [(0, 0, 90), (180, 190, 90), (200, 0, 80)],
    ids=["top-left corner", "bottom-right corner", "top-right corner"],
)
def test_off_centre_drawings_are_centred_by_mass(seven, box):
    image = normalize.normalize_digit(decode.decode_image(encode(canvas_from_mnist(seven, box=box))))
    assert_mnist_like(image)
    assert similarity(image, seven / 255.0) > 0.85


def test_a_tiny_drawing_is_scaled_up(seven):
    tiny = canvas_from_mnist(seven, size=300, box=(140, 40, 20))
    image = normalize.normalize_digit(decode.decode_image(encode(tiny)))
    assert_mnist_like(image)
    assert similarity(image, seven / 255.0) > 0.8


def test_a_huge_image_is_scaled_down(seven):
    image = normalize.normalize_digit(decode.decode_image(encode(canvas_from_mnist(seven, size=1500))))
    assert_mnist_like(image)
    assert similarity(image, seven / 255.0) > 0.9


@pytest.mark.parametrize("width", [3, 12, 30, 55])
def test_thin_and_thick_strokes_fill_the_20_pixel_box(width):
    image = normalize.normalize_digit(decode.decode_image(encode(stroke_digit(7, width=width))))
    assert_mnist_like(image)


def test_a_transparent_canvas_is_read_as_white_paper_not_a_black_square(seven):
    transparent = normalize.normalize_digit(
        decode.decode_image(encode(canvas_from_mnist(seven, background="transparent")))
    )
    white = normalize.normalize_digit(decode.decode_image(encode(canvas_from_mnist(seven, background="white"))))
    assert np.abs(transparent - white).max() < 0.02
    assert transparent.mean() < 0.3  # a black square would be all ink


def test_white_ink_on_black_reads_like_black_ink_on_white(seven):
    light_on_dark = normalize.normalize_digit(decode.decode_image(encode(canvas_from_mnist(seven, background="black"))))
    dark_on_light = normalize.normalize_digit(decode.decode_image(encode(canvas_from_mnist(seven, background="white"))))
    assert np.abs(light_on_dark - dark_on_light).max() < 0.02


@pytest.mark.parametrize(
    ("paper", "ink"),
    [(0.38, 0.05), (0.7, 0.2), (0.3, 0.85)],
    ids=["dim photo of white paper", "bright photo", "chalk on a board"],
)
def test_a_photo_keeps_its_ink_as_ink_whatever_the_papers_level(seven, paper, ink):
    # A dim phone photo of white paper is darker than mid-grey (a Sudoku cell at 0.33-0.44): its paper's
    # level alone made the paper "ink" and left only the edges of the digit's strokes (a 1 read as "11").
    rng = np.random.default_rng(0)
    digit = np.asarray(Image.fromarray(seven).resize((112, 112), Image.Resampling.BILINEAR), np.float32) / 255.0
    grey = paper + (ink - paper) * digit + rng.normal(0.0, 0.01, digit.shape)
    grey = np.pad(np.clip(grey, 0, 1), 8, constant_values=paper).astype(np.float32)
    found, photo = normalize.ink_map(grey)
    assert photo
    strokes = np.pad(digit, 8) > 0.5
    assert found[strokes].mean() > 0.6  # the strokes are ink, their insides too
    assert found[np.pad(digit, 8) < 0.05].mean() < 0.05  # and the paper is not


def test_a_jpeg_reads_like_the_png(seven):
    drawing = canvas_from_mnist(seven, background="white")
    from_png = normalize.normalize_digit(decode.decode_image(encode(drawing)))
    from_jpeg = normalize.normalize_digit(decode.decode_image(encode(drawing, "JPEG", quality=70)))
    assert_mnist_like(from_jpeg)
    assert similarity(from_jpeg, from_png) > 0.97


def test_specks_of_noise_do_not_move_the_bounding_box(seven):
    drawing = canvas_from_mnist(seven, background="white")
    clean = normalize.normalize_digit(decode.decode_image(encode(drawing)))
    speckled = drawing.copy()
    for x, y in [(5, 5), (270, 8), (8, 270), (271, 272)]:
        speckled.paste((0, 0, 0), (x, y, x + 3, y + 3))
    assert np.abs(normalize.normalize_digit(decode.decode_image(encode(speckled))) - clean).max() < 0.02


def test_exif_orientation_is_applied(seven):
    drawing = canvas_from_mnist(seven, background="white")
    rotated = drawing.transpose(Image.Transpose.ROTATE_90)  # stored sideways, as a phone does
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    from_exif = normalize.normalize_digit(decode.decode_image(encode(rotated, "JPEG", quality=95, exif=exif)))
    upright = normalize.normalize_digit(decode.decode_image(encode(drawing, "JPEG", quality=95)))
    assert similarity(from_exif, upright) > 0.97


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "GIF"])
def test_other_formats_decode(seven, fmt):
    drawing = canvas_from_mnist(seven, background="white")
    image = normalize.normalize_digit(decode.decode_image(encode(drawing, fmt)))
    assert similarity(image, normalize.normalize_digit(decode.decode_image(encode(drawing)))) > 0.97


@pytest.mark.parametrize(
    "blank",
    [
        Image.new("RGBA", (280, 280), (0, 0, 0, 0)),
        Image.new("RGB", (280, 280), "white"),
        Image.new("L", (64, 64), 0),
        Image.new("L", (64, 64), 128),
    ],
    ids=["transparent", "white", "black", "grey"],
)
def test_an_image_with_no_ink_raises_empty_image_error(blank):
    with pytest.raises(decode.EmptyImageError):
        normalize.normalize_digit(decode.decode_image(encode(blank)))


@pytest.mark.parametrize(
    "data", [b"", b"hello, world", b"\x89PNG\r\n\x1a\n" + b"\0" * 40], ids=["empty", "text", "truncated png"]
)
def test_bytes_that_are_not_an_image_raise_image_decode_error(data):
    with pytest.raises(decode.ImageDecodeError):
        decode.decode_image(data)


def test_oversized_dimensions_are_refused_from_the_header():
    data = encode(Image.new("1", (5000, 5000), 1))
    with pytest.raises(decode.ImageTooLargeError):
        decode.decode_image(data)


def test_data_urls_and_bare_base64_decode_to_the_same_bytes(seven):
    data = encode(canvas_from_mnist(seven))
    url = png.to_png_data_url(seven / 255.0)
    assert url.startswith("data:image/png;base64,")
    import base64

    bare = base64.b64encode(data).decode()
    assert decode.decode_base64_image(bare) == data
    assert decode.decode_base64_image("data:image/png;base64," + bare) == data
    with pytest.raises(decode.ImageDecodeError):
        decode.decode_base64_image("data:text/plain;base64," + bare)
    with pytest.raises(decode.ImageDecodeError):
        decode.decode_base64_image("not base64 at all!")


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.floats(0.05, 0.95), st.integers(0, 2**32 - 1))
def test_component_labelling_matches_scipy(height, width, density, seed):
    mask = np.random.default_rng(seed).random((height, width)) < density
    found = normalize.label_components(mask)
    expected, count = ndimage.label(mask, structure=np.ones((3, 3)))
    assert found.count == count
    # The same components, numbered as SciPy numbers them: in the order a raster scan meets them (the order the
    # strokes are kept in).
    assert np.array_equal(found.labels, expected)
    for label in range(1, count + 1):
        rows, cols = np.nonzero(found.labels == label)
        assert found.areas[label] == rows.size
        width, height = cols.max() + 1 - cols.min(), rows.max() + 1 - rows.min()
        assert tuple(found.boxes[label]) == (cols.min(), rows.min(), width, height)
