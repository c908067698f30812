// A drawing pad on a <canvas>. Strokes are kept as vectors in canvas-independent units (fractions
// of the canvas' width and height; each mode keeps one aspect ratio), so a resize or a rotation
// redraws them in place. The backing store follows devicePixelRatio. The canvas stays transparent
// (like signature_pad); the server composites it onto white. While a stroke lasts only its new
// segment is painted; the whole drawing is repainted when a stroke starts or ends, and on any other change.
import { PointerTracker } from "./pointers.js";
import { boxToFractions, extent } from "./geometry.js";

const STROKE_FRACTION = 0.075; // line width as a share of the canvas' shorter side: MNIST-like strokes
// The PNG sent to the server has its shorter side at most this many pixels: a digit's square canvas 112
// (the server scales the digit to 20 px: 5.6x that), a number's wide one 140 (each digit is a part of the line).
const EXPORT_SIDE = { square: 112, wide: 140 };

export class DrawingPad {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{onStrokeStart?, onStrokeMove?, onStrokeEnd?, onStrokeCancel?, onChange?}} callbacks
   */
  constructor(canvas, callbacks = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.callbacks = callbacks;
    this.strokes = []; // finished strokes: [{u, v}], u and v in 0..1 of the canvas' width and height
    this.current = null; // the stroke being drawn, or null
    this.image = null; // an uploaded image drawn beneath the strokes
    this.version = 0; // grows with every change, so callers can tell a drawing from its successor
    this.ink = "#000"; // the canvas' CSS colour, read at each full repaint (it follows the theme)
    this.tracker = new PointerTracker(canvas, {
      start: (p) => this._start(p),
      move: (points) => this._move(points),
      end: () => this._end(),
      cancel: () => this._cancel(),
    });
    this._resized = () => this.resize();
    this._themed = () => this.redraw();
    this.observer = new ResizeObserver(this._resized);
    this.observer.observe(canvas);
    this.scheme = matchMedia("(prefers-color-scheme: dark)");
    this.scheme.addEventListener("change", this._themed);
    this.resize();
  }

  /** Stop listening: to the pointer, to the canvas' size and to the theme (the drawing stays as it is). */
  off() {
    this.tracker.off();
    this.current = null;
    this.observer.disconnect();
    this.scheme.removeEventListener("change", this._themed);
  }

  /** The finished strokes as plain data, a copy: [[{u, v}, ...], ...] in 0..1 of the canvas' width and height. */
  toData() {
    return this.strokes.map((stroke) => stroke.map(({ u, v }) => ({ u, v })));
  }

  /** Replace the strokes with `data` (as toData gives it); a stroke under way is dropped, an uploaded image kept. */
  fromData(data) {
    this.tracker.reset();
    this.current = null;
    this.strokes = data.map((stroke) => stroke.map(({ u, v }) => ({ u, v })));
    this._changed();
  }

  /** Match the backing store to the displayed size times devicePixelRatio, and redraw. */
  resize() {
    const { width, height } = this.canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    this.width = width;
    this.height = height;
    this.canvas.width = Math.max(1, Math.round(width * ratio));
    this.canvas.height = Math.max(1, Math.round(height * ratio));
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.redraw();
  }

  clear() {
    this.tracker.reset();
    this.strokes = [];
    this.current = null;
    this.image = null;
    this._changed();
  }

  /** Remove the last stroke (or, with no strokes left, the uploaded image). */
  undo() {
    this.tracker.reset();
    this.current = null;
    if (this.strokes.length) this.strokes.pop();
    else this.image = null;
    this._changed();
  }

  isEmpty() {
    return this.strokes.length === 0 && this.current === null && this.image === null;
  }

  isDrawing() {
    return this.current !== null;
  }

  /** Show an image (an uploaded file) beneath the strokes, fitted inside the canvas. */
  setImage(image) {
    this.tracker.reset();
    this.strokes = [];
    this.current = null;
    this.image = image;
    this._changed();
  }

  /** Take the uploaded image away, keeping the strokes and the stroke under way. */
  dropImage() {
    if (this.image === null) return;
    this.image = null;
    this._changed();
  }

  /** The finished strokes' extent as {left, top, right, bottom} in 0..1 units, or null when there are none. */
  extent() {
    return extent(this.strokes);
  }

  /**
   * The drawing (with the stroke under way) as a PNG data URL, black on transparent, its shorter
   * side at most EXPORT_SIDE pixels whatever the screen's devicePixelRatio: the server scales each
   * digit to 20 px anyway, and its work grows with the pixels sent: a 280 px PNG costs it 5x the
   * decoding of a 140 px one, a phone's 3x backing store 45x (docs/performance.md: 112 px for a digit).
   * @returns {{url: string, width: number, height: number}} the data URL and its size in pixels
   */
  export() {
    const side = this.width > this.height ? EXPORT_SIDE.wide : EXPORT_SIDE.square;
    const scale = Math.min(1, side / Math.min(this.width, this.height));
    const out = document.createElement("canvas");
    out.width = Math.max(1, Math.round(this.width * scale));
    out.height = Math.max(1, Math.round(this.height * scale));
    const ctx = out.getContext("2d");
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    this._paint(ctx, "#000");
    return { url: out.toDataURL("image/png"), width: out.width, height: out.height };
  }

  /**
   * Map a box [x, y, w, h] in the pixels of what was sent to fractions of the canvas (0..1):
   * `sent` is {width, height} of the exported drawing, or null for the uploaded image shown fitted.
   */
  boxToFractions(box, sent) {
    return boxToFractions(box, { canvas: { width: this.width, height: this.height }, image: this.image, sent });
  }

  redraw() {
    this.ink = getComputedStyle(this.canvas).color;
    this.ctx.clearRect(0, 0, this.width, this.height);
    this._paint(this.ctx, this.ink);
  }

  _changed() {
    this.version++;
    this.redraw();
    this.callbacks.onChange?.();
  }

  _paint(ctx, ink) {
    if (this.image) {
      const scale = Math.min(this.width / this.image.width, this.height / this.image.height);
      const w = this.image.width * scale;
      const h = this.image.height * scale;
      ctx.drawImage(this.image, (this.width - w) / 2, (this.height - h) / 2, w, h);
    }
    for (const stroke of this.strokes) this._drawStroke(ctx, stroke, ink);
    if (this.current) this._drawStroke(ctx, this.current, ink);
  }

  _drawStroke(ctx, stroke, ink) {
    const points = stroke.map(({ u, v }) => [u * this.width, v * this.height]);
    ctx.strokeStyle = ink;
    ctx.fillStyle = ink;
    ctx.lineWidth = Math.min(this.width, this.height) * STROKE_FRACTION;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    if (points.length === 1) {
      ctx.arc(points[0][0], points[0][1], ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    ctx.moveTo(...points[0]);
    for (const p of points.slice(1)) ctx.lineTo(...p);
    ctx.stroke();
  }

  _unit({ x, y }) {
    return { u: x / this.width, v: y / this.height };
  }

  _start(point) {
    this.callbacks.onStrokeStart?.();
    this.current = [this._unit(point)];
    this._changed();
  }

  /** Add points to the stroke under way, painting only the segment from its last point through them. */
  _move(points) {
    if (!this.current || !points.length) return;
    const added = points.map((p) => this._unit(p));
    this._drawStroke(this.ctx, [this.current[this.current.length - 1], ...added], this.ink);
    this.current.push(...added);
    this.version++;
    this.callbacks.onStrokeMove?.();
  }

  _end() {
    if (!this.current) return;
    this.strokes.push(this.current);
    this.current = null;
    this._changed();
    this.callbacks.onStrokeEnd?.();
  }

  _cancel() {
    if (!this.current) return;
    this.current = null;
    this._changed();
    this.callbacks.onStrokeCancel?.();
  }
}
