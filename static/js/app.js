// Page wiring: guesses while a stroke is drawn, a reading when the pen lifts, the controls and keys,
// uploads, number mode and the boxes around each digit. Requests: one in flight at most; only the
// answer to the newest is shown (requests.js). The reading made when the pen lifts is shown at once but quietly: it
// becomes final (announced, offered for correction, "digit:reading") only once the writer has paused for
// SETTLE_MS, so a 4's two strokes or the digits of "2026" are one reading, announced once. A failed
// request never touches the drawing or the photo. Photos are shrunk before they are sent (photo.js); a
// stroke drawn over a photo clears the photo, and a photo shown over a drawing clears the drawing, each with a
// notice and back with Undo; a file the browser cannot show is refused and leaves the canvas as it was.
// Everything the page remembers lives in `state`; the mode is state.mode alone, and the toggle, the lede,
// the empty canvas's cue and the panel's idle headline are drawn from it.
//
// Events on document (the contract with other page modules):
//   "digit:reading" {detail: {image: data URL sent, answer: the JSON, mode: the mode it was read in}} after
//   each final reading;
//   "digit:cleared" when the drawing is cleared or undone, a new stroke starts, a file is chosen or the mode changes:
//   the reading shown is no longer of what the canvas will show.
import { DrawingPad } from "./pad.js";
import { ResultPanel } from "./state.js";
import { showBoxes, clearBoxes } from "./boxes.js";
import { PhotoError, preparePhoto } from "./photo.js";
import { isSmall as smallFor, refit } from "./geometry.js";
import { Requests } from "./requests.js";
import { showNotice, hideNotice } from "./notice.js";
import { takeFiles } from "./files.js";

const INTERIM_MS = 250; // at most four guesses a second while a stroke is drawn
const SETTLE_MS = 500; // a pause this long after the pen lifts makes the reading final (people pause less between strokes)

const $ = (id) => document.getElementById(id);
const dropzone = $("dropzone");
const modeButton = $("mode");
const LEDE = { digit: $("lede").textContent, number: $("lede").dataset.number }; // the line under the title
const CUE = { digit: "Draw a digit here", number: "Write a number here" }; // over the empty canvas

const state = {
  mode: "digit", // "digit" (the square canvas) or "number" (the wide one); the template starts in digit mode
  lastGuess: 0, // when the last guess was sent (performance.now())
  guessTimer: null,
  file: null, // the uploaded file shown on the canvas
  blob: null, // what is sent for it (the file, or the photo shrunk), again by Read again
  // What the canvas showed before, the last on top, until Undo brings each back or Clear forgets them: the drawing a
  // photo cleared ({strokes, mode}), the photo another photo replaced and the photo a stroke cleared ({file, blob,
  // image}). At most those three: a photo over a drawing starts afresh, and one over a photo takes the place of the
  // photo kept before it.
  beneath: [],
  preparing: null, // the request number (requests.seq) of a file being shrunk before it is shown, or null
  reading: null, // {answer, image, small, mode, photo} of the reading shown, for choosing a digit's chart
};

const panel = new ResultPanel({ mode: () => state.mode });
const requests = new Requests(); // one at a time; only the answer to the newest is shown

const pad = new DrawingPad($("canvas"), {
  onStrokeStart() {
    requests.cancel();
    clearBoxes(focusFallback);
    if (state.file) dropPhoto();
    document.dispatchEvent(new CustomEvent("digit:cleared"));
  },
  onStrokeMove: scheduleGuess,
  onStrokeEnd: () => readDrawing({ settle: true }),
  onStrokeCancel() {
    if (pad.isEmpty()) clearAll();
    else readDrawing({ settle: true });
  },
  onChange() {
    const empty = pad.isEmpty();
    dropzone.classList.toggle("empty", empty);
    // A focused button that disables itself (Clear, or Undo of the last stroke) would drop the focus to the
    // page's start: it moves where focusFallback sends it from a removed box label (Read again, once empty).
    const stranded = empty && [$("undo"), $("clear")].includes(document.activeElement);
    $("undo").disabled = $("clear").disabled = empty;
    if (stranded) focusFallback().focus();
  },
});

/** Where the focus goes when the box label holding it is removed: Undo, or Read again once nothing is left. */
function focusFallback() {
  return $("undo").disabled ? $("predict") : $("undo");
}

/** A drawing is read in the page's mode: "number" reads the line whole (the string reader), "digit" by segments. */
function postDrawing(sent) {
  return requests.post(JSON.stringify({ image: sent.url, mode: state.mode }), { "Content-Type": "application/json" });
}

/** While a stroke is drawn, guess at most every INTERIM_MS, never with a request already in flight. */
function scheduleGuess() {
  if (state.guessTimer !== null || requests.pending) return;
  state.guessTimer = setTimeout(guess, Math.max(0, state.lastGuess + INTERIM_MS - performance.now()));
}

async function guess() {
  state.guessTimer = null;
  if (!pad.isDrawing() || requests.pending) return;
  state.lastGuess = performance.now();
  const version = pad.version;
  const result = await postDrawing(pad.export());
  if (!pad.isDrawing()) return;
  if (result?.ok) panel.result(result.data, { interim: true, small: isSmall() });
  if (pad.version !== version) scheduleGuess();
}

/**
 * Show a result: `sent` is the exported drawing, or null for a photo (a failure never touches either).
 * `quiet`: a reading shown while the writer may still add a stroke: not announced, not yet final
 * (makeFinal() makes it final).
 */
function finish(result, image, sent, quiet = false) {
  if (!result) return;
  if (result.offline) {
    panel.offline(sent ? "drawing" : "photo");
  } else if (!result.ok && result.data.no_digit) {
    // The server's answer asks for a drawing or a picture; a photo's own advice replaces that (its `finding` alone).
    const error = sent ? result.data.error : result.data.finding || result.data.error;
    panel.noDigit(`${error}${sent ? "" : " Choose another photo, or draw instead."}`);
  } else if (!result.ok) {
    const after = sent ? "Your drawing is kept." : "The photo was not read: choose another photo, or draw instead.";
    panel.error(`${result.data.error || `The server answered with an error.`} ${after}`);
  } else {
    // A photo is read in number mode, or as the server chooses ("auto"): readFile's form says which.
    const mode = sent || state.mode === "number" ? state.mode : "auto";
    state.reading = { answer: result.data, image, small: sent ? isSmall() : false, mode, photo: !sent };
    panel.result(result.data, { small: state.reading.small, image, announce: false, photo: !sent });
    showBoxes(result.data, (box) => pad.boxToFractions(box, sent), selectDigit, pad.tracker);
    if (!quiet) makeFinal();
  }
}

/** The reading shown is final: announce it and offer it for correction. */
function makeFinal() {
  const { answer, image, mode } = state.reading;
  panel.announceReading();
  document.dispatchEvent(new CustomEvent("digit:reading", { detail: { image, answer, mode } }));
}

function selectDigit(index) {
  const { answer, small, image, photo } = state.reading;
  panel.result(answer, { selected: index, announce: false, small, image, photo });
}

/** Whether the drawing is small on the canvas (geometry.js's SMALL_DRAWING). */
function isSmall() {
  return smallFor(pad.extent(), state.mode);
}

/**
 * Read the drawing. `settle`: the pen has just lifted, so the answer is shown quietly and made final only
 * after SETTLE_MS without a new stroke (a new stroke, undo or clear supersedes it: requests.seq moves on).
 */
async function readDrawing({ settle = false } = {}) {
  clearTimeout(state.guessTimer);
  state.guessTimer = null;
  if (pad.isEmpty()) {
    requests.cancel();
    panel.idle(`Draw a ${state.mode} first.`);
    return;
  }
  if (state.blob && !pad.strokes.length) return readFile(state.file);
  clearBoxes(focusFallback);
  const sent = pad.export();
  const paused = settle ? new Promise((resolve) => setTimeout(resolve, SETTLE_MS)) : null;
  panel.reading();
  const result = await postDrawing(sent);
  if (!paused || !result?.ok) return finish(result, sent.url, sent);
  const id = requests.seq;
  finish(result, sent.url, sent, true);
  await paused;
  if (id === requests.seq) makeFinal(); // else the writer went on: this reading was not the last
}

function dataURL(file) {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => resolve("");
    reader.readAsDataURL(file);
  });
}

/**
 * Read an image file: a new one (`fresh`: chosen, dropped or taken) is shown on the canvas in place of what was
 * there, which Undo brings back; the one shown is read again (Read again, a new mode). A file that cannot be shown
 * (photo.js) leaves the canvas, and what Read again reads, as they were.
 */
async function readFile(file, fresh = file !== state.file) {
  if (!file) return;
  requests.cancel(); // a reading under way would replace this file's answer, or its error
  const kept = pad.strokes.length ? " Your drawing is kept." : pad.image ? " The photo shown is kept." : "";
  if (file.type && !file.type.startsWith("image/")) {
    panel.error(`“${file.name}” is not an image; choose a PNG, JPEG, WebP, BMP or GIF.${kept}`);
    return;
  }
  clearBoxes(focusFallback);
  panel.reading(); // a 12 MP photo takes a moment to shrink on a phone
  if (fresh) {
    hideNotice();
    document.dispatchEvent(new CustomEvent("digit:cleared"));
    const id = requests.seq;
    state.preparing = id; // Undo meanwhile cancels this file, not the drawing's last stroke
    let photo;
    try {
      photo = await preparePhoto(file);
    } catch (error) {
      if (id !== requests.seq) return;
      state.preparing = null;
      const why = error instanceof PhotoError ? error.message : "This photo could not be read; choose another.";
      panel.error(`${why}${kept}`); // the canvas and what it shows are as they were
      return;
    }
    if (id !== requests.seq) return; // something newer came while the photo was shrunk
    state.preparing = null;
    replaceCanvas(file, photo.blob, () => pad.setImage(photo.shown));
  }
  const blob = state.blob;
  const form = new FormData();
  form.append("image", blob, blob === file ? file.name : "photo.jpg");
  // A photo may hold a number whatever the canvas's mode: the server chooses unless number mode is on.
  form.append("mode", state.mode === "number" ? "number" : "auto");
  const result = await requests.post(form);
  finish(result, result ? await dataURL(blob) : "", null);
}

/** The photo on the canvas, as state.beneath keeps it for Undo. */
function shownPhoto() {
  return { file: state.file, blob: state.blob, image: pad.image };
}

/**
 * A photo (`file`, sent as `blob`) takes the canvas, `show` putting it there. What the canvas held is kept for
 * Undo (state.beneath): a drawing (with a notice), or the photo shown before.
 */
function replaceCanvas(file, blob, show) {
  const drawn = pad.strokes.length > 0;
  if (drawn) state.beneath = [{ strokes: pad.toData(), mode: state.mode }];
  else if (pad.image) state.beneath = [...state.beneath.filter((entry) => entry.strokes), shownPhoto()];
  show();
  state.file = file;
  state.blob = blob;
  if (drawn) showNotice("The drawing was cleared: a photo is read on its own. Undo brings the drawing back.");
}

/** A stroke starts over the photo: clear the photo (a drawing is read on its own), keep it for Undo, and say so. */
function dropPhoto() {
  state.beneath.push(shownPhoto());
  state.file = state.blob = null;
  pad.dropImage();
  showNotice("The photo was cleared: a drawing is read on its own. Undo the drawing to bring the photo back.");
}

function clearAll() {
  requests.cancel();
  hideNotice();
  state.file = state.blob = null;
  state.beneath = [];
  state.reading = null;
  pad.clear();
  clearBoxes(focusFallback);
  panel.idle();
  document.dispatchEvent(new CustomEvent("digit:cleared"));
}

function undo() {
  if (state.preparing === requests.seq) {
    // A file is being shrunk: Undo cancels it, and the canvas keeps what it shows (a stranger's drawing was undone
    // with it).
    requests.cancel();
    state.preparing = null;
    if (pad.isEmpty()) panel.idle();
    else readDrawing();
    return;
  }
  if (pad.isEmpty()) return;
  requests.cancel();
  // The reading offered for correction is of what is being undone: withdrawn at once, not when the next one comes.
  document.dispatchEvent(new CustomEvent("digit:cleared"));
  pad.undo();
  if (pad.isEmpty() && state.beneath.length) restoreBeneath();
  else if (pad.isEmpty()) clearAll();
  else readDrawing();
}

/** The canvas is undone to empty: what it showed before comes back and is read again, a photo (a stray finger on a
 * phone costs nothing) or a drawing, in the mode it was written in. */
function restoreBeneath() {
  const last = state.beneath.pop();
  hideNotice();
  state.file = last.file ?? null;
  state.blob = last.blob ?? null;
  if (last.image) {
    pad.setImage(last.image);
    readFile(last.file);
    return;
  }
  if (last.mode !== state.mode) {
    state.mode = last.mode;
    renderMode();
    pad.resize();
    showNotice(`Back in ${last.mode} mode, where the drawing was written.`);
  }
  pad.fromData(last.strokes);
  readDrawing();
}

/** Switch to `mode` ("digit" or "number"), keeping the drawing where it fits the new canvas, or asking first. */
async function setMode(mode) {
  if (mode === state.mode) return;
  const moved = refit(pad.toData(), state.mode, mode);
  if (moved === null) {
    if ((await ask()) !== "discard") return;
    clearAll();
  } else if (moved.length) {
    pad.fromData(moved);
  }
  state.mode = mode;
  renderMode();
  pad.resize();
  document.dispatchEvent(new CustomEvent("digit:cleared")); // the reading offered for correction was the old mode's
  if (state.file) readFile(state.file); // the photo stays, read again as the new mode reads photos
  else if (pad.isEmpty()) panel.idle();
  else readDrawing();
}

/** Draw the mode on the page: the toggle, the canvas's shape, the cue over the empty canvas, the lede. */
function renderMode() {
  const number = state.mode === "number";
  modeButton.setAttribute("aria-pressed", String(number));
  $("mode-state").textContent = number ? "on" : "off";
  $("main").classList.toggle("wide", number);
  dropzone.querySelector(".empty-cue").textContent = CUE[state.mode];
  $("lede").textContent = LEDE[state.mode];
}

function ask() {
  const dialog = $("mode-dialog");
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
    dialog.returnValue = "keep";
    dialog.showModal();
  });
}

$("mode-discard").addEventListener("click", () => $("mode-dialog").close("discard"));
$("mode-keep").addEventListener("click", () => $("mode-dialog").close("keep"));
$("predict").addEventListener("click", () => readDrawing());
$("clear").addEventListener("click", clearAll);
$("undo").addEventListener("click", undo);
modeButton.addEventListener("click", () => setMode(state.mode === "number" ? "digit" : "number"));

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || document.querySelector("dialog[open]")) return;
  if (event.target.closest?.("input, textarea, select")) return;
  const undoKey = (event.ctrlKey || event.metaKey) && !event.shiftKey && !event.altKey && event.key.toLowerCase() === "z";
  if (undoKey) {
    event.preventDefault();
    undo();
  } else if ((event.key === "Escape" || event.key === "Delete") && !event.ctrlKey && !event.metaKey && !event.altKey) {
    if (pad.isEmpty()) return;
    event.preventDefault();
    clearAll();
  }
});

takeFiles(dropzone, [$("upload"), $("camera")], (file) => readFile(file, true));
