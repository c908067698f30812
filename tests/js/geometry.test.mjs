// Strokes, modes and boxes (static/js/geometry.js): where things land on the canvas a person sees.
import { test } from "node:test";
import assert from "node:assert/strict";

import { boxToFractions, extent, isSmall, labelPlace, labelPlaces, refit } from "../../static/js/geometry.js";

const close = (actual, expected, what = "") => {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) < 1e-9, `${what} [${actual}] != [${expected}]`));
};
const stroke = (...points) => points.map(([u, v]) => ({ u, v }));

test("a box in the pixels of an exported drawing maps to the same fractions of the canvas", () => {
  // Number mode: a 280x140 export of a 560x280 canvas; the box is the 2nd quarter's left part.
  close(boxToFractions([70, 35, 28, 70], { canvas: { width: 560, height: 280 }, sent: { width: 280, height: 140 } }),
    [0.25, 0.25, 0.1, 0.5]);
});

test("a box in a photo's pixels lands on the photo as it is shown, letterboxed in the canvas", () => {
  const canvas = { width: 400, height: 200 };
  const image = { width: 4000, height: 3000 }; // shown 266.7x200, from x = 66.7
  const left = (400 - 4000 * (200 / 3000)) / 2 / 400;
  const wide = (4000 * (200 / 3000)) / 400;
  close(boxToFractions([0, 0, 4000, 3000], { canvas, image }), [left, 0, wide, 1], "the whole photo");
  const [x, y, w, h] = boxToFractions([1800, 1350, 400, 300], { canvas, image });
  close([x + w / 2, y + h / 2], [0.5, 0.5], "the photo's centre is the canvas' centre");
  close([w * 400, h * 200], [400 / 15, 300 / 15], "a box keeps its proportions");
});

test("a tall photo in the square canvas is pillarboxed: its boxes sit between the bars", () => {
  const fractions = boxToFractions([0, 0, 1000, 2000], { canvas: { width: 300, height: 300 }, image: { width: 1000, height: 2000 } });
  close(fractions, [0.25, 0, 0.5, 1]);
});

test("a drawing's export wins over a photo once the photo is gone from what was sent", () => {
  close(boxToFractions([10, 20, 30, 40], { canvas: { width: 140, height: 140 }, image: null, sent: { width: 140, height: 140 } }),
    [10 / 140, 20 / 140, 30 / 140, 40 / 140]);
});

test("the extent covers every point of every stroke, and there is none without strokes", () => {
  assert.equal(extent([]), null);
  assert.deepEqual(extent([stroke([0.2, 0.3], [0.4, 0.1]), stroke([0.6, 0.8])]), { left: 0.2, top: 0.1, right: 0.6, bottom: 0.8 });
});

test("larger is advised only for a drawing under 0.35 of the canvas' height, and narrow in digit mode", () => {
  const box = (width, height) => ({ left: 0.1, top: 0.1, right: 0.1 + width, bottom: 0.1 + height });
  assert.equal(isSmall(box(0.2, 0.3), "digit"), true);
  assert.equal(isSmall(box(0.2, 0.5), "digit"), false, "tall enough");
  assert.equal(isSmall(box(0.6, 0.3), "digit"), false, "a long flat drawing fills the square");
  assert.equal(isSmall(box(0.6, 0.3), "number"), true, "a number of 0.6 the canvas's width may be written larger");
  assert.equal(isSmall(box(0.9, 0.25), "number"), false, "a number across the whole canvas cannot");
  assert.equal(isSmall(null, "digit"), false, "nothing drawn");
});

test("a digit drawn in the square keeps its size in canvas heights in the wide canvas", () => {
  const [moved] = refit([stroke([0.4, 0.2], [0.6, 0.8])], "digit", "number");
  close(moved.map((p) => p.u), [0.2, 0.3]); // half the fraction of a canvas twice as wide
  close(moved.map((p) => p.v), [0.2, 0.8]);
});

test("a digit in the wide canvas slides into the square, centred where it can be, never off its edge", () => {
  const [middle] = refit([stroke([0.45, 0.3], [0.55, 0.7])], "number", "digit");
  close(middle.map((p) => p.u), [0.4, 0.6]);
  const [right] = refit([stroke([0.9, 0.3], [0.95, 0.7])], "number", "digit");
  close(right.map((p) => p.u), [0.8, 0.9]);
  const [left] = refit([stroke([0.02, 0.3], [0.1, 0.7])], "number", "digit");
  close(left.map((p) => p.u), [0.04, 0.2]);
});

test("switching to number mode and back leaves a digit where it was drawn", () => {
  const drawn = [stroke([0.3, 0.2], [0.7, 0.2], [0.45, 0.9])];
  const back = refit(refit(drawn, "digit", "number"), "number", "digit");
  close(back[0].map((p) => p.u), drawn[0].map((p) => p.u));
  close(back[0].map((p) => p.v), drawn[0].map((p) => p.v));
});

test("a number too wide for the square is not moved: the page must ask first", () => {
  assert.equal(refit([stroke([0.1, 0.4], [0.9, 0.5])], "number", "digit"), null);
  assert.notEqual(refit([stroke([0.1, 0.4], [0.5, 0.5])], "number", "digit"), null, "half the wide canvas fits");
});

test("refit leaves the strokes it is given untouched and an empty drawing empty", () => {
  const drawn = [stroke([0.4, 0.2], [0.6, 0.8])];
  refit(drawn, "digit", "number");
  assert.deepEqual(drawn, [stroke([0.4, 0.2], [0.6, 0.8])]);
  assert.deepEqual(refit([], "number", "digit"), []);
});

test("a box's label goes below it, above it near the bottom, inside it when it fills the height", () => {
  assert.equal(labelPlace(0.2, 0.5, 0.1), "below");
  assert.equal(labelPlace(0.3, 0.65, 0.1), "above");
  assert.equal(labelPlace(0.05, 0.9, 0.1), "inside");
});

test("the labels of narrow neighbouring boxes alternate below and above instead of covering each other", () => {
  // Eight digits across a phone's canvas: each box 0.08 wide, a label 0.1 wide, room above and below.
  const boxes = Array.from({ length: 8 }, (_, i) => [0.05 + 0.11 * i, 0.3, 0.08, 0.4]);
  assert.deepEqual(labelPlaces(boxes, 0.1, 0.1), ["below", "below", "below", "below", "below", "below", "below", "below"]);
  assert.deepEqual(labelPlaces(boxes, 0.1, 0.12),
    ["below", "above", "below", "above", "below", "above", "below", "above"]);
  // No room above: they stay below (a label may cover its neighbour rather than leave the canvas).
  const low = boxes.map(([x, , w]) => [x, 0.05, w, 0.5]);
  assert.deepEqual(labelPlaces(low, 0.1, 0.12), Array(8).fill("below"));
  assert.deepEqual(labelPlaces([[0.1, 0.2, 0.3, 0.5]], 0.1, 0.12), ["below"]); // one box: as labelPlace says
});
