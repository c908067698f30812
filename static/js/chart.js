// The probability bar chart: one <li data-digit="d"> per digit, rendered by the template.

/**
 * Format a probability (0..1) as a percentage, rounded down so that the page never claims more
 * than the network did: 0.9986 -> "99.8%", 0.9996 or a saturated 1 -> ">99.9%", 0.0004 -> "<0.1%".
 * Every percentage on the page comes from here, so the headline and the chart always agree.
 */
export function percent(p) {
  if (p > 0.999) return ">99.9%";
  if (p > 0 && p < 0.001) return "<0.1%";
  return `${(Math.floor(p * 1000 + 1e-6) / 10).toFixed(1)}%`; // 1e-6: 0.995 * 1000 is 994.99...
}

/** Show ten probabilities (0..1) as bars; `top` (a digit or null) is highlighted. */
export function renderProbabilities(list, probabilities, top) {
  for (const item of list.querySelectorAll("li[data-digit]")) {
    const digit = Number(item.dataset.digit);
    const p = probabilities[digit];
    item.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    item.querySelector(".value").textContent = percent(p);
    item.classList.toggle("top", digit === top);
  }
}

/** Empty the chart. */
export function resetProbabilities(list) {
  for (const item of list.querySelectorAll("li[data-digit]")) {
    item.querySelector(".fill").style.width = "0";
    item.querySelector(".value").textContent = "–";
    item.classList.remove("top");
  }
}
