// The correction bar: after each reading, "Wrong? It was …". Pressing a digit (or "not a digit")
// posts the drawing that was read and that label to /corrections; nothing is sent otherwise.
// Listens for app.js's digit:reading / digit:cleared events and never touches the drawing. With nothing to
// correct (before a reading, while a drawing goes on) the bar is invisible but keeps its place, so the
// chart below it never moves as the pen goes down and up. The pressed button keeps the focus (it stays
// enabled, showing it is chosen) and the outcome is said through the page's one live region.
const section = document.getElementById("correction");
const message = document.getElementById("correction-status");
const buttons = [...section.querySelectorAll("button[data-label]")];
const announcer = document.getElementById("announce"); // the page's live region (state.js speaks through it too)

let image = null; // the data URL that was read, for the current reading only

/** Show `text` under the bar; `announce` it to screen readers too (an outcome, not "Saving…"). */
function say(text, { isError = false, announce = false } = {}) {
  message.textContent = text;
  message.classList.toggle("error", isError);
  if (!announce) return;
  announcer.textContent = ""; // emptied first, so the same sentence twice is announced twice
  requestAnimationFrame(() => { announcer.textContent = text; });
}

function reset(enabled) {
  for (const button of buttons) {
    button.disabled = !enabled;
    button.setAttribute("aria-pressed", "false");
  }
  say("");
}

async function send(button) {
  if (button.getAttribute("aria-pressed") === "true") return; // saved, or being saved: once per reading
  const sent = image;
  for (const other of buttons) other.disabled = other !== button; // the pressed one keeps the focus
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
    say("Thanks — saved.", { announce: true });
  } else {
    reset(true);
    say(text, { isError: true, announce: true });
  }
}

document.addEventListener("digit:reading", (event) => {
  image = event.detail.image;
  section.classList.toggle("off", !image);
  reset(Boolean(image));
});
document.addEventListener("digit:cleared", () => {
  // A focused button is about to be hidden (Escape pressed on it, say): the focus goes to Read again.
  if (section.contains(document.activeElement)) document.getElementById("predict").focus();
  image = null;
  section.classList.add("off");
  reset(false);
});
for (const button of buttons) button.addEventListener("click", () => send(button));
