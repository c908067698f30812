// What the result panel says of an answer (static/js/state.js's describe): the words a person reads.
import { test } from "node:test";
import assert from "node:assert/strict";

import { describe } from "../../static/js/state.js";

const probabilities = (top, p) => Array.from({ length: 10 }, (_, d) => (d === top ? p : (1 - p) / 10));
const digit = (d, confidence, extra = {}) => ({ digit: d, confidence, probabilities: probabilities(d, confidence), ...extra });
const number = (digits, extra = {}) => ({
  digit: digits[0].digit, confidence: Math.max(...digits.map((x) => x.confidence)), digits,
  number: digits.map((x) => x.digit).join(""), probabilities: digits[0].probabilities, ...extra,
});

test("a sure digit reads as itself with its confidence, its bar highlighted, nothing to worry about", () => {
  const said = describe(digit(7, 0.9986));
  assert.equal(said.state, "result");
  assert.equal(said.prediction, "7");
  assert.equal(said.headline, "99.8% confident");
  assert.equal(said.message, "");
  assert.equal(said.top, 7);
  assert.equal(said.index, null, "a single digit has no digit of a number to choose");
  assert.equal(said.announcement, "It reads 7, 99.8% confident.");
});

test("a saturated confidence is 'over 99.9%', never 100%", () => {
  assert.equal(describe(digit(1, 1)).headline, "over 99.9% confident");
});

test("an unsure digit says so, and asks for a larger one only when the drawing is small", () => {
  const unsure = digit(4, 0.62, { low_confidence: true });
  assert.equal(describe(unsure).message, "Not sure: the chart shows what else it may be.");
  assert.equal(describe(unsure, { small: true }).message, "Not sure: it is small, try writing it larger.");
  assert.equal(describe(unsure).unsure, true);
  assert.match(describe(unsure).announcement, /^It reads 4, 62\.0% confident\. Not sure/);
});

test("a number reads as its text, with the least sure digit in the headline and the first digit's chart", () => {
  const answer = number([digit(1, 0.97), digit(7, 0.999), digit(4, 0.98)], { text: "1,74" });
  const said = describe(answer);
  assert.equal(said.prediction, "1,74", "separators kept as written");
  assert.equal(said.headline, "3 digits and a comma, each at least 97.0% confident", "its separator named");
  assert.equal(said.chartHeading, "Probabilities for digit 1 of 3, read 1");
  assert.equal(said.index, 0);
});

test("the string reader's price keeps its point, with the confidence of the digits together (issue 23, finding 5)", () => {
  const digits = [digit(3, 0.999), digit(7, 0.998), digit(5, 0.999), digit(0, 0.999)];
  const said = describe(number(digits, { text: "37.50", reader: "strings", confidence: 0.978, low_confidence: true }));
  assert.equal(said.prediction, "37.50");
  assert.equal(said.headline, "4 digits and a point, not sure all 4 are right", "not 'each at least 99.8%' beside a warning");
  assert.match(said.announcement, /^It reads 37\.50, 4 digits and a point, not sure all 4 are right\. Check it/);
  const sure = describe(number(digits, { text: "37.50", reader: "strings", confidence: 0.9999, low_confidence: false }));
  assert.equal(sure.headline, "4 digits and a point, over 99.9% confident of all 4");
  assert.equal(sure.message, "");
});

test("choosing a digit of a number shows that digit's chart", () => {
  const answer = number([digit(1, 0.97), digit(7, 0.999), digit(4, 0.98)]);
  const said = describe(answer, { selected: 2 });
  assert.equal(said.chartHeading, "Probabilities for digit 3 of 3, read 4");
  assert.equal(said.top, 4);
  assert.deepEqual(said.probabilities, answer.digits[2].probabilities);
  assert.equal(said.prediction, "174", "without a text, the digits");
});

test("two digits read by the string reader are 'both', not 'all 2'", () => {
  const digits = [digit(6, 0.999), digit(7, 0.998)];
  const unsure = describe(number(digits, { reader: "strings", confidence: 0.99, low_confidence: true }));
  assert.equal(unsure.headline, "2 digits, not sure both are right");
  const sure = describe(number(digits, { reader: "strings", confidence: 0.9999, low_confidence: false }));
  assert.equal(sure.headline, "2 digits, over 99.9% confident of both");
});

test("a number whose digits are all saturated is 'each over 99.9%'", () => {
  assert.equal(describe(number([digit(3, 1), digit(8, 0.9995)])).headline, "2 digits, each over 99.9% confident");
});

test("a flagged mark likelier not a digit than any digit is shown as not a digit, its likeliest digit named (a scribble read '7?' at 3.3%)", () => {
  const said = describe(digit(6, 0.044, { low_confidence: true, not_a_digit: false, not_digit_probability: 0.955 }));
  assert.equal(said.state, "not-digit");
  assert.equal(said.headline, "That does not look like a digit");
  assert.equal(said.prediction, undefined, "no big digit beside 'not a digit'");
  assert.equal(said.top, "none", "the not-a-digit bar, the largest, stands out");
  assert.equal(said.message, "Likelier not a digit (95.5%); the likeliest digit is 6 (4.4%).");
  const small = describe(digit(8, 0.055, { low_confidence: true, not_digit_probability: 0.94 }), { small: true });
  assert.equal(small.message, "It is small: write one digit from 0 to 9, larger.", "a small drawing: larger first");
  const close = describe(digit(6, 0.5, { low_confidence: true, not_digit_probability: 0.3 }));
  assert.equal(close.state, "result", "a digit likelier than not stays a reading");
  assert.equal(close.message, "Not sure: the chart shows what else it may be.");
  const sure = describe(digit(1, 0.45, { low_confidence: false, not_digit_probability: 0.5 }));
  assert.equal(sure.state, "result", "only a flagged reading is turned round");
});

test("one unsure digit of a number makes the whole reading unsure, and the message names it", () => {
  const said = describe(number([digit(3, 0.99), digit(8, 0.55, { low_confidence: true })]));
  assert.equal(said.unsure, true);
  assert.equal(said.message, "Not sure of digit 2 (8); choose it for its chart.");
  const two = describe(number([digit(3, 0.5, { low_confidence: true }), digit(8, 0.55, { low_confidence: true })]));
  assert.equal(two.message, "Not sure of digits 1 and 2; choose one for its chart.");
  const many = describe(number([0, 1, 2, 3, 4].map((d) => digit(d, 0.5, { low_confidence: true }))));
  assert.equal(many.message, "Not sure of 5 digits; choose one for its chart.");
  const small = describe(number([digit(3, 0.99), digit(8, 0.55, { low_confidence: true })]), { small: true });
  assert.equal(small.message, "Not sure of every digit: write them larger and apart.");
});

test("a number the string reader is unsure of as a whole asks to check it, not to space digits already apart", () => {
  // A clean "360" in number mode: every digit over 99.8%, the string 99.3%, under the cheque-reader threshold.
  const digits = [digit(3, 0.999), digit(6, 0.998), digit(0, 0.999)];
  const said = describe(number(digits, { reader: "strings", confidence: 0.993, low_confidence: true }));
  assert.equal(said.unsure, true);
  assert.equal(said.message, "Check it: numbers read this sure are wrong over 1 time in 100.");
  const small = describe(number(digits, { reader: "strings", confidence: 0.9996, low_confidence: true }), { small: true });
  assert.equal(small.headline, "3 digits, not sure all 3 are right", "never 'over 99.9% confident' beside a warning");
  assert.equal(small.message, "Write it larger: numbers read this sure are wrong over 1 time in 100.", "never 'every digit'");
  // Far under the bar the odds are far worse than 1 in 100, and the message says so.
  const poor = describe(number(digits, { reader: "strings", confidence: 0.1, low_confidence: true }));
  assert.equal(poor.message, "Probably misread: check it, or write it again, the digits apart.");
  const poorSmall = describe(number(digits, { reader: "strings", confidence: 0.1, low_confidence: true }), { small: true });
  assert.equal(poorSmall.message, "Probably misread: write it larger, the digits apart.");
  // A photo is not written again: a stranger's cheque photo was told to write it again, the digits apart.
  const photo = describe(number(digits, { reader: "strings", confidence: 0.1, low_confidence: true }), { photo: true });
  assert.equal(photo.message, "Probably misread: check it against the photo.");
});

test("one digit the string reader is unsure of never says 'over 99.9% confident' beside 'Not sure'", () => {
  // A stranger's 7 in number mode: 99.8% sure, under the string reader's bar, and the page said both.
  const said = describe({ ...digit(7, 0.9986), reader: "strings", low_confidence: true });
  assert.equal(said.prediction, "7");
  assert.equal(said.headline, "not sure enough");
  assert.equal(said.message, "Check it: numbers read this sure are wrong over 1 time in 100.");
  const segments = describe(digit(7, 0.62, { low_confidence: true }));
  assert.equal(segments.headline, "62.0% confident", "a digit read by the segments keeps its own confidence");
  assert.equal(segments.message, "Not sure: the chart shows what else it may be.");
});

test("not a digit shows no digit, its own bar, and asks for what the mode reads", () => {
  const answer = { digit: null, not_a_digit: true, probabilities: probabilities(0, 0.05), not_digit_probability: 0.5 };
  const said = describe(answer);
  assert.equal(said.state, "not-digit");
  assert.equal(said.prediction, undefined);
  assert.equal(said.top, "none");
  assert.equal(said.notDigit, 0.5);
  assert.equal(said.message, "Write one digit from 0 to 9, clearly.");
  assert.equal(describe(answer, { number: true, small: true }).message, "It is small: write digits from 0 to 9, larger.");
  assert.equal(describe(answer, { photo: true }).message, "Choose a photo of a digit or a number, or draw instead.");
  assert.equal(said.announcement, "That does not look like a digit.");
});
