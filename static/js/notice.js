// The notice over the canvas: what a change took away and how to bring it back, shown for NOTICE_MS and announced.
import { announce } from "./announce.js";

const NOTICE_MS = 6000; // how long the notice over the canvas stays
let timer = null;

/** Show `text` over the canvas for NOTICE_MS, and announce it to screen readers. */
export function showNotice(text) {
  const notice = document.getElementById("notice");
  notice.textContent = text;
  notice.hidden = false;
  announce(notice.textContent);
  clearTimeout(timer);
  timer = setTimeout(hideNotice, NOTICE_MS);
}

export function hideNotice() {
  clearTimeout(timer);
  document.getElementById("notice").hidden = true;
}
