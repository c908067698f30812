// The result panel as one state machine: idle, reading, result, not a digit, error, offline.
// Every state renders every element of the panel, so no state shows beside another's leftovers.
// Only final readings, errors and requests for a drawing are announced, through the page's single
// live region; interim guesses while a stroke is drawn are shown quietly.
import { percent, renderProbabilities, resetProbabilities } from "./chart.js";
import { thumbnail } from "./thumbnail.js";
import { fitLine } from "./fit.js";
import { announce as speak, silence } from "./announce.js";

const SLOW_MS = 300; // a reading that takes longer than this shows a "Reading…" cue

const $ = (id) => document.getElementById(id);

const SEPARATORS = { ".": "a point", ",": "a comma", "-": "a dash", "/": "a slash" }; // what the string reader keeps

/** Name the separators of a number's text (" and a point" for "37.50"), so a person sees they were read. */
function separators(text) {
  const marks = [...text].filter((c) => !/[0-9]/.test(c));
  if (!marks.length) return "";
  return marks.length === 1 ? ` and ${SEPARATORS[marks[0]] || "a separator"}` : ` and ${marks.length} separators`;
}

/**
 * What the panel says of an answer from /predict (see app.py), without touching the page:
 * {state: "result" or "not-digit", headline, message, prediction, chartHeading, probabilities, top,
 * notDigit, unsure, index, announcement}. `index` is the digit of a number whose chart is shown
 * (`selected`, else the first; null for a single digit), `small` says the drawing is small on the
 * canvas (only then is "larger" advised), `number` that the page is in number mode, `photo` that a photo was
 * read (then nothing is to be written again: the advice is to check it, or to choose another photo).
 */
export function describe(answer, { selected = null, small = false, number = false, photo = false } = {}) {
  const notDigit = answer.not_a_digit === true || answer.digit === null || answer.digit === undefined;
  const digits = notDigit ? [] : answer.digits?.length ? answer.digits : [answer];
  const many = digits.length > 1;
  // One flagged mark that the network finds likelier "not a digit" than any digit (a scribble, the first stroke
  // of a 4): the API still names its likeliest digit, but a big "7?" at 3% reads as an answer, so the panel says
  // what the network finds likeliest and names the digit only in the message.
  const likelierNone = !notDigit && !many && Boolean(answer.low_confidence)
    && answer.not_digit_probability > answer.confidence;
  if (notDigit || likelierNone) {
    const what = number ? "digits from 0 to 9" : "one digit from 0 to 9";
    const asked = photo ? "Choose a photo of a digit or a number, or draw instead." // a photo is read as either
      : small ? `It is small: write ${what}, larger.` : `Write ${what}, clearly.`;
    return {
      state: "not-digit", headline: "That does not look like a digit",
      message: likelierNone && !small
        ? `Likelier not a digit (${percent(answer.not_digit_probability)}); the likeliest digit is ${answer.digit} (${percent(answer.confidence)}).`
        : asked,
      probabilities: answer.probabilities, notDigit: answer.not_digit_probability, top: "none",
      index: null, announcement: "That does not look like a digit.",
    };
  }
  const index = many ? selected ?? 0 : null;
  const shown = many ? digits[index] : answer;
  const unsure = digits.some((d) => d.low_confidence) || Boolean(answer.low_confidence);
  const lowest = percent(Math.min(...digits.map((d) => d.confidence))).replace(">", "over ");
  const prediction = many ? (answer.text || answer.number) : String(answer.digit);
  // The string reader's confidence is that of its digits together, not of each (docs/api.md).
  const whole = answer.reader === "strings";
  // Under the string reader's bar (digit_strings.json: 1% of the numbers it passes misread), a number may still be
  // read "over 99.9%" sure: beside a warning that claim read as a contradiction, so a flagged number shows none.
  const all = digits.length === 2 ? "both" : `all ${digits.length}`;
  const headline = many
    ? `${digits.length} digits${separators(prediction)}, ${whole
      // "not sure enough of all 3" read as unsure of each digit, beside charts of each digit at over 99.9%.
      ? (unsure ? `not sure ${all} are right` : `${percent(answer.confidence).replace(">", "over ")} confident of ${all}`)
      : `each ${lowest.startsWith("over") ? "" : "at least "}${lowest} confident`}`
    : whole && unsure ? "not sure enough" : `${percent(answer.confidence).replace(">", "over ")} confident`;
  let message = "";
  // Which digits are in doubt: the segments flag each digit, the string reader only the whole number. Every
  // message fits the status line's two lines in the narrow panel, so that a warning never moves the chart.
  const doubtful = digits.flatMap((d, i) => (d.low_confidence ? [i + 1] : []));
  // The string reader flags the whole number, never one digit (a number of one digit too: a 7 in number mode read
  // "over 99.9% confident" beside "Not sure"): the message says why, never "every digit".
  if (unsure && whole && answer.confidence < 0.5) {
    // Far under the bar: "over 1 time in 100" would understate it (a stranger's 12 tiny digits, 10% sure).
    message = photo ? "Probably misread: check it against the photo."
      : `Probably misread: ${small ? "write it larger" : "check it, or write it again"}, the digits apart.`;
  } else if (unsure && whole) {
    message = `${small ? "Write it larger" : "Check it"}: numbers read this sure are wrong over 1 time in 100.`;
  } else if (unsure && many && small) message = "Not sure of every digit: write them larger and apart.";
  else if (unsure && many && doubtful.length) {
    const [first, second] = doubtful;
    const which = doubtful.length > 2 ? `${doubtful.length} digits`
      : second ? `digits ${first} and ${second}` : `digit ${first} (${digits[first - 1].digit})`;
    message = `Not sure of ${which}; choose ${second ? "one" : "it"} for its chart.`;
  }
  else if (unsure && many) message = "Not sure of the whole number: check it.";
  else if (unsure && small) message = "Not sure: it is small, try writing it larger.";
  else if (unsure) message = "Not sure: the chart shows what else it may be.";
  return {
    state: "result", unsure, headline, message, prediction,
    chartHeading: many ? `Probabilities for digit ${index + 1} of ${digits.length}, read ${shown.digit}` : "Probability of each digit",
    probabilities: shown.probabilities || answer.probabilities, top: shown.digit,
    notDigit: shown.not_digit_probability ?? (many ? null : answer.not_digit_probability),
    index, announcement: `It reads ${prediction}, ${headline}. ${message}`.trim(),
  };
}

export class ResultPanel {
  /** @param {{mode?: () => string}} options `mode` tells the page's mode, "digit" or "number" (app.js holds it) */
  constructor({ mode = () => "digit" } = {}) {
    this.mode = mode;
    this.panel = $("answer");
    this.label = $("answer-label");
    this.prediction = $("prediction");
    this.headline = $("confidence");
    this.message = $("status");
    this.chart = $("probabilities");
    this.chartHeading = $("chart-heading");
    this.preview = $("preprocessed");
    this.figure = $("preview");
    this.caption = this.figure.querySelector("figcaption");
    this.state = "idle";
    this.slowTimer = null;
    // The number never wraps (a wrapped "2026" reads as two numbers): it shrinks to the panel's width.
    this.fittedTo = 0;
    new ResizeObserver(() => {
      if (this.panel.clientWidth !== this.fittedTo) this._fit();
    }).observe(this.panel);
    this.idle();
  }

  idle(message = "") {
    this._render({
      state: "idle", label: "Nothing read yet", headline: this.mode() === "number" ? "Draw a number to start" : "Draw a digit to start",
      message: message || "It is read when you lift the pen.",
    });
    if (message) speak(message);
    else silence(); // the last answer, cleared from the page, is not left in the live region either
  }

  /** A final reading is under way: after SLOW_MS, replace whatever is shown by a "Reading…" cue. */
  reading() {
    this._setState("reading");
    this.panel.setAttribute("aria-busy", "true");
    this.slowTimer = setTimeout(() => {
      this._render({ state: "reading", label: "Reading", headline: "Reading…", message: "Waiting for the server…", slow: true });
      this.panel.setAttribute("aria-busy", "true");
    }, SLOW_MS);
  }

  /**
   * Show an answer from /predict (see app.py); `interim` for a guess while a stroke is drawn.
   * `selected` is the index in answer.digits whose chart to show in a number (the first by default);
   * `small` says the drawing is small on the canvas (only then is "larger" advised); `image` is the
   * data URL that was sent, from which a digit's thumbnail is cut where the server sent none; `photo` that it
   * was a photo (see describe).
   */
  result(answer, options = {}) {
    const { interim = false, selected = null, announce = !interim, small = false, image = null, photo = false } = options;
    const number = this.mode() === "number";
    const { index, announcement, ...shown } = describe(answer, { selected, small, number, photo });
    this._render({ ...shown, interim });
    this._showThumbnail(answer, index, image);
    if (announce) speak(announcement);
    else if (!interim) this.unannounced = announcement;
  }

  /** Announce the reading shown quietly (app.js: the writer has paused, so it is final). */
  announceReading() {
    if (this.unannounced) speak(this.unannounced);
    this.unannounced = null;
  }

  error(message) {
    this._render({ state: "error", label: "Not read", headline: "Error", message, error: true });
    speak(message);
  }

  /** The server found no digit in an image (a 422 with `no_digit`: a blank photo of an empty cell): an answer. */
  noDigit(message) {
    this._render({ state: "not-digit", headline: "No digit found", message });
    speak(`No digit found. ${message}`);
  }

  /** The server could not be reached; `what` was sent: "drawing" or "photo". */
  offline(what = "drawing") {
    const message = `The server could not be reached. Your ${what} is kept: press Read again to try again.`;
    this._render({ state: "offline", label: "Not read", headline: "Offline", message, error: true });
    speak(message);
  }

  _setState(state) {
    this.unannounced = null;
    clearTimeout(this.slowTimer);
    this.slowTimer = null;
    this.state = state;
    this.panel.dataset.state = state;
    this.panel.removeAttribute("aria-busy");
  }

  _render({ state, label = "It reads", interim = false, unsure = false, slow = false, error = false, prediction = "",
    headline = "", message = "", chartHeading = "Probability of each digit", probabilities = null, notDigit = null, top = null }) {
    this._setState(state);
    this.panel.classList.toggle("interim", interim);
    this.panel.classList.toggle("unsure", unsure);
    this.panel.classList.toggle("slow", slow);
    this.label.textContent = interim ? "Guess so far" : label;
    this.prediction.textContent = prediction;
    this._fit();
    this.headline.textContent = headline;
    this.message.textContent = interim && !message ? "Guessing as you draw; it is read when you lift the pen." : message;
    this.message.classList.toggle("error", error);
    this.chartHeading.textContent = chartHeading;
    if (probabilities) renderProbabilities(this.chart, probabilities, top, notDigit);
    else resetProbabilities(this.chart);
    this.thumbnailToken = (this.thumbnailToken || 0) + 1; // a thumbnail still being cut is for an older render
    if (!probabilities) {
      this.figure.hidden = true;
      this.preview.removeAttribute("src");
      delete this.preview.dataset.index;
    }
  }

  _fit() {
    this.fittedTo = this.panel.clientWidth;
    fitLine(this.prediction, this.fittedTo);
  }

  /** Show the thumbnail of digit `index` of an answer (null: a single digit), once it is ready. */
  async _showThumbnail(answer, index, image) {
    const token = this.thumbnailToken;
    let shown = null;
    try {
      shown = await thumbnail(answer, index, image);
    } catch {
      shown = null; // an image the browser cannot decode: no thumbnail rather than a wrong one
    }
    if (token !== this.thumbnailToken) return;
    if (!shown?.src) {
      this.figure.hidden = true;
      return;
    }
    this.preview.src = shown.src;
    this.preview.alt = shown.caption.replace(" (28×28)", ", 28×28 pixels");
    this.preview.dataset.index = index === null ? "" : String(index);
    this.caption.textContent = shown.caption;
    this.figure.hidden = false;
  }
}
