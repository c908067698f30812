// Page wiring: guesses while a stroke is drawn, a reading when the pen lifts, the controls and keys,
// uploads, number mode and the boxes around each digit. Requests: one in flight at most; only the
// answer to the newest is shown. A failed request never touches the drawing or the photo. Photos are
// shrunk before they are sent (photo.js); a stroke drawn over a photo clears the photo, with a notice.
//
// Events on document (the contract with other page modules):
//   "digit:reading" {detail: {image: data URL sent, answer: the JSON}} after each final reading;
//   "digit:cleared" when the drawing is cleared, undone to empty, or a new stroke starts.
import { DrawingPad } from "./pad.js";
import { ResultPanel } from "./state.js";
import { showBoxes, clearBoxes } from "./boxes.js";
import { PhotoError, preparePhoto } from "./photo.js";

const INTERIM_MS = 250; // at most four guesses a second while a stroke is drawn
const ASPECT = { digit: 1, number: 2 }; // width / height of the canvas in each mode (style.css agrees)
// The pen's width is fixed, so a drawing under about a third of the canvas's height is mostly pen once the
// server scales it to MNIST's 20 px box: only then does the page advise writing larger.
const SMALL_DRAWING = 0.35;
const NOTICE_MS = 6000; // how long the notice over the canvas stays

const $ = (id) => document.getElementById(id);
const dropzone = $("dropzone");
const modeButton = $("mode");
const panel = new ResultPanel();

const pad = new DrawingPad($("canvas"), {
  onStrokeStart() {
    cancelRequest();
    clearBoxes();
    if (lastFile) dropPhoto();
    document.dispatchEvent(new CustomEvent("digit:cleared"));
  },
  onStrokeMove: scheduleGuess,
  onStrokeEnd: readDrawing,
  onStrokeCancel() {
    if (pad.isEmpty()) clearAll();
    else readDrawing();
  },
  onChange() {
    dropzone.classList.toggle("empty", pad.isEmpty());
    $("undo").disabled = $("clear").disabled = pad.isEmpty();
  },
});

let seq = 0; // only the answer to request number `seq` is shown
let controller = null;
let pending = null; // the request in flight (a promise), or null
let lastGuess = 0;
let guessTimer = null;
let lastFile = null; // the uploaded file shown on the canvas
let lastBlob = null; // what is sent for it (the file, or the photo shrunk), again by Read again
let noticeTimer = null;
let current = null; // {answer, image, small} of the reading shown, for choosing a digit's chart

function cancelRequest() {
  seq++;
  controller?.abort();
}

/**
 * POST a body to /predict once the request in flight (if any) has been aborted and settled.
 * Resolves to {ok, data} or {offline: true}, or null when a newer request superseded this one.
 */
async function post(body, headers = {}) {
  const id = ++seq;
  controller?.abort();
  while (pending) await pending;
  if (id !== seq) return null;
  controller = new AbortController();
  const { signal } = controller;
  const run = (async () => {
    try {
      const response = await fetch("/predict", { method: "POST", body, headers, signal });
      let data;
      try {
        data = await response.json();
      } catch {
        data = { error: `The server answered ${response.status} without a result; please try again.` };
      }
      return { ok: response.ok, data };
    } catch (error) {
      return error.name === "AbortError" ? null : { offline: true };
    }
  })();
  pending = run.then(() => { pending = null; });
  const result = await run;
  return id === seq ? result : null;
}

/** The reading mode /predict is asked for: "number" reads the line whole (the string reader), "digit" by segments. */
function readingMode() {
  return modeButton.getAttribute("aria-pressed") === "true" ? "number" : "digit";
}

function postDrawing(sent) {
  return post(JSON.stringify({ image: sent.url, mode: readingMode() }), { "Content-Type": "application/json" });
}

/** While a stroke is drawn, guess at most every INTERIM_MS, never with a request already in flight. */
function scheduleGuess() {
  if (guessTimer !== null || pending) return;
  guessTimer = setTimeout(guess, Math.max(0, lastGuess + INTERIM_MS - performance.now()));
}

async function guess() {
  guessTimer = null;
  if (!pad.isDrawing() || pending) return;
  lastGuess = performance.now();
  const version = pad.version;
  const result = await postDrawing(pad.export());
  if (!pad.isDrawing()) return;
  if (result?.ok) panel.result(result.data, { interim: true, small: isSmall() });
  if (pad.version !== version) scheduleGuess();
}

function finish(result, image, sent) {
  if (!result) return;
  // `sent` is the exported drawing, or null for a photo: a failure never touches either.
  if (result.offline) {
    panel.offline(sent ? "drawing" : "photo");
  } else if (!result.ok) {
    const after = sent ? "Your drawing is kept." : "The photo was not read: choose another photo, or draw instead.";
    panel.error(`${result.data.error || `The server answered with an error.`} ${after}`);
  } else {
    current = { answer: result.data, image, small: sent ? isSmall() : false };
    panel.result(result.data, { small: current.small, image });
    showBoxes(result.data, (box) => pad.boxToFractions(box, sent), selectDigit);
    document.dispatchEvent(new CustomEvent("digit:reading", { detail: { image, answer: result.data } }));
  }
}

function selectDigit(index) {
  panel.result(current.answer, { selected: index, announce: false, small: current.small, image: current.image });
}

/** Whether the drawing is small on the canvas (SMALL_DRAWING). */
function isSmall() {
  const extent = pad.extent();
  if (!extent) return false;
  const narrow = readingMode() === "number" || extent.right - extent.left < SMALL_DRAWING; // a number is wide
  return extent.bottom - extent.top < SMALL_DRAWING && narrow;
}

async function readDrawing() {
  clearTimeout(guessTimer);
  guessTimer = null;
  if (pad.isEmpty()) {
    cancelRequest();
    panel.idle(modeButton.getAttribute("aria-pressed") === "true" ? "Draw a number first." : "Draw a digit first.");
    return;
  }
  if (lastBlob && !pad.strokes.length) return readFile(lastFile);
  clearBoxes();
  const sent = pad.export();
  panel.reading();
  finish(await postDrawing(sent), sent.url, sent);
}

function dataURL(file) {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => resolve("");
    reader.readAsDataURL(file);
  });
}

async function readFile(file) {
  if (!file) return;
  if (file.type && !file.type.startsWith("image/")) {
    panel.error(`“${file.name}” is not an image; choose a PNG, JPEG, WebP, BMP or GIF.`);
    return;
  }
  cancelRequest();
  clearBoxes();
  panel.reading(); // a 12 MP photo takes a moment to shrink on a phone
  if (file !== lastFile) {
    hideNotice();
    document.dispatchEvent(new CustomEvent("digit:cleared"));
    const id = seq;
    let photo;
    try {
      photo = await preparePhoto(file);
    } catch (error) {
      if (id !== seq) return;
      pad.clear();
      lastFile = lastBlob = null;
      panel.error(error instanceof PhotoError ? error.message : "This photo could not be read; choose another.");
      return;
    }
    if (id !== seq) return; // something newer came while the photo was shrunk
    if (photo.shown) pad.setImage(photo.shown);
    else pad.clear(); // the browser cannot show it; the server still gets to try
    lastFile = file;
    lastBlob = photo.blob;
  }
  const blob = lastBlob;
  const form = new FormData();
  form.append("image", blob, blob === file ? file.name : "photo.jpg");
  // A photo may hold a number whatever the canvas's mode: the server chooses unless number mode is on.
  form.append("mode", readingMode() === "number" ? "number" : "auto");
  const result = await post(form);
  finish(result, result ? await dataURL(blob) : "", null);
}

/** A stroke starts over the photo: clear the photo (a drawing is read on its own) and say so. */
function dropPhoto() {
  lastFile = lastBlob = null;
  pad.dropImage();
  const notice = $("notice");
  notice.textContent = "The photo was cleared: a drawing is read on its own. Upload the photo again to read it.";
  notice.hidden = false;
  panel.announce(notice.textContent);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(hideNotice, NOTICE_MS);
}

function hideNotice() {
  clearTimeout(noticeTimer);
  $("notice").hidden = true;
}

function clearAll() {
  cancelRequest();
  hideNotice();
  lastFile = lastBlob = null;
  current = null;
  pad.clear();
  clearBoxes();
  panel.idle();
  document.dispatchEvent(new CustomEvent("digit:cleared"));
}

function undo() {
  if (pad.isEmpty()) return;
  cancelRequest();
  pad.undo();
  if (pad.isEmpty()) clearAll();
  else readDrawing();
}

/** Switch between the square canvas and the wide one, keeping the drawing, or asking first. */
async function setMode(number) {
  const before = number ? ASPECT.digit : ASPECT.number;
  const after = number ? ASPECT.number : ASPECT.digit;
  const extent = pad.extent();
  if (extent && (extent.right - extent.left) * before > after) {
    if ((await ask()) !== "discard") return;
    clearAll();
  } else if (extent) {
    // Keep the strokes' size: measured in canvas heights, slide them into the new canvas.
    const centre = ((extent.left + extent.right) / 2) * before;
    const shift = before > after ? Math.min(Math.max(centre - after / 2, 0), before - after) : 0;
    pad.transform(({ u, v }) => ({ u: (u * before - shift) / after, v }));
  }
  modeButton.setAttribute("aria-pressed", String(number));
  $("mode-state").textContent = number ? "on" : "off";
  $("main").classList.toggle("wide", number);
  dropzone.querySelector(".empty-cue").textContent = number ? "Write a number here" : "Draw a digit here";
  const lede = $("lede");
  lede.dataset.digit ??= lede.textContent;
  lede.textContent = number ? lede.dataset.number : lede.dataset.digit;
  panel.number = number;
  pad.resize();
  if (lastFile) clearAll();
  else if (pad.isEmpty()) panel.idle();
  else readDrawing();
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
$("predict").addEventListener("click", readDrawing);
$("clear").addEventListener("click", clearAll);
$("undo").addEventListener("click", undo);
modeButton.addEventListener("click", () => setMode(modeButton.getAttribute("aria-pressed") !== "true"));

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

// "Take a photo" only where the camera is offered for a file input: phones and tablets.
if (matchMedia("(pointer: coarse)").matches) {
  for (const element of document.querySelectorAll("#camera, label[for=camera]")) element.hidden = false;
}
for (const input of [$("upload"), $("camera")]) {
  input.addEventListener("change", () => {
    const file = input.files[0];
    input.value = "";
    lastFile = null;
    readFile(file);
  });
}

for (const type of ["dragenter", "dragover"]) {
  dropzone.addEventListener(type, (event) => {
    event.preventDefault();
    dropzone.classList.add("dragging");
  });
}
for (const type of ["dragleave", "drop"]) {
  dropzone.addEventListener(type, () => dropzone.classList.remove("dragging"));
}
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  lastFile = null;
  readFile(event.dataTransfer.files[0]);
});
