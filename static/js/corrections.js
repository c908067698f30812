// The correction bar: after each reading, "Wrong? It was …": the ten digits and "not a digit" for a digit;
// for a number (two digits or more, or number mode) a field holding the number as read, to be put right
// and saved, and "not a number". The first press posts the drawing that was read, the label and the mode it
// was read in (so the server's stored reading is the one shown) to /corrections; a later press changes that
// row (PATCH, with the secret the server answered, kept in memory for this reading only) and Withdraw
// deletes it. Nothing is sent otherwise.
// Listens for app.js's digit:reading / digit:cleared events and never touches the drawing. With nothing to
// correct (before a reading, while a drawing goes on) the bar is invisible but keeps its place, and its two
// forms share one place, so the chart below never moves. Nothing is disabled under the focus: the pressed
// control keeps it, showing it is chosen, and every outcome is said through the page's one live region.
import { announce as speak } from "./announce.js";

const $ = (id) => document.getElementById(id);
const NUMBER = /^[0-9]+(?:[.,/-][0-9]+)*$/; // a number as /corrections takes it (corrections/routes.py)
const NUMBER_CHARS = 32;

const section = $("correction");
const digitForm = $("correction-digits");
const numberForm = $("correction-number");
const input = $("correction-input");
const save = $("correction-save");
const withdrawButton = $("correction-withdraw");
const message = $("correction-status");
const labelButtons = [...section.querySelectorAll("button[data-label]")];
const pressable = [...labelButtons, save];

let reading = null; // {image, mode, number, read} of the reading offered for correction (read: the number as read)
let saved = null; // {id, secret, pressed, label} of the row stored for it (secret null: a duplicate, unchangeable)
let busy = false; // a request is under way: presses wait for it

/** Show `text` under the bar; `announce` it to screen readers too (an outcome, not "Saving…"). */
function say(text, { isError = false, announce = false } = {}) {
  message.textContent = text;
  message.classList.toggle("error", isError);
  if (!announce) return;
  // An outcome under a button pressed at the screen's bottom edge (a phone) would be below it: bring it into view.
  (withdrawButton.hidden ? message : withdrawButton).scrollIntoView?.({ block: "nearest" });
  speak(text);
}

/** Show which label is chosen (Save is an action, not a choice: the field shows the number saved). */
function setPressed(chosen) {
  for (const button of labelButtons) button.setAttribute("aria-pressed", String(button === chosen));
}

/** Offer a reading for correction (null: nothing to correct). */
function offer(detail) {
  // A focused control is about to be hidden (Escape pressed on it, say): the focus goes to Read again.
  if (!detail?.image && section.contains(document.activeElement)) $("predict").focus();
  const answer = detail?.answer || {};
  const number = Boolean(detail?.image) && ((answer.digits?.length || 0) > 1 || detail.mode === "number");
  const read = number ? answer.text || answer.number || "" : "";
  reading = detail?.image ? { image: detail.image, mode: detail.mode || "auto", number, read } : null;
  saved = null;
  section.classList.toggle("off", !reading);
  digitForm.classList.toggle("inactive", number);
  numberForm.classList.toggle("inactive", !number);
  for (const control of [...pressable, input]) control.disabled = !reading || control.closest(".inactive") !== null;
  input.value = read;
  setPressed(null);
  withdrawButton.hidden = true;
  say("");
}

/** Send a request about a correction; resolves to {ok, data} or {ok: false, error}. */
async function request(url, method, body = null, secret = null) {
  const headers = { "Content-Type": "application/json" };
  if (secret) headers.Authorization = `Bearer ${secret}`;
  try {
    const response = await fetch(url, { method, headers, body: body && JSON.stringify(body) });
    const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
    if (response.ok) return { ok: true, data };
    return { ok: false, error: data.error || `The server answered ${response.status}; nothing was changed.` };
  } catch {
    return { ok: false, error: "The server could not be reached; nothing was changed." };
  }
}

/** Save `label` ({label} or {number}) for the reading, pressed on `control`: a new row, or a change to ours. */
async function choose(label, control, said) {
  if (busy || !reading) return;
  const key = JSON.stringify(label);
  if (saved?.label === key) return; // saved already, as it is
  const current = reading;
  const before = saved?.pressed || null;
  busy = true;
  setPressed(control);
  say(saved?.secret ? "Changing…" : "Saving…");
  const change = Boolean(saved?.secret);
  const result = change
    ? await request(`/corrections/${saved.id}`, "PATCH", label, saved.secret)
    : await request("/corrections", "POST", { image: current.image, mode: current.mode, ...label });
  busy = false;
  if (current !== reading) return; // a new drawing came meanwhile
  if (!result.ok) {
    setPressed(before);
    say(result.error, { isError: true, announce: true });
    return;
  }
  saved = change ? { ...saved, pressed: control, label: key }
    : { id: result.data.id, secret: result.data.secret || null, pressed: control, label: key };
  withdrawButton.hidden = !saved.secret;
  say(change ? `Changed to ${said} — saved.` : "Thanks — saved.", { announce: true });
}

async function withdraw() {
  if (busy || !saved?.secret) return;
  const current = reading;
  busy = true;
  say("Withdrawing…");
  const result = await request(`/corrections/${saved.id}`, "DELETE", null, saved.secret);
  busy = false;
  if (current !== reading) return;
  if (!result.ok) {
    say(result.error, { isError: true, announce: true });
    return;
  }
  const pressed = saved.pressed;
  saved = null;
  setPressed(null);
  pressed.focus(); // Withdraw is hidden now: the focus goes back to the label it took back
  withdrawButton.hidden = true;
  input.value = reading.read; // the field shows what was read again, not the correction withdrawn
  say("Withdrawn: nothing of this drawing is kept.", { announce: true });
}

document.addEventListener("digit:reading", (event) => offer(event.detail));
document.addEventListener("digit:cleared", () => offer(null));
for (const button of labelButtons) {
  const name = () => (button.dataset.label === "not_a_digit" ? button.textContent.trim() : button.dataset.label);
  button.addEventListener("click", () => choose({ label: button.dataset.label }, button, name()));
}
numberForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (text.length > NUMBER_CHARS || !NUMBER.test(text)) {
    say("Write the number in digits 0–9, with . , - / only between them.", { isError: true, announce: true });
    input.focus();
    return;
  }
  choose({ number: text }, save, text);
});
withdrawButton.addEventListener("click", withdraw);
offer(null);
