// Which 28x28 picture is shown beside the chart (static/js/thumbnail.js), where the server sent one.
import { test } from "node:test";
import assert from "node:assert/strict";

import { surest, thumbnail } from "../../static/js/thumbnail.js";

test("the surest digit is the most confident, the first of equals (as the server chooses it)", () => {
  assert.equal(surest([{ confidence: 0.9 }, { confidence: 0.99 }, { confidence: 0.95 }]), 1);
  assert.equal(surest([{ confidence: 0.99 }, { confidence: 0.99 }]), 0);
});

test("a single digit shows what the network saw", async () => {
  assert.deepEqual(await thumbnail({ digit: 7, preprocessed: "data:seen" }, null, "data:sent"),
    { src: "data:seen", caption: "What the network saw (28×28)" });
});

test("a digit of a number shows its own network input, else the surest digit's, captioned with its place", async () => {
  const answer = {
    preprocessed: "data:surest",
    digits: [{ confidence: 0.9, preprocessed: "data:first" }, { confidence: 0.99 }, { confidence: 0.95 }],
  };
  assert.deepEqual(await thumbnail(answer, 0, null), { src: "data:first", caption: "What the network saw of digit 1 of 3 (28×28)" });
  assert.deepEqual(await thumbnail(answer, 1, null), { src: "data:surest", caption: "What the network saw of digit 2 of 3 (28×28)" });
  assert.equal(await thumbnail(answer, 2, null), null, "nothing to cut it from: no thumbnail rather than a wrong one");
});
