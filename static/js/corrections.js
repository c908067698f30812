// The correction bar: after each reading, "Wrong? It was …". Pressing a digit (or "not a digit")
// posts the drawing that was read and that label to /corrections; nothing is sent otherwise.
// Listens for app.js's digit:reading / digit:cleared events and never touches the drawing. With nothing to
// correct (before a reading, while a drawing goes on) the bar is invisible but keeps its place, so the
// chart below it never moves as the pen goes down and up.
const section = document.getElementById("correction");
const message = document.getElementById("correction-status");
const buttons = [...section.querySelectorAll("button[data-label]")];

let image = null; // the data URL that was read, for the current reading only

function say(text, isError = false) {
  message.textContent = text;
  message.classList.toggle("error", isError);
}

function reset(enabled) {
  for (const button of buttons) {
    button.disabled = !enabled;
    button.setAttribute("aria-pressed", "false");
  }
  say("");
}

async function send(button) {
  const sent = image;
  for (const other of buttons) other.disabled = true;
  button.setAttribute("aria-pressed", "true");
  say("Saving…");
  let text = "";
  let saved = false;
  try {
    const response = await fetch("/corrections", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ image: sent, label: button.dataset.label }),
    });
    saved = response.ok;
    if (!saved) {
      const data = await response.json().catch(() => ({}));
      text = data.error || `The server answered ${response.status}; the correction was not saved.`;
    }
  } catch {
    text = "The server could not be reached; the correction was not saved.";
  }
  if (sent !== image) return; // a new drawing came meanwhile
  if (saved) {
    say("Thanks — saved.");
  } else {
    reset(true);
    say(text, true);
  }
}

document.addEventListener("digit:reading", (event) => {
  image = event.detail.image;
  section.classList.toggle("off", !image);
  reset(Boolean(image));
});
document.addEventListener("digit:cleared", () => {
  image = null;
  section.classList.add("off");
  reset(false);
});
for (const button of buttons) button.addEventListener("click", () => send(button));
