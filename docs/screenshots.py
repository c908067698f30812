"""Retake the README's screenshots: the page in Debian's Chromium after drawing, on six screens.

Run from the repository root: `.venv/bin/python docs/screenshots.py` (writes docs/screenshot-*.png).
Uses the committed model through create_app() on a local port; nothing is downloaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from app import create_app  # noqa: E402
from page_driver import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    FOUR,
    ONE,
    PHONE,
    SEVEN,
    draw_with_mouse,
    draw_with_touch,
    serve,
    shifted,
)

DESKTOP = {"viewport": {"width": 1100, "height": 760}, "device_scale_factor": 1}
NUMBER_174 = [s for i, d in enumerate([ONE, SEVEN, FOUR]) for s in shifted(d, 0.08 + i * 0.3, 0.25)]
SHOTS = {  # name: (context options, number mode, strokes, expected reading)
    "desktop": (DESKTOP, False, SEVEN, "7"),
    "phone": (PHONE, False, FOUR, "4"),
    "small-phone": ({**PHONE, "viewport": {"width": 320, "height": 568}, "device_scale_factor": 2}, False, SEVEN, "7"),
    "landscape": ({**PHONE, "viewport": {"width": 844, "height": 390}, "device_scale_factor": 2}, False, FOUR, "4"),
    "dark": ({**DESKTOP, "color_scheme": "dark"}, False, FOUR, "4"),
    "number": (DESKTOP, True, NUMBER_174, "174"),
}


def main() -> None:
    with serve(create_app()) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, (options, number, strokes, expected) in SHOTS.items():
            context = browser.new_context(**{"color_scheme": "light", **options})
            page = context.new_page()
            page.goto(url)
            if number:
                page.click("#mode")
            (draw_with_touch if options.get("has_touch") else draw_with_mouse)(page, strokes)
            expect(page.locator("#prediction")).to_have_text(expected)
            expect(page.locator("#correction")).to_be_visible()  # the final reading, after the writer's pause
            page.wait_for_timeout(300)  # the bars' transition
            page.screenshot(path=ROOT / "docs" / f"screenshot-{name}.png")
            print(f"docs/screenshot-{name}.png")
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
