"""The correction bar in headless Chromium (Debian's): draw, get a reading, press the right digit, a row appears."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from app import create_app
from corrections import Correction, db
from page_driver import CHROMIUM, FOUR, ONE, PHONE, SEVEN, draw_with_mouse, serve, shifted

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"CI needs Chromium at {CHROMIUM}: apt-get install -y chromium")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

NUMBER_174 = [s for i, d in enumerate([ONE, SEVEN, FOUR]) for s in shifted(d, 0.08 + i * 0.3, 0.25)]
SEVEN = SEVEN[0]  # a 7 in canvas fractions: one stroke


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
    assert page.evaluate("document.getElementById('canvas').toDataURL().length") > 3000  # drawing kept
    # A mis-tap is put right: another press changes the row, Withdraw removes it (issue 23, finding 4).
    page.get_by_role("button", name="It was 2").click()
    expect(page.locator("#correction-status")).to_have_text("Changed to 2 — saved.")
    assert stored(app) == [(2, "7")]
    expect(page.get_by_role("button", name="It was 2")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="It was 1")).to_have_attribute("aria-pressed", "false")
    page.get_by_role("button", name="Withdraw").click()
    expect(page.locator("#correction-status")).to_contain_text("Withdrawn")
    assert stored(app) == []
    expect(page.get_by_role("button", name="Withdraw")).to_be_hidden()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "It was 2"  # focus kept

    # A new stroke hides the bar; the next reading offers it again, and "not a digit" is stored as 10.
    page.click("#clear")
    expect(bar).to_be_hidden()
    draw(page, [(0.1, 0.5), (0.9, 0.52)])
    expect(bar).to_be_visible()
    page.get_by_role("button", name="not a digit").click()
    expect(page.locator("#correction-status")).to_have_text("Thanks — saved.")
    assert [label for label, _ in stored(app)] == [10]
    assert errors == []


def test_a_failed_save_shows_the_error_and_keeps_the_drawing(served, page):
    app, url = served
    page.goto(url)
    page.route(
        "**/corrections",
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body='{"error": "Corrections cannot be saved right now (the database is unavailable); '
            'please try again later."}',
        ),
    )
    draw(page, SEVEN)
    before = page.evaluate("document.getElementById('canvas').toDataURL()")
    page.get_by_role("button", name="It was 7").click()
    expect(page.locator("#correction-status")).to_contain_text("cannot be saved right now")
    expect(page.get_by_role("button", name="It was 7")).to_be_enabled()  # the person may try again
    assert page.evaluate("document.getElementById('canvas').toDataURL()") == before
    expect(page.locator("#prediction")).to_have_text("7")
    page.unroute("**/corrections")


def stored_numbers(app) -> list[tuple]:
    with app.app_context():
        return [
            (r.label, r.number, r.number_text, r.reading)
            for r in db.session.scalars(db.select(Correction).order_by(Correction.id))
        ]


def test_a_misread_number_is_corrected_as_a_whole_and_a_mis_tap_put_right(served, page):
    """Issue 23, finding 4: a touching "3850" read "3890" could be corrected only as one digit 0-9: pressing 5
    stored label 5 against the reading "3890", which the export could not pair, and a mis-tap stayed."""
    app, url = served
    with app.app_context():
        db.session.execute(db.delete(Correction))
        db.session.commit()
    page.goto(url)
    page.click("#mode")
    draw_with_mouse(page, NUMBER_174)
    expect(page.locator("#prediction")).to_have_text("174")
    field = page.get_by_role("textbox", name="The number it was")
    expect(field).to_be_visible()
    expect(field).to_have_value("174")  # the number as read, to be put right
    expect(page.get_by_role("button", name="It was 5")).to_be_hidden()  # not one digit for a number
    expect(page.locator("#correction .correction-choices button:visible")).to_have_count(2)  # Save, not a number

    field.fill("17a")  # what the API would refuse is not sent
    field.press("Enter")
    expect(page.locator("#correction-status")).to_contain_text("digits 0–9")
    assert stored_numbers(app) == []

    field.fill("1,47")  # the whole number, as written
    field.press("Enter")
    expect(page.locator("#correction-status")).to_have_text("Thanks — saved.")
    assert stored_numbers(app) == [(None, "147", "1,47", "174")]  # read again in number mode, as the page read it
    field.fill("147")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#correction-status")).to_have_text("Changed to 147 — saved.")
    assert stored_numbers(app) == [(None, "147", "147", "174")]
    page.get_by_role("button", name="not a number").click()
    expect(page.locator("#correction-status")).to_have_text("Changed to not a number — saved.")
    assert stored_numbers(app) == [(10, None, None, "174")]
    field.fill("147")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#correction-status")).to_have_text("Changed to 147 — saved.")
    page.get_by_role("button", name="Withdraw").click()
    expect(page.locator("#correction-status")).to_contain_text("Withdrawn")
    expect(field).to_have_value("174")  # what was read again, not the correction withdrawn
    assert stored_numbers(app) == []

    # The export pairs a number's digits with the digits read: its 28x28 inputs, left to right.
    field.fill("147")
    field.press("Enter")
    expect(page.locator("#correction-status")).to_have_text("Thanks — saved.")
    from corrections.export import write_export

    buffer = io.BytesIO()
    with app.app_context():
        with db.engine.connect() as connection, connection.begin():
            write_export(connection, buffer)
    data = np.load(io.BytesIO(buffer.getvalue()))
    assert data["labels"].tolist() == [1, 4, 7] and data["number"].tolist() == ["147"]
    assert data["reading"].tolist() == ["174"]


def test_on_a_phone_the_saved_outcome_is_brought_into_view(browser, served):
    """A helper's finding: a digit tapped at the screen's bottom edge saved, but "Thanks — saved." and Withdraw
    appeared below the screen."""
    _, url = served
    page = browser.new_page(**PHONE)
    try:
        page.goto(url)
        draw(page, SEVEN)
        expect(page.locator("#prediction")).to_have_text("7")
        three = page.get_by_role("button", name="It was 3")
        box = three.bounding_box()
        page.evaluate(f"window.scrollTo(0, {box['y']} + {box['height']} + window.scrollY - window.innerHeight + 4)")
        expect(three).to_be_in_viewport()
        expect(page.get_by_role("button", name="Withdraw")).not_to_be_in_viewport()
        three.tap()
        expect(page.locator("#correction-status")).to_have_text("Thanks — saved.")
        expect(page.get_by_role("button", name="Withdraw")).to_be_in_viewport()
        expect(page.locator("#correction-status")).to_be_in_viewport()
    finally:
        page.close()
