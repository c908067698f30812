"""The HTTP API through Flask's test client: the three request forms and every client error."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from recognizer.png import encode_png
from synth.canvas import canvas_from_mnist, encode


@pytest.fixture(scope="module")
def png(mnist_test):
    return encode(canvas_from_mnist(mnist_test[0][0]))


def assert_answer(response, digit: int | None = None):
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) >= {"digit", "confidence", "probabilities", "preprocessed", "digits", "number", "low_confidence"}
    assert body["number"] == "".join(str(d["digit"]) for d in body["digits"])
    assert all(len(d["box"]) == 4 and len(d["probabilities"]) == 10 for d in body["digits"])
    assert len(body["probabilities"]) == 10
    assert sum(body["probabilities"]) == pytest.approx(1.0, abs=1e-4)
    assert body["digit"] == int(np.argmax(body["probabilities"]))
    assert body["confidence"] == pytest.approx(max(body["probabilities"]))
    if digit is not None:
        assert body["digit"] == digit
    prefix = "data:image/png;base64,"
    assert body["preprocessed"].startswith(prefix)
    preview = Image.open(io.BytesIO(base64.b64decode(body["preprocessed"][len(prefix) :])))
    assert preview.size == (28, 28)
    return body


def assert_error(response, status: int):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    message = response.get_json()["error"]
    assert isinstance(message, str) and len(message) > 20
    return message


def test_json_with_a_data_url(client, png, fake_model):
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    body = assert_answer(client.post("/predict", json={"image": url}), digit=3)
    assert fake_model.batches[-1].shape == (1, 28, 28, 1)
    assert fake_model.batches[-1].dtype == np.float32
    assert body["confidence"] == pytest.approx(0.91)


def test_json_with_bare_base64(client, png):
    assert_answer(client.post("/predict", json={"image": base64.b64encode(png).decode()}))


def test_multipart_upload(client, png):
    response = client.post(
        "/predict", data={"image": (io.BytesIO(png), "digit.png")}, content_type="multipart/form-data"
    )
    assert_answer(response)


def test_raw_image_body(client, png):
    assert_answer(client.post("/predict", data=png, content_type="image/png"))


def test_the_network_sees_the_preprocessed_image(client, png, fake_model):
    body = assert_answer(client.post("/predict", data=png, content_type="image/png"))
    preview = Image.open(io.BytesIO(base64.b64decode(body["preprocessed"].split(",", 1)[1])))
    seen = fake_model.batches[-1][0, :, :, 0]
    assert np.abs(np.asarray(preview, np.float32) / 255.0 - seen).max() <= 1 / 255


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({}, 400),
        ({"data": "", "content_type": "application/json"}, 400),
        ({"data": "null", "content_type": "application/json"}, 400),
        ({"data": "[1, 2]", "content_type": "application/json"}, 400),
        ({"data": "{broken", "content_type": "application/json"}, 400),
        ({"json": {"image": None}}, 400),
        ({"json": {"image": 42}}, 400),
        ({"json": {"image": ""}}, 400),
        ({"json": {"picture": "abc"}}, 400),
        ({"json": {"image": "%%% not base64 %%%"}}, 400),
        ({"json": {"image": base64.b64encode(b"just some text").decode()}}, 400),
        ({"json": {"image": "data:text/plain;base64," + base64.b64encode(b"hi").decode()}}, 400),
        ({"data": b"\x00\x01random bytes", "content_type": "image/png"}, 400),
        ({"data": b"<svg xmlns='http://www.w3.org/2000/svg'/>", "content_type": "image/svg+xml"}, 400),
        ({"data": "hello", "content_type": "text/plain"}, 415),
        ({"data": {"file": (io.BytesIO(b"x"), "x.png")}, "content_type": "multipart/form-data"}, 400),
    ],
    ids=[
        "no body",
        "empty json",
        "json null",
        "json array",
        "broken json",
        "image null",
        "image number",
        "image empty",
        "no image key",
        "bad base64",
        "base64 of text",
        "text data url",
        "random bytes",
        "svg",
        "text/plain",
        "multipart without image",
    ],
)
def test_client_errors_are_4xx_json_with_a_message(client, kwargs, status):
    assert_error(client.post("/predict", **kwargs), status)


@pytest.mark.parametrize("background", [(0, 0, 0, 0), (255, 255, 255, 255)], ids=["transparent", "white"])
def test_a_blank_drawing_is_422_asking_for_a_digit(client, background):
    blank = encode(Image.new("RGBA", (280, 280), background))
    response = client.post("/predict", json={"image": base64.b64encode(blank).decode()})
    message = assert_error(response, 422)
    assert "draw a digit" in message
    assert response.get_json()["finding"] == "The image has no ink."  # what was found, without the advice
    assert response.get_json()["no_digit"] is True  # an answer (nothing written), which the page shows calmly
    costly = client.post("/predict", data=b"\xff\xd8" + b"\xff\xfe\x00\x02" * 2000, content_type="image/jpeg")
    assert costly.status_code == 422 and "no_digit" not in costly.get_json()  # a refusal is not "no digit"


def test_unknown_routes_are_404_json(client):
    assert_error(client.get("/nothing-here"), 404)


def test_wrong_method_is_405_json(client):
    assert_error(client.get("/predict"), 405)
    answer = client.options("/predict")  # Flask's automatic OPTIONS answered an empty text/html 200
    assert_error(answer, 405)
    assert "POST" in answer.headers["Allow"]


def test_an_oversized_body_is_413_json(client, app):
    too_big = b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    assert_error(client.post("/predict", data=too_big, content_type="image/png"), 413)


def test_a_small_form_with_too_many_parts_or_a_huge_field_is_told_so_not_that_it_is_over_2_mb(client, png):
    many = {"image": (io.BytesIO(png), "seven.png"), **{f"field{i}": "x" for i in range(1500)}}
    message = assert_error(client.post("/predict", data=many, content_type="multipart/form-data"), 413)
    assert "too many fields" in message and "2 MB" not in message
    huge = {"image": (io.BytesIO(png), "seven.png"), "note": "a" * 600_000}
    message = assert_error(client.post("/predict", data=huge, content_type="multipart/form-data"), 413)
    assert "field too large" in message
    mode = {"image": (io.BytesIO(png), "seven.png"), "mode": "digit"}
    assert client.post("/predict", data=mode, content_type="multipart/form-data").status_code == 200


def test_a_wrong_method_on_corrections_names_the_corrections_routes(client):
    message = assert_error(client.get("/corrections"), 405)
    assert "POST /corrections" in message and "/predict" not in message


def test_healthz_names_the_model_and_backend(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "model": "mnist_cnn",
        "backend": "fake",
        "file": "fake.tflite",
        "little_file": None,
    }


def test_the_page_has_the_canvas_and_controls(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for marker in ['id="canvas"', 'id="prediction"', 'id="probabilities"', 'id="clear"', "aria-live"]:
        assert marker in html
    assert html.count("data-digit=") == 10
    assert "<script>" not in html and "onclick" not in html  # no inline script


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("get", "/", {}),
        ("post", "/predict", {"json": {"image": ""}}),
        ("get", "/nowhere", {}),
        ("get", "/healthz", {}),
        ("get", "/static/js/app.js", {}),
    ],
    ids=["page", "predict error", "404", "healthz", "static"],
)
def test_security_headers_are_on_every_response(client, method, path, kwargs):
    response = getattr(client, method)(path, **kwargs)
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Set-Cookie" not in response.headers


def test_predict_answers_are_not_cached(client, png):
    response = client.post("/predict", data=png, content_type="image/png")
    assert response.headers["Cache-Control"] == "no-store"


def test_a_number_is_answered_digit_by_digit_left_to_right_in_one_batch(client, fake_model, mnist_test):
    images, _ = mnist_test
    number = np.full((40, 4 * 60), 255, np.uint8)  # four digits far apart: no span can join two
    for i in range(4):
        number[6:34, 16 + 60 * i : 44 + 60 * i] = 255 - images[i]
    # mode=digit: the segmenting reader, whose network the fake stands in for (a wide image would go to the
    # string reader in mode auto).
    body = assert_answer(client.post("/predict?mode=digit", data=encode_png(number), content_type="image/png"))
    assert body["number"] == "3333"  # the fake model reads every digit as 3
    # One batch holds every candidate: the four digits, the slices of any wide one, and the whole.
    assert len(fake_model.batches) == 1
    assert fake_model.batches[0].shape[1:] == (28, 28, 1) and fake_model.batches[0].shape[0] >= 4
    lefts = [d["box"][0] for d in body["digits"]]
    assert lefts == sorted(lefts)
    for d in body["digits"]:
        x, y, w, h = d["box"]
        assert 0 <= x and x + w <= number.shape[1] and 0 <= y and y + h <= number.shape[0]


def test_a_single_digit_keeps_the_single_digit_fields(client, png):
    body = assert_answer(client.post("/predict", data=png, content_type="image/png"))
    assert body["number"] == "3" and len(body["digits"]) == 1
    assert body["digits"][0]["probabilities"] == body["probabilities"]
    assert body["low_confidence"] is False  # the fake model is 91% sure


def test_an_unexpected_failure_is_a_json_500_without_a_stack_trace(png):
    from app import create_app

    class BrokenModel:
        name, path = "broken", "broken.tflite"

        def predict(self, batch):
            raise RuntimeError("secret internal detail")

    client = create_app({"MODEL": BrokenModel()}).test_client()
    response = client.post("/predict", data=png, content_type="image/png")
    assert response.status_code == 500 and response.mimetype == "application/json"
    body = response.get_data(as_text=True)
    assert "secret internal detail" not in body and "Traceback" not in body
    assert "try again" in response.get_json()["error"]


def test_the_boxes_of_a_big_photo_are_in_its_own_pixels(real_client, mnist_test):
    """Issue 23, 2: a 4000x3000 JPEG is read in a reduced copy, yet each box lies over its digit's ink as sent."""
    from test_strings import number_image

    number = number_image("2026", 5, mnist_test, height=100)
    scale = 7  # the number 700 px tall, as a phone photo of a cheque would hold it
    number = np.asarray(Image.fromarray(number).resize((number.shape[1] * scale, number.shape[0] * scale)))
    page = np.full((3000, 4000), 200, np.uint8)  # grey paper: a photo, not a scan
    top, left = 1100, 900
    page[top : top + number.shape[0], left : left + number.shape[1]] = np.minimum(
        page[top : top + number.shape[0], left : left + number.shape[1]], number
    )
    buffer = io.BytesIO()
    Image.fromarray(page).convert("RGB").save(buffer, "JPEG", quality=90)
    response = real_client.post("/predict", data=buffer.getvalue(), content_type="image/jpeg")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["number"] == "2026" and len(body["digits"]) == 4
    ink = page < 128
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    height = rows[-1] - rows[0] + 1
    slack = 0.1 * height
    covered = np.zeros_like(ink)
    for digit in body["digits"]:
        x, y, w, h = digit["box"]
        # Inside the written number, about its height, and holding ink of its own (not a quarter-size box).
        assert cols[0] - slack <= x and x + w <= cols[-1] + 1 + slack, digit["box"]
        assert rows[0] - slack <= y and y + h <= rows[-1] + 1 + slack, digit["box"]
        assert h >= 0.6 * height and w >= 0.15 * height, digit["box"]
        assert ink[y : y + h, x : x + w].mean() > 0.05, digit["box"]
        covered[y : y + h, x : x + w] = True
    assert (covered & ink).sum() >= 0.95 * ink.sum()  # together the boxes hold the number's ink
    lefts = [d["box"][0] for d in body["digits"]]
    assert lefts == sorted(lefts)
