// Which pointer draws, as good drawing pads decide it (Pointer Events for mouse, pen and touch):
// - a pen is preferred over touch: a pen coming down cancels a finger's stroke, and touches are
//   ignored while a pen is down (the hand rests on the screen while writing);
// - a palm does not block a finger: a contact larger than PALM_SIZE is ignored from the start, and
//   a contact that has rested still for PALM_DELAY when a second finger comes down is taken for a
//   resting palm: its dot is dropped and the new finger draws;
// - otherwise a second touch during a stroke turns the gesture into a pinch that draws nothing
//   until every finger is lifted;
// - pointercancel (the browser took the gesture over) cancels the stroke;
// - a press on a control over the drawing (a box's label, passOn) that moves past SLOP is a stroke from where it
//   went down, and its click is swallowed; one that does not move stays the control's.

export const PALM_SIZE = 80; // CSS px of contact width or height; a fingertip reports 10 to 50
const PALM_DELAY = 150; // ms a contact must rest still to be a palm rather than a pinch's first finger
const SLOP = 6; // CSS px a contact may wander and still count as still

export class PointerTracker {
  /**
   * @param {HTMLElement} element where strokes start; points are reported in CSS px relative to it
   * @param {{start: (p) => void, move: (points) => void, end: () => void, cancel: () => void}} handlers
   */
  constructor(element, handlers) {
    this.element = element;
    this.handlers = handlers;
    this.contacts = new Map(); // pointerId -> {type, x0, y0, t0, moved}
    this.drawing = null; // the pointerId that draws, or null
    this.pinch = false;
    this.stroked = new WeakSet(); // controls (passOn) whose last press became a stroke: their click is swallowed
    this._down = this._down.bind(this);
    this._move = this._move.bind(this);
    this._up = this._up.bind(this);
    this._cancel = this._cancel.bind(this);
    element.addEventListener("pointerdown", this._down);
  }

  /**
   * Let a press on `control`, which lies over the drawing (a box's label), become a stroke: a contact that goes
   * down on it and moves past SLOP draws from where it went down, and the control's click that follows is
   * swallowed; one that does not move stays the control's (its click). The control needs `touch-action: none`,
   * or the browser takes a finger's drag for a scroll and cancels it.
   */
  passOn(control) {
    control.addEventListener("pointerdown", (event) => this._downOver(event, control));
    control.addEventListener("click", (event) => {
      if (!this.stroked.has(control)) return;
      this.stroked.delete(control);
      event.stopImmediatePropagation();
    });
  }

  /** Forget the stroke under way (after Clear or Undo); fingers still down draw nothing more. */
  reset() {
    this.drawing = null;
  }

  /** Stop listening altogether: on the element and, for a stroke under way, on the window. */
  off() {
    this.element.removeEventListener("pointerdown", this._down);
    this._listen(false);
    this.contacts.clear();
    this.drawing = null;
    this.pinch = false;
  }

  _point(event) {
    const rect = this.element.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  _listen(on) {
    const method = on ? "addEventListener" : "removeEventListener";
    window[method]("pointermove", this._move);
    window[method]("pointerup", this._up);
    window[method]("pointercancel", this._cancel);
  }

  _draw(event) {
    this.drawing = event.pointerId;
    this.handlers.start(this._point(event));
  }

  _stopDrawing() {
    if (this.drawing === null) return;
    this.drawing = null;
    this.handlers.cancel();
  }

  _down(event) {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    event.preventDefault();
    if (!this.contacts.size) this._listen(true);
    const contact = { type: event.pointerType, x0: event.clientX, y0: event.clientY, t0: event.timeStamp, moved: false };
    this.contacts.set(event.pointerId, contact);
    const current = this.drawing === null ? null : this.contacts.get(this.drawing);

    if (contact.type === "pen") {
      if (current?.type === "touch") this._stopDrawing();
      if (this.drawing === null) this._draw(event);
      return;
    }
    if (contact.type !== "touch") {
      if (this.drawing === null) this._draw(event);
      return;
    }
    const palm = Math.max(event.width || 0, event.height || 0) >= PALM_SIZE;
    const penDown = [...this.contacts.values()].some((c) => c.type === "pen");
    if (palm || penDown || this.pinch || (current && current.type !== "touch")) return;
    if (!current) {
      this._draw(event);
    } else if (!current.moved && event.timeStamp - current.t0 >= PALM_DELAY) {
      this._stopDrawing(); // the first contact was a resting palm: drop its dot, draw with the finger
      this._draw(event);
    } else {
      this._stopDrawing();
      this.pinch = true;
    }
  }

  _downOver(event, control) {
    this.stroked.delete(control);
    if (event.pointerType === "mouse" && event.button !== 0) return;
    if (this.contacts.size) return; // another contact is down: this one is in the way, not a stroke of its own
    this._listen(true);
    const { clientX: x0, clientY: y0, timeStamp: t0 } = event;
    this.contacts.set(event.pointerId, { type: event.pointerType, x0, y0, t0, moved: false, over: control });
    this.from = this._point(event);
  }

  _move(event) {
    const contact = this.contacts.get(event.pointerId);
    if (!contact) return;
    if (Math.hypot(event.clientX - contact.x0, event.clientY - contact.y0) > SLOP) contact.moved = true;
    if (contact.over && contact.moved) {
      this.stroked.add(contact.over); // the press on the control moved: not a press, a stroke from where it went down
      contact.over = null;
      if (this.drawing === null && !this.pinch) {
        this.drawing = event.pointerId;
        this.handlers.start(this.from);
      }
    }
    if (event.pointerId !== this.drawing) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    this.handlers.move((events.length ? events : [event]).map((e) => this._point(e)));
  }

  _up(event) {
    if (!this.contacts.has(event.pointerId)) return;
    this._forget(event.pointerId);
    if (event.pointerId === this.drawing) {
      this.drawing = null;
      this.handlers.end();
    }
  }

  _cancel(event) {
    if (!this.contacts.has(event.pointerId)) return;
    this._forget(event.pointerId);
    if (event.pointerId === this.drawing) this._stopDrawing();
  }

  _forget(pointerId) {
    this.contacts.delete(pointerId);
    if (![...this.contacts.values()].some((c) => c.type === "touch")) this.pinch = false;
    if (!this.contacts.size) this._listen(false);
  }
}
