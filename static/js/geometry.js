// The page's geometry as pure functions (no DOM, so `node --test` runs them: tests/js/): strokes in
// canvas units, the two modes' canvases, and boxes from the server's pixels onto the canvas shown.
// A stroke is [{u, v}, ...], u and v in 0..1 of the canvas' width and height.

export const ASPECT = { digit: 1, number: 2 }; // width / height of the canvas in each mode (style.css agrees)
// The pen's width is fixed, so a drawing under about a third of the canvas's height is mostly pen once the
// server scales it to MNIST's 20 px box: only then does the page advise writing larger.
export const SMALL_DRAWING = 0.35;
// A number this share of the wide canvas long cannot be written much larger: it is never called small (a
// stranger's 10-digit phone number across the whole canvas was told "Write it larger").
export const FULL_NUMBER = 0.7;

/** The strokes' extent as {left, top, right, bottom} in 0..1 units, or null when there are none. */
export function extent(strokes) {
  const points = strokes.flat();
  if (!points.length) return null;
  const us = points.map((p) => p.u);
  const vs = points.map((p) => p.v);
  return { left: Math.min(...us), top: Math.min(...vs), right: Math.max(...us), bottom: Math.max(...vs) };
}

/**
 * Whether a drawing of this extent is small on the canvas of `mode` ("digit" or "number"): under SMALL_DRAWING
 * high, and with room to be written larger (a digit under SMALL_DRAWING wide, a number under FULL_NUMBER long).
 */
export function isSmall(box, mode) {
  if (!box) return false;
  const room = box.right - box.left < (mode === "number" ? FULL_NUMBER : SMALL_DRAWING);
  return box.bottom - box.top < SMALL_DRAWING && room;
}

/**
 * The strokes moved from the canvas of mode `from` to that of mode `to`, keeping their size in canvas
 * heights: into the wide canvas they keep their place from the left; into the square one they slide so
 * that their centre is as near the middle as the canvas allows. Null when they are too wide to fit
 * (the page then asks whether to discard them).
 */
export function refit(strokes, from, to) {
  const before = ASPECT[from];
  const after = ASPECT[to];
  const box = extent(strokes);
  if (!box) return [];
  if ((box.right - box.left) * before > after) return null;
  const centre = ((box.left + box.right) / 2) * before;
  const shift = before > after ? Math.min(Math.max(centre - after / 2, 0), before - after) : 0;
  return strokes.map((stroke) => stroke.map(({ u, v }) => ({ u: (u * before - shift) / after, v })));
}

/**
 * Map a box [x, y, w, h] in the pixels of the image sent to [x, y, w, h] in 0..1 of the canvas shown.
 * `canvas` is the canvas' {width, height} in CSS px; `image` the {width, height} of a photo shown fitted
 * (centred, whole) in it, or null for a drawing, whose export `sent` {width, height} fills the canvas.
 */
export function boxToFractions([x, y, w, h], { canvas, image = null, sent = null }) {
  if (!sent && image) {
    const scale = Math.min(canvas.width / image.width, canvas.height / image.height);
    const left = (canvas.width - image.width * scale) / 2;
    const top = (canvas.height - image.height * scale) / 2;
    return [(left + x * scale) / canvas.width, (top + y * scale) / canvas.height,
      (w * scale) / canvas.width, (h * scale) / canvas.height];
  }
  return [x / sent.width, y / sent.height, w / sent.width, h / sent.height];
}

/**
 * Where a box's label goes, given the box's top `y` and height `h` and the room a label needs, all in
 * fractions of the canvas' height: "below" the box where it fits, else "above", else "inside".
 */
export function labelPlace(y, h, room) {
  if (y + h + room <= 1) return "below";
  return y >= room ? "above" : "inside";
}

/**
 * Where each label goes for boxes [x, y, w, h] (fractions of the canvas) left to right: as labelPlace says,
 * unless the label would cover the one before it below (narrow digits of a long number, on a phone): then
 * above its box where that fits and is free. `room` is a label's height over the canvas'
 * height, `labelWidth` its width over the canvas' width; a label starts at its box's left edge.
 */
export function labelPlaces(boxes, room, labelWidth) {
  const ends = { below: -Infinity, above: -Infinity, inside: -Infinity }; // where each side's last label ends
  return boxes.map(([x, y, , h]) => {
    const first = labelPlace(y, h, room);
    // Only "below" has another side to move to: labelPlace answers "above" where below does not fit.
    const other = first === "below" && y >= room ? "above" : null;
    const place = x < ends[first] && other && x >= ends[other] ? other : first;
    ends[place] = x + labelWidth;
    return place;
  });
}
