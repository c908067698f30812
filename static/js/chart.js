// The probability bar chart: one <li data-digit="d"> per digit and one <li class="none"> for "not a
// digit", rendered by the template. The network's eleven outputs sum to 1, so the bars add up to 100%.

/**
 * Format a probability (0..1) as a percentage, rounded down so that the page never claims more
 * than the network did: 0.9986 -> "99.8%", 0.9996 or a saturated 1 -> ">99.9%", 0.0004 or an underflowed 0 ->
 * "<0.1%" (a chart showed "0.0%" beside rows of "<0.1%", as if that row were surer). Every percentage on the page
 * comes from here, so the headline and the chart always agree.
 */
export function percent(p) {
  if (p > 0.999) return ">99.9%";
  if (p < 0.001) return "<0.1%";
  return `${(Math.floor(p * 1000 + 1e-6) / 10).toFixed(1)}%`; // 1e-6: 0.995 * 1000 is 994.99...
}

function setBar(item, p, top) {
  item.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
  item.querySelector(".value").textContent = percent(p);
  item.classList.toggle("top", top);
}

/**
 * Show ten digit probabilities (0..1) and the probability of "not a digit" as bars; `top` (a digit,
 * "none" for not a digit, or null) is highlighted. Without `notDigit`, it is what the digits leave.
 */
export function renderProbabilities(list, probabilities, top, notDigit = null) {
  for (const item of list.querySelectorAll("li[data-digit]")) {
    const digit = Number(item.dataset.digit);
    setBar(item, probabilities[digit], digit === top);
  }
  const rest = notDigit ?? Math.max(0, 1 - probabilities.reduce((sum, p) => sum + p, 0));
  const none = list.querySelector("li.none");
  if (none) setBar(none, rest, top === "none");
}

/** Empty the chart. */
export function resetProbabilities(list) {
  for (const item of list.querySelectorAll("li")) {
    item.querySelector(".fill").style.width = "0";
    item.querySelector(".value").textContent = "–";
    item.classList.remove("top");
  }
}
