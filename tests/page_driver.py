"""Drive the page in Debian's Chromium with Playwright: a server thread, mouse, pen and touch strokes.

Shared by tests/test_browser.py and docs/screenshots.py. Strokes are polylines in canvas fractions
(0..1 of the canvas' width and height), interpolated into page coordinates.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]

# What a person draws for these digits.
SEVEN = [[(0.22, 0.2), (0.78, 0.2), (0.42, 0.85)]]
ONE = [[(0.38, 0.3), (0.55, 0.15), (0.55, 0.85)]]
FOUR = [[(0.6, 0.15), (0.25, 0.6), (0.8, 0.6)], [(0.65, 0.38), (0.65, 0.88)]]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}


@contextlib.contextmanager
def serve(app):
    """Serve a Flask app from a thread on a free port; yields its base URL."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()


def shifted(strokes, left, width):
    """Place strokes drawn in a unit square into the horizontal band [left, left + width] of the canvas."""
    return [[(left + x * width, y) for x, y in stroke] for stroke in strokes]


def points(box, stroke, steps=12):
    """Interpolate a polyline given in canvas fractions into page coordinates."""
    out = []
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
        for i in range(steps):
            t = i / steps
            out.append(
                (box["x"] + (x0 + (x1 - x0) * t) * box["width"], box["y"] + (y0 + (y1 - y0) * t) * box["height"])
            )
    x, y = stroke[-1]
    out.append((box["x"] + x * box["width"], box["y"] + y * box["height"]))
    return out


def draw_with_mouse(page, strokes, pause_ms=0):
    """Draw each stroke with the mouse's primary button; pause_ms between moves draws slowly."""
    box = page.locator("#canvas").bounding_box()
    for stroke in strokes:
        path = points(box, stroke)
        page.mouse.move(*path[0])
        page.mouse.down()
        for x, y in path[1:]:
            page.mouse.move(x, y)
            if pause_ms:
                page.wait_for_timeout(pause_ms)
        page.mouse.up()


class Touch:
    """Touch input through CDP's Input.dispatchTouchEvent: several contacts, each with its radius."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.box = page.locator("#canvas").bounding_box()
        self.down = {}  # id -> touch point

    def at(self, x, y):
        """Page coordinates of a canvas fraction."""
        return self.box["x"] + x * self.box["width"], self.box["y"] + y * self.box["height"]

    def _send(self, kind):
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": list(self.down.values())})

    def start(self, touch_id, x, y, radius=8):
        px, py = self.at(x, y)
        self.down[touch_id] = {"id": touch_id, "x": px, "y": py, "radiusX": radius, "radiusY": radius}
        self._send("touchStart")

    def move(self, touch_id, x, y):
        self.down[touch_id]["x"], self.down[touch_id]["y"] = self.at(x, y)
        self._send("touchMove")

    def end(self, touch_id):
        del self.down[touch_id]
        self._send("touchEnd")

    def cancel(self):
        self.down.clear()
        self._send("touchCancel")

    def stroke(self, touch_id, stroke, radius=8, lift=True):
        """Draw a polyline (canvas fractions) with one contact, leaving other contacts where they are."""
        path = points({"x": 0, "y": 0, "width": 1, "height": 1}, stroke)
        self.start(touch_id, *path[0], radius=radius)
        for x, y in path[1:]:
            self.move(touch_id, x, y)
        if lift:
            self.end(touch_id)


def draw_with_touch(page, strokes):
    """Draw each stroke with one finger."""
    touch = Touch(page)
    for stroke in strokes:
        touch.stroke(1, stroke)


def draw_with_pen(page, strokes):
    """Draw each stroke with a pen (CDP mouse events of pointerType pen)."""
    cdp = page.context.new_cdp_session(page)

    def send(kind, x, y, buttons):
        cdp.send(
            "Input.dispatchMouseEvent",
            {"type": kind, "x": x, "y": y, "button": "left", "buttons": buttons, "clickCount": 1, "pointerType": "pen"},
        )

    box = page.locator("#canvas").bounding_box()
    for stroke in strokes:
        path = points(box, stroke)
        send("mousePressed", *path[0], 1)
        for x, y in path[1:]:
            send("mouseMoved", x, y, 1)
        send("mouseReleased", *path[-1], 0)
