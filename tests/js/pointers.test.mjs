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

/** A control over the canvas (a box's label) passed on to the tracker, its own click handler counting presses. */
function control(tracker) {
  const label = new EventTarget();
  tracker.passOn(label);
  label.presses = 0;
  label.addEventListener("click", () => label.presses++);
  return label;
}

function press(target, type, { id = 1, kind = "touch", x = 150, y = 100 } = {}) {
  const event = new Event(type, { cancelable: true });
  for (const [name, value] of Object.entries({ pointerId: id, pointerType: kind, clientX: x, clientY: y, timeStamp: 0, button: 0 })) {
    Object.defineProperty(event, name, { value });
  }
  target.dispatchEvent(event);
}

test("a finger's stroke that starts on a label over the canvas draws from where it went down", () => {
  // On a phone the labels of a reading cover where the next digits go: a stroke starting on one was lost.
  const label = control(track());
  press(label, "pointerdown", { x: 150, y: 100 });
  fire("pointermove", { kind: "touch", x: 152, y: 101 }); // within SLOP: still a press
  assert.deepEqual(kinds(), []);
  fire("pointermove", { kind: "touch", x: 170, y: 130 });
  fire("pointerup", { kind: "touch", x: 170, y: 130 });
  press(label, "click"); // a touch is captured by the label: its click follows the stroke, and is swallowed
  assert.deepEqual(calls, [["start", { x: 50, y: 50 }], ["move", [{ x: 70, y: 80 }]], ["end"]]);
  assert.equal(label.presses, 0);
});

test("a press on a label that does not move stays the label's: it draws nothing and the label is pressed", () => {
  const label = control(track());
  press(label, "pointerdown", { kind: "mouse" });
  fire("pointermove", { kind: "mouse", x: 153, y: 102 });
  fire("pointerup", { kind: "mouse", x: 153, y: 102 });
  press(label, "click");
  assert.deepEqual(kinds(), []);
  assert.equal(label.presses, 1);
});

test("a press on a label while a finger draws on the canvas starts no second stroke", () => {
  const label = control(track());
  fire("pointerdown", { id: 1, kind: "touch" });
  press(label, "pointerdown", { id: 2, x: 250 });
  fire("pointermove", { id: 2, kind: "touch", x: 280 });
  assert.deepEqual(kinds(), ["start"]);
});
