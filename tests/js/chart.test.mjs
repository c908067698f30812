// percent(): every percentage on the page (the headline and the chart's bars) comes from it.
import { test } from "node:test";
import assert from "node:assert/strict";

import { percent } from "../../static/js/chart.js";

test("a probability shows to a tenth of a percent, rounded down so it never claims more than the network", () => {
  assert.equal(percent(0.5), "50.0%");
  assert.equal(percent(0.9986), "99.8%");
  assert.equal(percent(0.0049), "0.4%");
  assert.equal(percent(0.971), "97.1%");
});

test("values that floating point puts just under a tenth still show that tenth", () => {
  assert.equal(percent(0.995), "99.5%"); // 0.995 * 1000 is 994.999...
  assert.equal(percent(0.001), "0.1%");
  assert.equal(percent(0.07), "7.0%");
});

test("near certainty and near zero are shown as bounds, not as 100% or 0%", () => {
  assert.equal(percent(1), ">99.9%");
  assert.equal(percent(0.9996), ">99.9%");
  assert.equal(percent(0.0004), "<0.1%");
  assert.equal(percent(0), "<0.1%"); // an underflowed probability, as the string reader's "not a digit" may be
});

test("on a fine grid of probabilities the shown value is never above the true one and under it by less than 0.1", () => {
  for (let k = 10; k <= 9990; k++) {
    const p = k / 10000;
    const shown = parseFloat(percent(p));
    assert.ok(shown <= p * 100 + 1e-9, `${p} shown as ${percent(p)}`);
    assert.ok(shown > p * 100 - 0.1 - 1e-9, `${p} shown as ${percent(p)}`);
  }
});
