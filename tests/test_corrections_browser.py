"""The correction bar in headless Chromium (Debian's): draw, get a reading, press the right digit, a row appears."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app import create_app
from corrections import Correction, db
from page_driver import CHROMIUM, draw_with_mouse, serve

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"CI needs Chromium at {CHROMIUM}: apt-get install -y chromium")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

SEVEN = [(0.22, 0.2), (0.78, 0.2), (0.42, 0.85)]  # a 7 in canvas fractions


@pytest.fixture(scope="module")
def served(litert_model, tmp_path_factory):
    """The app with the real model and a fresh SQLite database, over HTTP."""
    database = tmp_path_factory.mktemp("corrections") / "corrections.sqlite3"
    app = create_app({"MODEL": litert_model, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    with serve(app) as url:
        yield app, url


@pytest.fixture(scope="module")
def page(browser, served):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    yield page
    page.close()


def draw(page, stroke):
    """Draw one stroke (canvas fractions) with the mouse."""
    draw_with_mouse(page, [stroke])


def stored(app) -> list[tuple[int, str]]:
    with app.app_context():
        return [(r.label, r.reading) for r in db.session.scalars(db.select(Correction).order_by(Correction.id))]


def test_a_person_corrects_a_reading_and_a_row_appears(served, page):
    app, url = served
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    bar = page.locator("#correction")
    expect(bar).to_be_hidden()  # nothing to correct before a reading
    expect(page.locator("footer")).to_contain_text("Only when you press a correction")

    draw(page, SEVEN)
    expect(page.locator("#prediction")).to_have_text("7")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("nothing about you is stored")
    assert stored(app) == []  # a reading alone stores nothing

    # Say it was a 1 (pretend the reading was wrong), with the keyboard.
    page.get_by_role("button", name="It was 1").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#correction-status")).to_have_text("Thanks — saved.")
    assert stored(app) == [(1, "7")]  # the label the person chose, the reading the server made
    expect(page.get_by_role("button", name="It was 1")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="It was 2")).to_be_disabled()  # one correction per reading
    assert page.evaluate("document.getElementById('canvas').toDataURL().length") > 3000  # drawing kept

    # A new stroke hides the bar; the next reading offers it again, and "not a digit" is stored as 10.
    page.click("#clear")
    expect(bar).to_be_hidden()
    draw(page, [(0.1, 0.5), (0.9, 0.52)])
    expect(bar).to_be_visible()
    page.get_by_role("button", name="not a digit").click()
    expect(page.locator("#correction-status")).to_have_text("Thanks — saved.")
    assert [label for label, _ in stored(app)] == [1, 10]
    assert errors == []


def test_a_failed_save_shows_the_error_and_keeps_the_drawing(served, page):
    app, url = served
    page.goto(url)
    page.route("**/corrections", lambda route: route.fulfill(
        status=503, content_type="application/json",
        body='{"error": "Corrections cannot be saved right now (the database is unavailable); '
             'please try again later."}'))
    draw(page, SEVEN)
    before = page.evaluate("document.getElementById('canvas').toDataURL()")
    page.get_by_role("button", name="It was 7").click()
    expect(page.locator("#correction-status")).to_contain_text("cannot be saved right now")
    expect(page.get_by_role("button", name="It was 7")).to_be_enabled()  # the person may try again
    assert page.evaluate("document.getElementById('canvas').toDataURL()") == before
    expect(page.locator("#prediction")).to_have_text("7")
    page.unroute("**/corrections")
