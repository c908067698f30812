// The probability bar chart: one <li data-digit="d"> per digit, rendered by the template.

/** Show ten probabilities (0..1) as bars, highlighting the most probable digit. */
export function renderProbabilities(list, probabilities) {
  const top = probabilities.indexOf(Math.max(...probabilities));
  for (const item of list.querySelectorAll("li[data-digit]")) {
    const digit = Number(item.dataset.digit);
    const p = probabilities[digit];
    item.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    item.querySelector(".value").textContent = `${(p * 100).toFixed(p >= 0.995 || p < 0.001 ? 0 : 1)}%`;
    item.classList.toggle("top", digit === top);
    item.setAttribute("aria-label", `${digit}: ${(p * 100).toFixed(1)} percent`);
  }
}

/** Empty the chart (after Clear). */
export function resetProbabilities(list) {
  for (const item of list.querySelectorAll("li[data-digit]")) {
    item.querySelector(".fill").style.width = "0";
    item.querySelector(".value").textContent = "–";
    item.classList.remove("top");
    item.removeAttribute("aria-label");
  }
}
