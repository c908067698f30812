// One line of text that never wraps (a number read, "0612345678"): its font shrinks until the line fits
// its container, never grows past the stylesheet's size, and keeps the stylesheet's line height so that
// nothing below moves when a long number is shrunk.

/**
 * Fit `element`'s single line into `room` CSS px: reset it to the stylesheet's font size, then, if it is
 * wider than `room`, shrink its font in proportion (every length in the line is in em). Returns the scale.
 */
export function fitLine(element, room) {
  element.style.fontSize = "";
  element.style.lineHeight = "";
  const width = element.getBoundingClientRect().width;
  if (!(room > 0) || width <= room) return 1;
  const style = getComputedStyle(element);
  const size = parseFloat(style.fontSize);
  const scale = shrink(width, room);
  element.style.lineHeight = style.lineHeight === "normal" ? `${(size * 1.2).toFixed(1)}px` : style.lineHeight;
  element.style.fontSize = `${(size * scale).toFixed(1)}px`;
  return scale;
}

/** The scale that brings `width` within `room`, with 2% to spare for rounding (a pure function). */
export function shrink(width, room) {
  return width <= room ? 1 : Math.floor((room / width) * 98) / 100;
}
