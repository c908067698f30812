// The page's one live region (#announce), for state.js's readings and errors and corrections.js's outcomes
// alike: one pending sentence at a time, so the latest wins and none lands after the page has moved on.
let region = null;
let frame = 0;

const liveRegion = () => (region ??= document.getElementById("announce"));

/**
 * Say `text` to screen readers: the region is emptied now and given `text` on the next animation frame, so the
 * same sentence twice in a row is announced twice; a sentence still waiting for its frame is dropped.
 */
export function announce(text) {
  silence();
  frame = requestAnimationFrame(() => { liveRegion().textContent = text; });
}

/** Empty the live region, and drop an announcement not yet made. */
export function silence() {
  cancelAnimationFrame(frame);
  liveRegion().textContent = "";
}
