// The page's requests to /predict, one at a time: a new one aborts the one in flight and waits for it to settle, and
// only the answer to the newest is given back (an older one resolves to null), so a slow answer never overwrites a
// newer reading.

export class Requests {
  constructor(url = "/predict") {
    this.url = url;
    this.seq = 0; // only the answer to request number `seq` is given back
    this.controller = null; // aborts the request in flight
    this.pending = null; // the request in flight (a promise), or null
  }

  /** Abort the request in flight: its answer, like that of any request before it, is dropped. */
  cancel() {
    this.seq++;
    this.controller?.abort();
  }

  /**
   * POST a body once the request in flight (if any) has been aborted and settled.
   * Resolves to {ok, data} or {offline: true}, or null when a newer request superseded this one.
   */
  async post(body, headers = {}) {
    const id = ++this.seq;
    this.controller?.abort();
    while (this.pending) await this.pending;
    if (id !== this.seq) return null;
    this.controller = new AbortController();
    const { signal } = this.controller;
    const run = (async () => {
      try {
        const response = await fetch(this.url, { method: "POST", body, headers, signal });
        let data;
        try {
          data = await response.json();
        } catch {
          data = { error: `The server answered ${response.status} without a result; please try again.` };
        }
        return { ok: response.ok, data };
      } catch (error) {
        return error.name === "AbortError" ? null : { offline: true };
      }
    })();
    this.pending = run.then(() => { this.pending = null; });
    const result = await run;
    return id === this.seq ? result : null;
  }
}
