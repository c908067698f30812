// The 28x28 thumbnail beside the chart shows the digit whose chart is shown. The server sends the
// network's input for its surest digit (`preprocessed`), and for a digit of a number where it has one
// (`digits[i].preprocessed`); any other digit of a number is cut from the image that was sent, by its
// box, and laid out as MNIST lays a digit out (its longer side 20 px, centred in 28), white on black.

const SIDE = 28; // MNIST's image
const BOX = 20; // MNIST's digit box

/** The index of the surest digit, as the server chooses it for `preprocessed` (the first of equals). */
export function surest(digits) {
  return digits.reduce((best, d, i) => (d.confidence > digits[best].confidence ? i : best), 0);
}

/**
 * The thumbnail of digit `index` of an answer (null: a single digit): a promise of {src, caption}.
 * `image` is the data URL that was sent, whose pixels the boxes are in.
 */
export async function thumbnail(answer, index, image) {
  const digits = answer.digits || [];
  if (index === null || digits.length < 2) return { src: answer.preprocessed, caption: "What the network saw (28×28)" };
  const which = `digit ${index + 1} of ${digits.length}`;
  const own = digits[index].preprocessed || (index === surest(digits) ? answer.preprocessed : null);
  if (own) return { src: own, caption: `What the network saw of ${which} (28×28)` };
  if (!image || !digits[index].box) return null;
  const src = await cut(image, digits[index].box);
  return src && { src, caption: `${which[0].toUpperCase()}${which.slice(1)} as written (28×28)` };
}

/**
 * Cut box [x, y, w, h] (pixels) out of an image's data URL: a 28x28 PNG data URL, ink white on black;
 * null where the box holds no ink (a box beside its digit would show a black square).
 */
async function cut(url, [x, y, w, h]) {
  const image = new Image();
  image.src = url;
  await image.decode();
  const scale = BOX / Math.max(w, h, 1);
  const width = Math.max(1, Math.round(w * scale));
  const height = Math.max(1, Math.round(h * scale));
  const piece = document.createElement("canvas");
  piece.width = width;
  piece.height = height;
  const g = piece.getContext("2d", { willReadFrequently: true });
  g.drawImage(image, x, y, w, h, 0, 0, width, height);
  const pixels = g.getImageData(0, 0, width, height);
  const data = pixels.data;
  // A drawing is black on transparent, its alpha is the ink; a photo is opaque, its darkness is the ink.
  let drawing = false;
  for (let i = 3; i < data.length && !drawing; i += 4) drawing = data[i] < 255;
  let most = 0;
  for (let i = 0; i < data.length; i += 4) {
    const ink = drawing ? data[i + 3] : 255 - Math.round(0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]);
    data[i] = data[i + 1] = data[i + 2] = ink;
    most = Math.max(most, ink);
    data[i + 3] = 255;
  }
  if (most < 64) return null;
  g.putImageData(pixels, 0, 0);
  const out = document.createElement("canvas");
  out.width = out.height = SIDE;
  const o = out.getContext("2d");
  o.fillStyle = "#000";
  o.fillRect(0, 0, SIDE, SIDE);
  o.drawImage(piece, Math.round((SIDE - width) / 2), Math.round((SIDE - height) / 2));
  return out.toDataURL("image/png");
}
