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
const upload = $("upload");

const pad = new DrawingPad($("canvas"), { onStrokeEnd: predictDrawing });

let latest = 0; // only the answer to the newest request is shown
let inFlight = null;

function setStatus(text, isError = false) {
  status.textContent = text;
  status.classList.toggle("error", isError);
}

function showResult(data) {
  prediction.textContent = String(data.digit);
  confidence.textContent = `${(data.confidence * 100).toFixed(1)}% confident`;
  renderProbabilities(chart, data.probabilities);
  preview.src = data.preprocessed;
  preview.hidden = false;
  setStatus("");
}

function resetResult(message) {
  prediction.textContent = "";
  confidence.textContent = message;
  resetProbabilities(chart);
  preview.hidden = true;
  preview.removeAttribute("src");
}

async function send(body, headers = {}) {
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
  send(JSON.stringify({ image: pad.toDataURL() }), { "Content-Type": "application/json" });
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
  const form = new FormData();
  form.append("image", file);
  send(form);
}

$("predict").addEventListener("click", predictDrawing);
$("clear").addEventListener("click", () => {
  latest++;
  inFlight?.abort();
  answer.classList.remove("busy");
  pad.clear();
  resetResult("Draw a digit to start");
  setStatus("");
});
upload.addEventListener("change", () => {
  predictFile(upload.files[0]);
  upload.value = "";
});

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
