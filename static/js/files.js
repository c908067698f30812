// Where image files come in: the file chooser, the camera (offered on phones and tablets only) and a file dropped
// on the canvas. Each hands the first file to `read` (the page's readFile), as new.

/**
 * @param {HTMLElement} dropzone the canvas's frame, which takes dropped files
 * @param {HTMLInputElement[]} inputs the file inputs (upload, camera)
 * @param {(file: File) => void} read
 */
export function takeFiles(dropzone, inputs, read) {
  // "Take a photo" only where the camera is offered for a file input: phones and tablets.
  if (matchMedia("(pointer: coarse)").matches) {
    for (const element of document.querySelectorAll("#camera, label[for=camera]")) element.hidden = false;
  }
  for (const input of inputs) {
    input.addEventListener("change", () => {
      const file = input.files[0];
      input.value = "";
      read(file);
    });
  }
  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    dropzone.addEventListener(type, () => dropzone.classList.remove("dragging"));
  }
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    read(event.dataTransfer.files[0]);
  });
}
