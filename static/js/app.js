// Page wiring: predict when a stroke ends, the Predict / Clear / Upload controls, drag and drop,
// and rendering the server's answer. A failed request never touches the drawing.
import { DrawingPad } from "./pad.js";
import { renderProbabilities, resetProbabilities } from "./chart.js";

const $ = (id) => document.getElementById(id);
const answer = $("answer");
const prediction = $("prediction");
const confidence = $("confidence");
const status = $("status");
const chart = $("probabilities");
const preview = $("preprocessed");
const dropzone = $("dropzone");
const boxes = $("boxes");
const chartHeading = $("chart-heading");
const modeButton = $("mode");

const pad = new DrawingPad($("canvas"), { onStrokeStart: startStroke, onStrokeEnd: predictDrawing });

let latest = 0; // only the answer to the newest request is shown
let inFlight = null;
let source = "drawing"; // what the boxes of the answer refer to: the drawing or an uploaded image

function setStatus(text, isError = false) {
  status.textContent = text;
  status.classList.toggle("error", isError);
}

function clearBoxes() {
  boxes.replaceChildren();
}

function startStroke() {
  clearBoxes();
  document.dispatchEvent(new CustomEvent("digit:cleared"));
}

function showBoxes(digits) {
  clearBoxes();
  for (const digit of digits) {
    const [x, y, w, h] = pad.boxToCanvas(digit.box, source);
    const box = document.createElement("span");
    box.dataset.digit = String(digit.digit);
    Object.assign(box.style, { left: `${x}px`, top: `${y}px`, width: `${w}px`, height: `${h}px` });
    boxes.append(box);
  }
}

function showResult(data) {
  const digits = data.digits || [data];
  if (digits.length > 1) {
    prediction.textContent = data.number;
    const lowest = Math.min(...digits.map((d) => d.confidence));
    confidence.textContent = `${digits.length} digits, each at least ${(lowest * 100).toFixed(1)}% confident`;
    chartHeading.textContent = `Probability of each digit, for the clearest one (${data.digit})`;
  } else {
    prediction.textContent = String(data.digit);
    confidence.textContent = `${(data.confidence * 100).toFixed(1)}% confident`;
    chartHeading.textContent = "Probability of each digit";
  }
  renderProbabilities(chart, data.probabilities);
  preview.src = data.preprocessed;
  preview.hidden = false;
  showBoxes(digits);
  answer.classList.toggle("unsure", Boolean(data.low_confidence));
  setStatus(data.low_confidence ? "Not sure this is a digit: try writing it larger and clearer." : "");
}

function resetResult(message) {
  clearBoxes();
  answer.classList.remove("unsure");
  chartHeading.textContent = "Probability of each digit";
  prediction.textContent = "";
  confidence.textContent = message;
  resetProbabilities(chart);
  preview.hidden = true;
  preview.removeAttribute("src");
}

async function send(body, headers = {}, image = null) {
  const id = ++latest;
  inFlight?.abort();
  inFlight = new AbortController();
  answer.classList.add("busy");
  try {
    const response = await fetch("/predict", { method: "POST", body, headers, signal: inFlight.signal });
    let data;
    try {
      data = await response.json();
    } catch {
      data = { error: `The server answered ${response.status} without a result; please try again.` };
    }
    if (id !== latest) return;
    if (response.ok) {
      showResult(data);
      const sent = await image; // a data URL (an upload's is read from the file)
      if (id === latest) document.dispatchEvent(new CustomEvent("digit:reading", { detail: { image: sent, answer: data } }));
    } else {
      resetResult("No answer");
      setStatus(data.error || `The server answered ${response.status}.`, true);
    }
  } catch (error) {
    if (error.name === "AbortError" || id !== latest) return;
    setStatus("The server could not be reached. Your drawing is kept: press Predict to try again.", true);
  } finally {
    if (id === latest) answer.classList.remove("busy");
  }
}

function predictDrawing() {
  if (pad.isEmpty()) {
    setStatus("Draw a digit first.", true);
    return;
  }
  source = "drawing";
  const image = pad.toDataURL();
  send(JSON.stringify({ image }), { "Content-Type": "application/json" }, image);
}

async function predictFile(file) {
  if (!file) return;
  if (file.type && !file.type.startsWith("image/")) {
    setStatus(`“${file.name}” is not an image; choose a PNG, JPEG, WebP, BMP or GIF.`, true);
    return;
  }
  try {
    pad.setImage(await createImageBitmap(file));
  } catch {
    pad.clear(); // the browser cannot show it; the server still gets to try
  }
  source = "image";
  const form = new FormData();
  form.append("image", file);
  send(form, {}, readAsDataURL(file));
}

function readAsDataURL(file) {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => resolve(null);
    reader.readAsDataURL(file);
  });
}

function clearAll() {
  latest++;
  inFlight?.abort();
  answer.classList.remove("busy");
  pad.clear();
  resetResult("Draw a digit to start");
  setStatus("");
  document.dispatchEvent(new CustomEvent("digit:cleared"));
}

$("predict").addEventListener("click", predictDrawing);
$("clear").addEventListener("click", clearAll);
modeButton.addEventListener("click", () => {
  const wide = modeButton.getAttribute("aria-pressed") !== "true";
  modeButton.setAttribute("aria-pressed", String(wide));
  document.querySelector("main").classList.toggle("wide", wide);
  clearAll(); // strokes placed on the old shape would land in the wrong places
});
for (const input of [$("upload"), $("camera")]) {
  input.addEventListener("change", () => {
    predictFile(input.files[0]);
    input.value = "";
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
  predictFile(event.dataTransfer.files[0]);
});
