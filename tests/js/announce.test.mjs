// The page's one live region (static/js/announce.js): what a screen reader is given, and when.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";

// A live region that records every text it is given, and animation frames run when the test says.
const given = [];
const region = { _text: "", set textContent(text) { this._text = text; given.push(text); }, get textContent() { return this._text; } };
globalThis.document = { getElementById: (id) => (id === "announce" ? region : null) };
let frames = new Map();
let next = 1;
globalThis.requestAnimationFrame = (callback) => { frames.set(next, callback); return next++; };
globalThis.cancelAnimationFrame = (id) => { frames.delete(id); };
const runFrame = () => { const due = [...frames.values()]; frames = new Map(); due.forEach((f) => f()); };

const { announce, silence } = await import("../../static/js/announce.js");

beforeEach(() => { runFrame(); given.length = 0; });

test("a sentence is given on the next frame, after the region is emptied, so the same one twice is heard twice", () => {
  announce("It reads 7, 99.8% confident.");
  assert.deepEqual(given, [""]);
  runFrame();
  announce("It reads 7, 99.8% confident.");
  runFrame();
  assert.deepEqual(given, ["", "It reads 7, 99.8% confident.", "", "It reads 7, 99.8% confident."]);
});

test("of two sentences in one frame (a reading, then a correction's outcome), only the latest is given", () => {
  announce("It reads 5, 97.0% confident.");
  announce("Thanks — saved.");
  runFrame();
  assert.equal(region.textContent, "Thanks — saved.");
  assert.ok(!given.includes("It reads 5, 97.0% confident."), given.join(" | "));
});

test("silence empties the region and drops a sentence still waiting for its frame", () => {
  announce("The server could not be reached.");
  silence();
  runFrame();
  assert.equal(region.textContent, "");
  assert.ok(!given.includes("The server could not be reached."));
});
