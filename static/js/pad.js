// A drawing pad on a <canvas>: Pointer Events for mouse, pen and touch, one pointer at a time,
// a backing store scaled to devicePixelRatio, and strokes kept as points so a resize redraws them.
// The canvas stays transparent (like signature_pad); the server composites it onto white.

const STROKE_FRACTION = 0.075; // line width as a share of the canvas height: MNIST-like strokes
const EXPORT_SIDE = 140; // the PNG sent to the server has its shorter side at most this many pixels

export class DrawingPad {
  /** @param {HTMLCanvasElement} canvas @param {{onStrokeStart?: () => void, onStrokeEnd?: () => void}} options */
  constructor(canvas, { onStrokeStart = () => {}, onStrokeEnd = () => {} } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onStrokeStart = onStrokeStart;
    this.onStrokeEnd = onStrokeEnd;
    this.strokes = []; // each stroke: [{x, y}] in CSS pixels
    this.image = null; // an uploaded image drawn beneath the strokes
    this.pointerId = null;

    this._down = this._down.bind(this);
    this._move = this._move.bind(this);
    this._up = this._up.bind(this);
    canvas.addEventListener("pointerdown", this._down);
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
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
    this.strokes = [];
    this.image = null;
    this.redraw();
  }

  isEmpty() {
    return this.strokes.length === 0 && this.image === null;
  }

  /** Show an image (an uploaded file) beneath the strokes, fitted inside the canvas. */
  setImage(image) {
    this.strokes = [];
    this.image = image;
    this.redraw();
  }

  /**
   * The drawing as a PNG data URL, transparent where nothing was drawn, redrawn with its shorter
   * side at most EXPORT_SIDE pixels whatever the screen's devicePixelRatio: the server scales each
   * digit to 20 px anyway (140 px is 7x that), and decoding grows with the pixels sent: a 280 px
   * PNG costs the server 5x the decoding of a 140 px one, a phone's 3x backing store 45x.
   * The exported size is kept in this.exported ({width, height}) to place the boxes the server finds.
   * @returns {string}
   */
  toDataURL() {
    const scale = Math.min(1, EXPORT_SIDE / Math.min(this.width, this.height));
    const out = document.createElement("canvas");
    out.width = Math.max(1, Math.round(this.width * scale));
    out.height = Math.max(1, Math.round(this.height * scale));
    const ctx = out.getContext("2d");
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    this._paint(ctx);
    this.exported = { width: out.width, height: out.height };
    return out.toDataURL("image/png");
  }

  /**
   * Map a box [x, y, w, h] in the pixels of what was last sent (the exported drawing, or the
   * uploaded image shown fitted in the canvas) to CSS pixels on the canvas.
   */
  boxToCanvas([x, y, w, h], source) {
    if (source === "image" && this.image) {
      const scale = Math.min(this.width / this.image.width, this.height / this.image.height);
      const left = (this.width - this.image.width * scale) / 2;
      const top = (this.height - this.image.height * scale) / 2;
      return [left + x * scale, top + y * scale, w * scale, h * scale];
    }
    const scale = this.width / this.exported.width;
    return [x * scale, y * scale, w * scale, h * scale];
  }

  redraw() {
    this.ctx.clearRect(0, 0, this.width, this.height);
    this._paint(this.ctx);
  }

  _paint(ctx) {
    if (this.image) {
      const scale = Math.min(this.width / this.image.width, this.height / this.image.height);
      const w = this.image.width * scale;
      const h = this.image.height * scale;
      ctx.drawImage(this.image, (this.width - w) / 2, (this.height - h) / 2, w, h);
    }
    for (const stroke of this.strokes) this._drawStroke(ctx, stroke);
  }

  _drawStroke(ctx, points) {
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#000";
    ctx.lineWidth = Math.min(this.width, this.height) * STROKE_FRACTION;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    if (points.length === 1) {
      ctx.beginPath();
      ctx.arc(points[0].x, points[0].y, ctx.lineWidth / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    ctx.beginPath();
    ctx.moveTo(points[0].x, points[0].y);
    for (const p of points.slice(1)) ctx.lineTo(p.x, p.y);
    ctx.stroke();
  }

  _point(event) {
    const rect = this.canvas.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  _down(event) {
    if (this.pointerId !== null || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    this.pointerId = event.pointerId;
    this.onStrokeStart();
    this.strokes.push([this._point(event)]);
    this.redraw();
    window.addEventListener("pointermove", this._move);
    window.addEventListener("pointerup", this._up);
    window.addEventListener("pointercancel", this._up);
  }

  _move(event) {
    if (event.pointerId !== this.pointerId) return;
    event.preventDefault();
    const stroke = this.strokes[this.strokes.length - 1];
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const e of events.length ? events : [event]) stroke.push(this._point(e));
    this.redraw();
  }

  _up(event) {
    if (event.pointerId !== this.pointerId) return;
    this.pointerId = null;
    window.removeEventListener("pointermove", this._move);
    window.removeEventListener("pointerup", this._up);
    window.removeEventListener("pointercancel", this._up);
    this.onStrokeEnd();
  }
}
