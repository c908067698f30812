// The result panel as one state machine: idle, reading, result, not a digit, error, offline.
// Every state renders every element of the panel, so no state shows beside another's leftovers.
// Only final readings, errors and requests for a drawing are announced, through the page's single
// live region; interim guesses while a stroke is drawn are shown quietly.
import { percent, renderProbabilities, resetProbabilities } from "./chart.js";

const SLOW_MS = 300; // a reading that takes longer than this shows a "Reading…" cue

const $ = (id) => document.getElementById(id);

export class ResultPanel {
  constructor() {
    this.panel = $("answer");
    this.label = $("answer-label");
    this.prediction = $("prediction");
    this.headline = $("confidence");
    this.message = $("status");
    this.chart = $("probabilities");
    this.chartHeading = $("chart-heading");
    this.preview = $("preprocessed");
    this.figure = $("preview");
    this.announcer = $("announce");
    this.state = "idle";
    this.slowTimer = null;
    this.number = false; // number mode: the idle headline asks for a number
    this.idle();
  }

  idle(message = "") {
    this._render({ state: "idle", headline: this.number ? "Draw a number to start" : "Draw a digit to start", message });
    if (message) this._announce(message);
  }

  /** A final reading is under way: after SLOW_MS, replace whatever is shown by a "Reading…" cue. */
  reading() {
    this._setState("reading");
    this.panel.setAttribute("aria-busy", "true");
    this.slowTimer = setTimeout(() => {
      this._render({ state: "reading", headline: "Reading…", slow: true });
      this.panel.setAttribute("aria-busy", "true");
    }, SLOW_MS);
  }

  /**
   * Show an answer from /predict (see app.py); `interim` for a guess while a stroke is drawn.
   * `selected` is the index in answer.digits whose chart to show in a number.
   */
  result(answer, { interim = false, selected = null, announce = !interim } = {}) {
    const notDigit = answer.not_a_digit === true || answer.digit === null || answer.digit === undefined;
    if (notDigit) {
      this._render({
        state: "not-digit", interim, headline: "That does not look like a digit",
        message: "Write one digit from 0 to 9, large and clear.",
        probabilities: answer.probabilities, top: null, preview: answer.preprocessed,
      });
      if (announce) this._announce("That does not look like a digit.");
      return;
    }
    const digits = answer.digits?.length ? answer.digits : [answer];
    const many = digits.length > 1;
    const shown = many && selected !== null ? digits[selected] : answer;
    const unsure = digits.some((d) => d.low_confidence) || Boolean(answer.low_confidence);
    const lowest = percent(Math.min(...digits.map((d) => d.confidence))).replace(">", "over ");
    const headline = many
      ? `${digits.length} digits, each ${lowest.startsWith("over") ? "" : "at least "}${lowest} confident`
      : `${percent(answer.confidence).replace(">", "over ")} confident`;
    const message = unsure ? (many ? "Not sure of every digit: write them larger and apart." : "Not sure: try writing it larger and clearer.") : "";
    let chartHeading = "Probability of each digit";
    if (many) {
      const index = selected ?? 0;
      chartHeading = `Probabilities for digit ${index + 1} of ${digits.length} (${digits[index].digit})`;
    }
    const chartOf = many && selected === null ? digits[0] : shown;
    this._render({
      state: "result", interim, unsure, headline, message, chartHeading,
      prediction: many ? (answer.text || answer.number) : String(answer.digit),
      probabilities: chartOf.probabilities || answer.probabilities, top: chartOf.digit,
      preview: answer.preprocessed,
    });
    if (announce) this._announce(`It reads ${many ? (answer.text || answer.number) : answer.digit}, ${headline}. ${message}`.trim());
  }

  error(message) {
    this._render({ state: "error", headline: "No answer", message, error: true });
    this._announce(message);
  }

  offline() {
    const message = "The server could not be reached. Your drawing is kept: press Predict to try again.";
    this._render({ state: "offline", headline: "Offline", message, error: true });
    this._announce(message);
  }

  _setState(state) {
    clearTimeout(this.slowTimer);
    this.slowTimer = null;
    this.state = state;
    this.panel.dataset.state = state;
    this.panel.removeAttribute("aria-busy");
  }

  _render({ state, interim = false, unsure = false, slow = false, error = false, prediction = "", headline = "",
    message = "", chartHeading = "Probability of each digit", probabilities = null, top = null, preview = null }) {
    this._setState(state);
    this.panel.classList.toggle("interim", interim);
    this.panel.classList.toggle("unsure", unsure);
    this.panel.classList.toggle("slow", slow);
    this.label.textContent = interim ? "Guess so far" : "It reads";
    this.prediction.textContent = prediction;
    this.headline.textContent = headline;
    this.message.textContent = message;
    this.message.classList.toggle("error", error);
    this.chartHeading.textContent = chartHeading;
    if (probabilities) renderProbabilities(this.chart, probabilities, top);
    else resetProbabilities(this.chart);
    this.figure.hidden = !preview;
    if (preview) this.preview.src = preview;
    else this.preview.removeAttribute("src");
  }

  _announce(text) {
    // Emptied first so that the same sentence twice in a row is announced twice.
    this.announcer.textContent = "";
    requestAnimationFrame(() => { this.announcer.textContent = text; });
  }
}
