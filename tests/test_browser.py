"""The page in headless Chromium (Debian's package), driven by Playwright: draw, and see the answer.

Chromium comes from `apt-get install chromium` (.ci/run does it); nothing is downloaded. Without it
the tests are skipped, except in CI, where a missing browser is a failure.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import threading
from pathlib import Path

import pytest
from PIL import Image

from app import create_app

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"CI needs Chromium at {CHROMIUM}: apt-get install -y chromium")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(litert_model):
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, create_app({"MODEL": litert_model}), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Strokes in canvas fractions (0..1): what a person draws for these digits.
SEVEN = [[(0.22, 0.2), (0.78, 0.2), (0.42, 0.85)]]
ONE = [[(0.38, 0.3), (0.55, 0.15), (0.55, 0.85)]]
FOUR = [[(0.6, 0.15), (0.25, 0.6), (0.8, 0.6)], [(0.65, 0.38), (0.65, 0.88)]]


def points(box, stroke, steps=12):
    """Interpolate a polyline given in canvas fractions into page coordinates."""
    out = []
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
        for i in range(steps):
            t = i / steps
            out.append((box["x"] + (x0 + (x1 - x0) * t) * box["width"],
                        box["y"] + (y0 + (y1 - y0) * t) * box["height"]))
    x, y = stroke[-1]
    out.append((box["x"] + x * box["width"], box["y"] + y * box["height"]))
    return out


def draw_with_mouse(page, strokes):
    box = page.locator("#canvas").bounding_box()
    for stroke in strokes:
        path = points(box, stroke)
        page.mouse.move(*path[0])
        page.mouse.down()
        for x, y in path[1:]:
            page.mouse.move(x, y)
        page.mouse.up()


def draw_with_touch(page, strokes):
    cdp = page.context.new_cdp_session(page)
    box = page.locator("#canvas").bounding_box()
    for stroke in strokes:
        path = points(box, stroke)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": path[0][0], "y": path[0][1]}]})
        for x, y in path[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def screenshot(page, tmp_path, name):
    """Save a screenshot into $SCREENSHOT_DIR (the README's come from here) or the test's tmp folder."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / name)


def assert_chart_shows(page, digit):
    chart = page.locator("#probabilities > li")
    expect(chart).to_have_count(10)
    expect(page.locator("#probabilities > li.top")).to_have_attribute("data-digit", str(digit))
    expect(page.locator("#preprocessed")).to_be_visible()
    assert "%" in page.locator("#confidence").inner_text()


def test_drawing_with_the_mouse_is_read_when_the_stroke_ends(browser, server, tmp_path):
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(server)
    expect(page.locator(".drop-hint")).to_be_hidden()  # shown only while a file is dragged over
    draw_with_mouse(page, SEVEN)
    expect(page.locator("#prediction")).to_have_text("7")
    assert_chart_shows(page, 7)
    screenshot(page, tmp_path, "screenshot-desktop.png")

    page.click("#clear")
    expect(page.locator("#prediction")).to_have_text("")
    draw_with_mouse(page, ONE)
    expect(page.locator("#prediction")).to_have_text("1")
    assert errors == []
    page.close()


def test_drawing_with_a_finger_on_a_phone_is_read_and_the_page_does_not_scroll(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3,
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    sent = []
    page.on("request", lambda request: request.url.endswith("/predict") and sent.append(request.post_data_json))
    page.goto(server)
    page.locator("#canvas").scroll_into_view_if_needed()
    scroll_before = page.evaluate("window.scrollY")
    draw_with_touch(page, FOUR)
    expect(page.locator("#prediction")).to_have_text("4")
    # The page posts a PNG of at most 140 px a side, not the 3x backing store.
    png = base64.b64decode(sent[-1]["image"].split(",", 1)[1])
    assert max(Image.open(io.BytesIO(png)).size) <= 140
    assert_chart_shows(page, 4)
    assert page.evaluate("window.scrollY") == scroll_before
    screenshot(page, tmp_path, "screenshot-phone.png")
    # The backing store follows devicePixelRatio, so strokes are sharp on the phone.
    assert page.evaluate("document.getElementById('canvas').width") >= 3 * page.locator("#canvas").bounding_box()["width"] - 1
    context.close()


def test_a_failing_server_shows_its_error_and_keeps_the_drawing(browser, server):
    page = browser.new_page()
    page.goto(server)
    page.route("**/predict", lambda route: route.fulfill(
        status=503, content_type="application/json", body='{"error": "The server is busy; try again in a moment."}'))
    draw_with_mouse(page, SEVEN)
    expect(page.locator("#status")).to_have_text("The server is busy; try again in a moment.")
    page.unroute("**/predict")
    page.click("#predict")  # the same drawing, sent again
    expect(page.locator("#prediction")).to_have_text("7")
    expect(page.locator("#status")).to_have_text("")
    page.close()


def test_predict_on_an_empty_canvas_asks_for_a_drawing(browser, server):
    page = browser.new_page()
    page.goto(server)
    page.click("#predict")
    expect(page.locator("#status")).to_contain_text("Draw a digit")
    page.close()


def test_uploading_an_image_file_reads_it(browser, server, tmp_path):
    from synthetic import stroke_digit

    photo = tmp_path / "digit.jpg"
    stroke_digit(7, size=600, width=40, transparent=False).convert("RGB").save(photo, quality=85)
    page = browser.new_page()
    page.goto(server)
    page.set_input_files("#upload", photo)
    expect(page.locator("#prediction")).to_have_text("7")
    page.close()


def shifted(strokes, left, width):
    """Place strokes drawn in a unit square into the horizontal band [left, left + width] of the canvas."""
    return [[(left + x * width, y) for x, y in stroke] for stroke in strokes]


def test_number_mode_reads_a_whole_number_and_boxes_each_digit(browser, server, tmp_path):
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(server)
    page.click("#mode")
    expect(page.locator("#mode")).to_have_attribute("aria-pressed", "true")
    box = page.locator("#canvas").bounding_box()
    assert box["width"] > 2.5 * box["height"]  # the wide canvas
    for i, digit in enumerate([ONE, SEVEN, FOUR]):
        draw_with_mouse(page, shifted(digit, 0.08 + i * 0.3, 0.25))
    expect(page.locator("#prediction")).to_have_text("174")
    expect(page.locator("#boxes > span")).to_have_count(3)
    assert [b.get_attribute("data-digit") for b in page.locator("#boxes > span").all()] == ["1", "7", "4"]
    screenshot(page, tmp_path, "screenshot-number.png")
    page.close()
