// The page's requests to /predict (static/js/requests.js): one at a time, and only the newest answer is shown.
import { test } from "node:test";
import assert from "node:assert/strict";

// A fetch whose answers the test releases one by one, and which rejects as a browser does when aborted.
const calls = [];
globalThis.fetch = (url, { body, signal }) =>
  new Promise((resolve, reject) => {
    const json = (data) => async () => {
      if (data === undefined) throw new SyntaxError("Unexpected token '<'"); // a proxy's HTML error page
      return data;
    };
    const call = { url, body, answer: (status, data) => resolve({ ok: status < 400, status, json: json(data) }) };
    call.fail = () => reject(new TypeError("Failed to fetch"));
    signal.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" })));
    calls.push(call);
  });
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

const { Requests } = await import("../../static/js/requests.js");

test("a newer request aborts the one in flight, which gives back nothing, and is sent once that one has settled", async () => {
  calls.length = 0;
  const requests = new Requests();
  const first = requests.post("first");
  await tick();
  const second = requests.post("second");
  assert.equal(await first, null); // aborted: the older drawing's answer is never shown
  await tick();
  assert.deepEqual(calls.map((c) => c.body), ["first", "second"]);
  calls[1].answer(200, { digit: 7 });
  assert.deepEqual(await second, { ok: true, data: { digit: 7 } });
  assert.equal(requests.pending, null);
});

test("of three requests made at once the middle one is never sent; cancel drops an answer on its way", async () => {
  calls.length = 0;
  const requests = new Requests();
  const answers = [requests.post("a"), requests.post("b"), requests.post("c")];
  await tick();
  assert.deepEqual(calls.map((c) => c.body), ["a", "c"]); // "a" went at once and was aborted; "b" was overtaken
  requests.cancel();
  calls[1].answer(200, { digit: 1 });
  assert.deepEqual(await Promise.all(answers), [null, null, null]);
});

test("an error answer keeps its JSON, one without JSON says its status, and no network says offline", async () => {
  calls.length = 0;
  const requests = new Requests();
  const refused = requests.post("x");
  await tick();
  calls[0].answer(413, { error: "The image is too large." });
  assert.deepEqual(await refused, { ok: false, data: { error: "The image is too large." } });

  const broken = requests.post("y");
  await tick();
  calls[1].answer(502, undefined);
  assert.deepEqual(await broken, {
    ok: false,
    data: { error: "The server answered 502 without a result; please try again." },
  });

  const offline = requests.post("z");
  await tick();
  calls[2].fail();
  assert.deepEqual(await offline, { offline: true });
});

test("an answer already received when the page moves on (a stroke starts, Undo) is not given back", async () => {
  calls.length = 0;
  const requests = new Requests();
  const answer = requests.post("drawing");
  await tick();
  calls[0].answer(200, { digit: 3 });
  requests.cancel(); // before the page awaited the answer: the abort comes too late to stop the fetch
  assert.equal(await answer, null);
});
