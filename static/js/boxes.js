// Boxes around each digit of a number, placed in fractions of the canvas so that a resize or a
// rotation keeps them on their digits. Each box's label sits outside the box (below, else above),
// never over the start of a stroke, and is a button that shows that digit's chart; a stroke that starts on a
// label draws (the pad's PointerTracker.passOn).
import { labelPlaces } from "./geometry.js";

const LABEL_PX = 28; // room a label needs beside its box

const boxes = document.getElementById("boxes");

/**
 * Remove every box. A label that has the focus hands it to `fallback()` (an element, or null), so that
 * removing it (Ctrl+Z pressed on a label, say) never drops the focus to <body>.
 */
export function clearBoxes(fallback = null) {
  const focused = boxes.contains(document.activeElement);
  boxes.replaceChildren();
  if (focused) fallback?.()?.focus();
}

/**
 * Draw a box per digit of a number (answers with two or more digits).
 * @param {object} answer the JSON from /predict, with digits[i].box = [x, y, w, h]
 * @param {(box: number[]) => number[]} toFractions maps a box to [x, y, w, h] in 0..1 of the canvas
 * @param {(index: number) => void} onSelect called with the index of the digit whose label is pressed
 * @param {{passOn: (control: HTMLElement) => void} | null} tracker the pad's PointerTracker: a stroke that starts on
 *   a label draws (on a phone the labels cover where the next digits go), a press that does not move selects
 */
export function showBoxes(answer, toFractions, onSelect, tracker = null) {
  clearBoxes();
  const digits = answer.digits || [];
  if (digits.length < 2) return;
  const { width, height } = boxes.getBoundingClientRect();
  const placed = digits.map((digit) => toFractions(digit.box));
  const places = labelPlaces(placed, LABEL_PX / Math.max(1, height), LABEL_PX / Math.max(1, width));
  digits.forEach((digit, index) => {
    const [x, y, w, h] = placed[index];
    const frame = document.createElement("span");
    frame.className = "box";
    Object.assign(frame.style, { left: pct(x), top: pct(y), width: pct(w), height: pct(h) });
    const label = document.createElement("button");
    label.type = "button";
    label.textContent = String(digit.digit);
    label.className = places[index];
    label.setAttribute("aria-label", `Show the chart of digit ${index + 1} of ${digits.length}, read as ${digit.digit}`);
    label.setAttribute("aria-pressed", "false");
    tracker?.passOn(label); // first: a press that became a stroke swallows the click below
    label.addEventListener("click", () => {
      for (const other of boxes.querySelectorAll("button")) other.setAttribute("aria-pressed", String(other === label));
      onSelect(index);
    });
    frame.append(label);
    boxes.append(frame);
  });
}

const pct = (fraction) => `${(fraction * 100).toFixed(3)}%`;
