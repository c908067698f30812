// Photos before they are sent (static/js/photo.js): what is refused, with what words, and what goes as it is.
import { test } from "node:test";
import assert from "node:assert/strict";

import { MAX_PHOTO_BYTES, PhotoError, preparePhoto } from "../../static/js/photo.js";

const MB = 1024 * 1024;
// Each test stands in for the browser's decoder (createImageBitmap) as its case needs.

test("a photo over 40 MB is refused with its size to a tenth of a MB, unopened", async () => {
  globalThis.createImageBitmap = () => assert.fail("a refused photo is not decoded");
  await assert.rejects(preparePhoto({ size: 41.04 * MB, type: "image/jpeg" }),
    (error) => error instanceof PhotoError && error.message === "This photo is 41.0 MB; choose one under 40 MB.");
  assert.equal(MAX_PHOTO_BYTES, 40 * MB);
});

test("a small file the browser cannot open is refused, not read unseen (a stranger's damaged PNG, read by the server, left a blank canvas 'reading 7')", async () => {
  globalThis.createImageBitmap = async () => { throw new DOMException("undecodable"); };
  await assert.rejects(preparePhoto({ size: 300 * 1024, type: "image/png" }),
    (error) => error instanceof PhotoError && /may be damaged/.test(error.message));
  await assert.rejects(preparePhoto({ size: 300 * 1024, type: "image/tiff" }),
    (error) => error instanceof PhotoError && /take it again as a JPEG/.test(error.message));
});

test("a large file the browser cannot open is refused with what to do, since it cannot be shrunk", async () => {
  globalThis.createImageBitmap = async () => { throw new DOMException("undecodable"); };
  await assert.rejects(preparePhoto({ size: 5 * MB, type: "image/heic" }),
    (error) => error instanceof PhotoError && /take it again as a JPEG/.test(error.message));
  // A JPEG that cannot be opened is damaged: taking it again "as a JPEG" would not help (a stranger's finding).
  await assert.rejects(preparePhoto({ size: 5 * MB, type: "image/jpeg" }),
    (error) => error instanceof PhotoError && /may be damaged/.test(error.message) && !/as a JPEG/.test(error.message));
});
