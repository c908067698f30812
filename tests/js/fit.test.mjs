// How much a line of text too wide for its room shrinks (static/js/fit.js's shrink).
import { test } from "node:test";
import assert from "node:assert/strict";

import { shrink } from "../../static/js/fit.js";

test("a line that fits keeps its size", () => {
  assert.equal(shrink(200, 300), 1);
  assert.equal(shrink(300, 300), 1);
});

test("a line too wide shrinks in proportion, with room to spare, never past its room", () => {
  const scale = shrink(400, 300);
  assert.ok(scale < 0.75 && scale >= 0.73, String(scale));
  assert.ok(400 * shrink(401, 113) <= 113);
});
