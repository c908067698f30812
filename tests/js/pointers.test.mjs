// Which pointer draws (static/js/pointers.js), driven with plain Pointer-Event-like events on fake targets.
import { test } from "node:test";
import assert from "node:assert/strict";

import { PALM_SIZE, PointerTracker } from "../../static/js/pointers.js";

let canvas;
let calls;

/** A tracker on a fresh fake canvas at (100, 50), recording its handlers' calls in `calls`. */
function track() {
  globalThis.window = new EventTarget(); // pointermove/up/cancel are heard on the window while a stroke lasts
  canvas = new EventTarget();
  canvas.getBoundingClientRect = () => ({ left: 100, top: 50, width: 200, height: 200 });
  calls = [];
  return new PointerTracker(canvas, {
    start: (p) => calls.push(["start", p]),
    move: (points) => calls.push(["move", points]),
    end: () => calls.push(["end"]),
    cancel: () => calls.push(["cancel"]),
  });
}

/** Dispatch a pointer event: on the canvas for pointerdown, on the window otherwise. */
function fire(type, { id = 1, kind = "mouse", x = 150, y = 100, t = 0, size = 20 } = {}) {
  const event = new Event(type, { cancelable: true });
  const fields = { pointerId: id, pointerType: kind, clientX: x, clientY: y, timeStamp: t, button: 0, width: size, height: size };
  for (const [name, value] of Object.entries(fields)) Object.defineProperty(event, name, { value });
  (type === "pointerdown" ? canvas : window).dispatchEvent(event);
}

const kinds = () => calls.map(([kind]) => kind);

test("a mouse stroke starts, moves and ends in CSS px relative to the canvas", () => {
  track();
  fire("pointerdown", { x: 150, y: 100 });
  fire("pointermove", { x: 160, y: 120 });
  fire("pointerup", { x: 160, y: 120 });
  assert.deepEqual(calls, [["start", { x: 50, y: 50 }], ["move", [{ x: 60, y: 70 }]], ["end"]]);
});

test("a second finger during a stroke makes a pinch that draws nothing until every finger is up", () => {
  track();
  fire("pointerdown", { id: 1, kind: "touch" });
  fire("pointermove", { id: 1, kind: "touch", x: 170 });
  fire("pointerdown", { id: 2, kind: "touch", x: 200, t: 40 });
  fire("pointermove", { id: 2, kind: "touch", x: 220 });
  fire("pointerup", { id: 1, kind: "touch" });
  fire("pointerdown", { id: 3, kind: "touch", t: 500 }); // finger 2 is still down: still a pinch
  assert.deepEqual(kinds(), ["start", "move", "cancel"]);
});

test("a contact the size of a palm never draws; the finger beside it does", () => {
  track();
  fire("pointerdown", { id: 1, kind: "touch", size: PALM_SIZE });
  fire("pointerdown", { id: 2, kind: "touch", t: 10 });
  fire("pointermove", { id: 1, kind: "touch", x: 200 });
  assert.deepEqual(kinds(), ["start"]);
  fire("pointermove", { id: 2, kind: "touch", x: 200 });
  assert.deepEqual(kinds(), ["start", "move"]);
});

test("a pen coming down cancels a finger's stroke and draws; touches are ignored while it is down", () => {
  track();
  fire("pointerdown", { id: 1, kind: "touch" });
  fire("pointerdown", { id: 2, kind: "pen", t: 10 });
  fire("pointerdown", { id: 3, kind: "touch", t: 400 });
  fire("pointerup", { id: 2, kind: "pen" });
  assert.deepEqual(kinds(), ["start", "cancel", "start", "end"]);
});

test("pointercancel cancels the stroke: the browser took the gesture", () => {
  track();
  fire("pointerdown");
  fire("pointercancel");
  fire("pointermove", { x: 200 });
  assert.deepEqual(kinds(), ["start", "cancel"]);
});

test("after off() nothing draws, not even the stroke under way", () => {
  const tracker = track();
  fire("pointerdown", { id: 1 });
  tracker.off();
  fire("pointermove", { id: 1, x: 200 });
  fire("pointerup", { id: 1 });
  fire("pointerdown", { id: 2 });
  assert.deepEqual(kinds(), ["start"]);
});
