"""Awkward and hostile input: odd but valid images are read right, everything else is a clear 4xx.

The request path raises only the project's own PreprocessingError subclasses; the Hypothesis
properties below feed random bytes and random images of random modes and sizes through
``read.predict_image`` with the committed model and through the Flask client (200 or a 4xx JSON).
"""

from __future__ import annotations

import io
import struct
import sys
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from PIL import Image

import app as app_module
from bench import hostile
from recognizer import backends, decode, headers
from recognizer.read import predict_image
from synth.canvas import canvas_from_mnist, encode


@pytest.fixture(scope="module")
def seven(mnist_test):
    return mnist_test[0][0]


@pytest.fixture(scope="module")
def seven_on_white(seven):
    return canvas_from_mnist(seven, background="white").convert("L")


def read(real_client, data: bytes):
    return real_client.post("/predict", data=data, content_type="image/png")


def assert_reads(real_client, data: bytes, digit: int = 7):
    response = read(real_client, data)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["digit"] == digit


def test_a_16_bit_grey_png_is_scaled_by_its_own_range(real_client, seven_on_white):
    sixteen = Image.fromarray(np.asarray(seven_on_white, np.uint16) * 257)
    assert sixteen.mode.startswith("I;16")
    assert_reads(real_client, encode(sixteen))


def test_a_palette_png_with_a_transparent_entry(real_client, seven):
    palette = canvas_from_mnist(seven, background="transparent").convert("P")
    data = encode(palette)
    assert Image.open(io.BytesIO(data)).info.get("transparency") is not None or Image.open(io.BytesIO(data)).mode == "P"
    assert_reads(real_client, data)


def test_an_la_png(real_client, seven):
    assert_reads(real_client, encode(canvas_from_mnist(seven, background="transparent").convert("LA")))


def test_a_cmyk_jpeg(real_client, seven_on_white):
    assert_reads(real_client, encode(seven_on_white.convert("CMYK"), "JPEG", quality=90))


def test_an_animated_gif_is_read_from_its_first_frame(real_client, seven_on_white, mnist_test):
    images, labels = mnist_test
    one = canvas_from_mnist(images[2], background="white").convert("L")  # MNIST's third test digit is a 1
    assert labels[2] == 1
    buffer = io.BytesIO()
    seven_on_white.save(buffer, format="GIF", save_all=True, append_images=[one, one], duration=100, loop=0)
    assert_reads(real_client, buffer.getvalue(), 7)


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "PNG", "JPEG"])
def test_white_ink_on_black_in_every_format(real_client, seven, fmt):
    assert_reads(real_client, encode(canvas_from_mnist(seven, background="black"), fmt))


@pytest.mark.parametrize("colour", [0, 255], ids=["black", "white"])
def test_a_1x1_image_is_a_blank_drawing(real_client, colour):
    assert read(real_client, encode(Image.new("L", (1, 1), colour))).status_code == 422


def test_a_12000x12000_png_of_a_few_kb_is_refused_without_decoding(real_client):
    bomb = encode(Image.new("1", (12000, 12000), 1), optimize=True)
    assert len(bomb) < 200_000
    response = read(real_client, bomb)
    assert response.status_code == 413
    assert "pixels" in response.get_json()["error"]


def test_an_image_over_pillows_own_bomb_limit_is_413_not_400():
    header_only = encode(Image.new("1", (20000, 20000), 1), optimize=True)
    with pytest.raises(decode.ImageTooLargeError):
        decode.decode_image(header_only)


def test_a_truncated_png_is_400(real_client, seven_on_white):
    data = encode(seven_on_white)
    response = read(real_client, data[: len(data) // 2])
    assert response.status_code == 400


def test_a_large_phone_photo_jpeg_is_read(real_client, seven):
    photo = canvas_from_mnist(seven, size=3000, box=(900, 700, 1200), background="white")
    assert_reads(real_client, encode(photo, "JPEG", quality=85))


# ---- properties ---------------------------------------------------------------------------

SIGNATURES = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"RIFF\0\0\0\0WEBP"]


def assert_reading_or_preprocessing_error(data: bytes, backend):
    """predict_image gives a sound Reading, or raises a PreprocessingError; nothing else."""
    try:
        reading = predict_image(data, backend)
    except decode.PreprocessingError:
        return
    body = reading.to_json()
    assert len(body["probabilities"]) == 10 and np.isfinite(body["probabilities"]).all()
    assert body["number"] == "".join(str(d["digit"]) for d in body["digits"])


def assert_200_or_4xx_json(client, data: bytes, content_type: str = "image/png"):
    response = client.post("/predict", data=data, content_type=content_type)
    assert response.status_code == 200 or 400 <= response.status_code < 500, response.get_json()
    assert response.mimetype == "application/json"
    assert ("error" in response.get_json()) == (response.status_code != 200)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(SIGNATURES), body=st.binary(max_size=4096))
def test_random_bytes_give_a_reading_or_a_preprocessing_error(litert_model, prefix, body):
    assert_reading_or_preprocessing_error(prefix + body, litert_model)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.sampled_from(SIGNATURES),
    body=st.binary(max_size=4096),
    content_type=st.sampled_from(["image/png", "image/jpeg", "application/octet-stream", "multipart/form-data"]),
)
def test_random_bytes_over_http_give_200_or_a_4xx_json(real_client, prefix, body, content_type):
    assert_200_or_4xx_json(real_client, prefix + body, content_type)


MODES_BY_FORMAT = {
    "PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I"],
    "JPEG": ["L", "RGB", "CMYK"],
    "WEBP": ["RGB", "RGBA"],
    "BMP": ["1", "L", "P", "RGB"],
    "GIF": ["1", "L", "P"],
}


@st.composite
def random_images(draw):
    fmt = draw(st.sampled_from(sorted(MODES_BY_FORMAT)))
    mode = draw(st.sampled_from(MODES_BY_FORMAT[fmt]))
    width, height = draw(st.integers(1, 80)), draw(st.integers(1, 80))
    if draw(st.booleans()):  # strips and tiny images, where slicing once made an empty unit
        width, height = draw(st.sampled_from([(width, 1), (1, height), (width * 25, height // 8 + 1)]))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["noise", "blank", "blob"]))
    rng = np.random.default_rng(seed)
    channels = len(Image.new(mode, (1, 1)).getbands())
    top = 65535 if mode in ("I;16", "I") else 255
    if kind == "noise":
        pixels = rng.integers(0, top + 1, (height, width, channels))
    elif kind == "blank":
        pixels = np.full((height, width, channels), rng.integers(0, top + 1))
    else:
        pixels = np.full((height, width, channels), top)
        y, x = rng.integers(0, height), rng.integers(0, width)
        pixels[y : y + max(1, height // 4), x : x + max(1, width // 4)] = 0
    if channels == 1:
        dtype = {"I;16": np.uint16, "I": np.int32}.get(mode, np.uint8)
        image = (
            Image.fromarray(pixels[:, :, 0].astype(dtype)).convert(mode)
            if mode != "I;16"
            else Image.fromarray(pixels[:, :, 0].astype(np.uint16))
        )
    else:
        image = (
            Image.fromarray(pixels.astype(np.uint8), "RGBA" if channels == 4 and mode != "CMYK" else None)
            if mode in ("RGB", "RGBA")
            else Image.frombytes(mode, (width, height), pixels.astype(np.uint8).tobytes())
        )
    try:
        return encode(image, fmt)
    except (OSError, ValueError, KeyError):
        assume(False)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=random_images())
def test_random_images_of_any_mode_and_size_give_a_reading_or_a_preprocessing_error(litert_model, data):
    assert_reading_or_preprocessing_error(data, litert_model)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=random_images())
def test_random_images_over_http_give_200_or_a_4xx_json(real_client, data):
    assert_200_or_4xx_json(real_client, data)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=300))
def test_any_json_image_string_gives_json_and_never_a_5xx(real_client, text):
    response = real_client.post("/predict", json={"image": text})
    assert response.status_code < 500 and "error" in response.get_json()


# ---- start-up failures ----------------------------------------------------------------------


def test_a_truncated_or_wrong_model_file_stops_the_start(tmp_path):
    from recognizer.mnist import KERAS_MODEL_PATH, TFLITE_MODEL_PATH

    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(TFLITE_MODEL_PATH.read_bytes()[:5000])
    wrong = tmp_path / "wrong.tflite"
    wrong.write_bytes(KERAS_MODEL_PATH.read_bytes())  # an HDF5 file where a flatbuffer belongs
    for path in (truncated, wrong):
        with pytest.raises(backends.ModelLoadError, match="python model.py"):
            app_module.create_app({"MODEL_PATH": str(path)})


def test_a_missing_runtime_package_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(backends.ModelLoadError, match="pip install -r requirements.txt"):
        app_module.create_app()


def test_an_unwritable_temp_dir_stops_the_start(monkeypatch, fake_model):
    def no_temp(*args, **kwargs):
        raise FileNotFoundError("No usable temporary directory found")

    monkeypatch.setattr(app_module.tempfile, "TemporaryFile", no_temp)
    with pytest.raises(app_module.StartupError, match="TMPDIR"):
        app_module.create_app({"MODEL": fake_model})


# ---- issue 24: decoding whose cost is bounded by the header, before Pillow opens anything ----------


@pytest.fixture
def pillow_never_opens(monkeypatch):
    """Record every Image.open call (and fail it): the refusals below must come from the header alone."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError("Pillow was asked to open an input that the header check should refuse")

    monkeypatch.setattr(decode.Image, "open", refuse)
    return calls


def _tiny(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8, 8), 255).save(buffer, format=fmt)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _rle_bmp(bits: int) -> bytes:
    """A 4096x4096 RLE8 (bits 8) or RLE4 (bits 4) BMP: a 1-pixel run and end-of-line on each row (17 KB)."""
    rows = b"\x01\x00\x00\x00" * 4096 + b"\x00\x01"
    offset = 14 + 40 + 4 * (1 << bits)
    info = struct.pack("<IiiHHIIiiII", 40, 4096, 4096, 1, bits, {8: 1, 4: 2}[bits], len(rows), 0, 0, 1 << bits, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) + info + b"\0" * (offset - 54) + rows


def _after_gif_header(blocks: bytes) -> bytes:
    """An 8x8 GIF with ``blocks`` inserted after its header and global colour table."""
    data = _tiny("GIF")
    end = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    return data[:end] + blocks + data[end:]


COSTLY_HEADERS = {  # name: (body, status, words the error names)
    "RLE8 BMP": (lambda: _rle_bmp(8), 400, "RLE"),
    "RLE4 BMP": (lambda: _rle_bmp(4), 400, "RLE"),
    "JPEG, 2 MB of fill bytes": (
        lambda: _tiny("JPEG")[:2] + b"\xff" * 2_000_000 + _tiny("JPEG")[2:],
        422,
        "fill bytes",
    ),
    "JPEG, 500,000 COM markers": (
        lambda: _tiny("JPEG")[:2] + b"\xff\xfe\0\x02" * 500_000 + _tiny("JPEG")[2:],
        422,
        "markers",
    ),
    "PNG, 174,000 chunks": (
        lambda: _tiny("PNG")[:33] + _png_chunk(b"prVt") * 174_000 + _tiny("PNG")[33:],
        422,
        "chunks",
    ),
    "PNG, 1,900 ICC profiles of 1 KB inflating to 1 MiB each": (
        hostile.png_profiles,
        422,
        "compressed metadata chunks",
    ),
    "GIF, 1,000,000 comment blocks": (
        lambda: _after_gif_header(b"\x21\xfe" + b"\x01a" * 1_000_000 + b"\0"),
        422,
        "extension blocks",
    ),
}


@pytest.mark.parametrize("name", list(COSTLY_HEADERS))
def test_inputs_that_pillow_parses_slowly_are_refused_from_the_header(client, pillow_never_opens, name):
    build, status, words = COSTLY_HEADERS[name]
    data = build()
    assert len(data) <= app_module.MAX_UPLOAD_BYTES
    response = client.post("/predict", data=data, content_type="image/png")
    assert response.status_code == status, response.get_json()
    assert words in response.get_json()["error"]
    assert pillow_never_opens == []


def test_a_progressive_jpeg_over_the_decode_budget_is_413_before_libjpeg_allocates(client, pillow_never_opens):
    buffer = io.BytesIO()  # 3000x3000 CMYK: libjpeg would hold 4 x 3000 x 3000 x 2 bytes = 69 MB of coefficients
    Image.new("CMYK", (3000, 3000), (0, 0, 0, 0)).save(buffer, format="JPEG", progressive=True)
    response = client.post("/predict", data=buffer.getvalue(), content_type="image/jpeg")
    assert response.status_code == 413, response.get_json()
    assert "progressive" in response.get_json()["error"] and "69 MB" in response.get_json()["error"]
    assert pillow_never_opens == []


def _sequential_jpeg_header(scan_components: int) -> bytes:
    """SOI, a baseline frame of 4096x4096 in 3 components (1x1 sampling) and a first scan of ``scan_components``."""
    frame = struct.pack(">BHHB", 8, 4096, 4096, 3) + b"".join(bytes([i, 0x11, 0]) for i in (1, 2, 3))
    scan = bytes([scan_components]) + b"".join(bytes([i, 0]) for i in range(1, scan_components + 1)) + b"\0\x3f\0"
    return (
        b"\xff\xd8"
        + b"\xff\xc0"
        + struct.pack(">H", 2 + len(frame))
        + frame
        + b"\xff\xda"
        + struct.pack(">H", 2 + len(scan))
        + scan
        + b"\0" * 64
        + b"\xff\xd9"
    )


def test_a_sequential_jpeg_scanned_one_component_at_a_time_is_held_to_the_budget_too(client, pillow_never_opens):
    # libjpeg buffers every coefficient when the first scan holds fewer components than the frame: 96 MB here
    response = client.post("/predict", data=_sequential_jpeg_header(1), content_type="image/jpeg")
    assert response.status_code == 413 and "multi-scan JPEG would need 96 MB" in response.get_json()["error"]
    assert pillow_never_opens == []
    interleaved = headers.jpeg_header(_sequential_jpeg_header(3), decode.MAX_JPEG_MARKERS, decode.MAX_JPEG_PADDING)
    assert interleaved.scan_components == 3 and not interleaved.buffered  # decoded a row of blocks at a time


@pytest.mark.parametrize("mode, subsampling, mib", [("CMYK", -1, 128), ("RGB", 0, 96), ("RGB", 2, 48), ("L", -1, 32)])
def test_the_coefficient_buffer_is_width_x_height_x_components_x_2_bytes_adjusted_for_sampling(mode, subsampling, mib):
    buffer = io.BytesIO()
    Image.new(mode, (4096, 4096)).save(buffer, format="JPEG", progressive=True, subsampling=subsampling)
    header = headers.jpeg_header(buffer.getvalue(), decode.MAX_JPEG_MARKERS, decode.MAX_JPEG_PADDING)
    assert header.progressive and header.coefficient_bytes() == mib * 2**20


def test_progressive_jpegs_within_the_budget_and_ordinary_headers_are_still_decoded(seven_on_white):
    buffer = io.BytesIO()  # 4:2:0 colour at 2048 (12 MB of coefficients), with EXIF and an ICC profile
    seven_on_white.convert("RGB").resize((2048, 2048)).save(
        buffer, format="JPEG", progressive=True, exif=Image.Exif(), icc_profile=b"\0" * 3000
    )
    assert max(decode.decode_image(buffer.getvalue()).shape) <= decode.WORK_SIDE
    few = _tiny("JPEG")[:2] + b"\xff\xfe\0\x02" * (decode.MAX_JPEG_MARKERS - 10) + _tiny("JPEG")[2:]
    assert decode.decode_image(few).shape == (8, 8)
    chunks = _tiny("PNG")[:33] + _png_chunk(b"prVt") * (decode.MAX_PNG_CHUNKS - 4) + _tiny("PNG")[33:]
    assert decode.decode_image(chunks).shape == (8, 8)
    text = b"".join(_png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"note")) for _ in range(8))
    profiled = hostile.png_profiles(1)
    profiled = profiled[:-12] + text + profiled[-12:]  # an editor's profile and notes, before IEND
    assert decode.decode_image(profiled).shape == (8, 8)


def test_deeply_nested_json_to_corrections_is_a_400_json_not_a_500(client):
    body = b'{"label": 7, "image": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client.post("/corrections", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.get_json()["error"]


def test_a_jpeg_opened_as_mpo_is_held_to_the_jpeg_scan_budget(client):
    # The same progressive JPEG of thousands of repeated scans: seconds of libjpeg's work for 78 KB, with or
    # without a phone's MPF segment (which once made it skip the scan count).
    data = hostile.with_mpf(hostile.many_scan_jpeg(6000, 1024))
    assert Image.open(io.BytesIO(data)).format == "MPO"
    response = client.post("/predict", data=data, content_type="image/jpeg")
    assert response.status_code == 422 and "scans" in response.get_json()["error"]


def test_a_phone_photo_saved_as_mpo_is_read_as_a_jpeg_would_be(real_client, seven_on_white):
    # A 3000x3000 colour photo is over the budget of formats decoded at full size, not of a JPEG (decoded reduced).
    photo = io.BytesIO()
    big = seven_on_white.resize((3000, 3000)).convert("RGB")
    big.save(photo, "MPO", save_all=True, append_images=[Image.new("RGB", (64, 64), "white")], quality=90)
    assert Image.open(io.BytesIO(photo.getvalue())).format == "MPO"
    response = real_client.post("/predict", data=photo.getvalue(), content_type="image/jpeg")
    assert response.status_code == 200 and response.get_json()["digit"] == 7, response.get_json()


def test_an_exif_block_larger_than_a_jpeg_can_carry_is_not_parsed(real_client):
    # 40,000 EXIF entries in a PNG's eXIf chunk (a JPEG holds at most 64 KB of EXIF) took seconds to parse in
    # Python; it is skipped and the image read as stored, though the block asks for a quarter turn.
    data = hostile.exif_png(40_000, orientation=6)
    assert len(data) > decode.MAX_EXIF_BYTES
    assert Image.open(io.BytesIO(data)).getexif().get(0x0112) == 6  # Pillow reads the block
    response = real_client.post("/predict", data=data, content_type="image/png")
    assert response.status_code == 200 and response.get_json()["digit"] == 7, response.get_json()  # not turned
    upright = decode.decode_image(hostile.seven_png())
    assert np.array_equal(decode.decode_image(data), upright)
    turned = decode.decode_image(hostile.exif_png(10, orientation=6))  # a camera's small block is applied
    assert np.array_equal(turned, np.rot90(upright, -1))


@pytest.mark.parametrize("route", ["/predict", "/corrections"])
@pytest.mark.parametrize(
    "body, says",
    [
        (b'{"image": ' + b"9" * 100_000 + b"}", "not valid JSON"),  # an object Python refuses (over 4,300 digits)
        (b'{"image": "abc"', "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"null", "not a JSON object"),
    ],
    ids=["huge-number", "truncated", "array", "null"],
)
def test_json_that_cannot_be_read_says_why(client, route, body, says):
    # A helper's finding (2026-12-06): an object holding a 100,000-digit number was answered "The body is not a
    # JSON object", which it is.
    response = client.post(route, data=body, content_type="application/json")
    assert response.status_code == 400
    assert says in response.get_json()["error"]
