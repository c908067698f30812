// Photos before they are sent: a phone's camera writes 12 MP JPEGs of 2-6 MB, over what /predict accepts
// (app.py's MAX_UPLOAD_BYTES, 2 MB), so the page shrinks a photo to its longest side SIDE px, upright (the
// EXIF orientation applied, since the re-encoded JPEG carries no EXIF), as a JPEG. The server reduces every
// image to 1024 px before reading it, so 2048 px loses nothing it would see.

export const MAX_PHOTO_BYTES = 40 * 1024 * 1024; // larger files are refused here, unread
const SERVER_BYTES = 2 * 1024 * 1024 - 16 * 1024; // app.py's MAX_UPLOAD_BYTES, less room for the form's fields
const SIDE = 2048;
// Tried in turn until the JPEG fits SERVER_BYTES: a noisy, detailed photo can exceed it at 2048 px.
const ATTEMPTS = [[SIDE, 0.9], [SIDE, 0.8], [1600, 0.8], [1280, 0.75]];

export class PhotoError extends Error {}

const megabytes = (bytes, digits = 0) => `${(bytes / (1024 * 1024)).toFixed(digits)} MB`;

/**
 * Prepare an image file for /predict: {blob, shown}, `shown` the upright picture to draw on the canvas
 * (an ImageBitmap or a canvas) in the pixels of the blob sent.
 * Throws PhotoError with a message for a person when the file cannot be sent: over 40 MB, not opened by the
 * browser (damaged, or a format it cannot show), or not made small enough.
 */
export async function preparePhoto(file) {
  if (file.size > MAX_PHOTO_BYTES) {
    throw new PhotoError(`This photo is ${megabytes(file.size, 1)}; choose one under ${megabytes(MAX_PHOTO_BYTES)}.`);
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    // Not sent: what is read is what the canvas shows, and a file it cannot show (a damaged PNG that the server might
    // still read) would be read unseen, its boxes over nothing. The server reads every format the browser shows.
    // A JPEG or PNG the browser cannot open is damaged; another format (an iPhone's HEIC) can be taken as a JPEG.
    throw new PhotoError(/^image\/(jpeg|png)$/.test(file.type)
      ? "This image could not be opened in the browser: the file may be damaged; choose another."
      : "This image could not be opened in the browser; take it again as a JPEG, or choose another.");
  }
  const side = Math.max(bitmap.width, bitmap.height);
  // Small enough already: sent as it is (the server applies its EXIF orientation as the bitmap did).
  if (side <= SIDE && file.size <= SERVER_BYTES && /^image\/(png|jpeg|webp|gif|bmp)$/.test(file.type)) {
    return { blob: file, shown: bitmap };
  }
  for (const [longest, quality] of ATTEMPTS) {
    const scale = Math.min(1, longest / side);
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const g = canvas.getContext("2d");
    g.fillStyle = "#fff"; // a transparent PNG's background is paper, not JPEG's black
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.imageSmoothingQuality = "high";
    g.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
    if (blob && blob.size <= SERVER_BYTES) {
      bitmap.close();
      return { blob, shown: canvas };
    }
  }
  bitmap.close();
  throw new PhotoError("This photo could not be made small enough to send; choose another.");
}
