// Guided capture for the check-in form (templates/checkins/_capture.html).
// - where the device has a camera (getUserMedia), "Use the camera" shows the live picture with
//   the treatment's previous photo as a see-through ghost on top (opacity slider), so today's
//   photo is framed like yesterday's; the shot goes into the form's own file input.
// - the plain file input always stays: no camera, camera refused, or any error falls back to it.
// - every photo is downscaled here before upload (long side MAX_SIDE, JPEG) to save mobile
//   data; an image the browser cannot decode (e.g. HEIC), or a WebP, is sent as it is, the
//   server reads it.
"use strict";

(function () {
  const MAX_SIDE = 2000;
  const JPEG_QUALITY = 0.9;
  const pending = new WeakMap();   // form -> promises of photos still being downscaled

  function toJpeg(source, width, height) {
    const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve, reject) => canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error("encoding failed"))), "image/jpeg", JPEG_QUALITY));
  }

  async function downscale(file) {
    // Chromium does not apply a WebP's EXIF orientation when it decodes one, so re-encoding it
    // here would send a phone's portrait photo sideways; it goes up as it is, and the server
    // turns it upright
    if (file.type === "image/webp") return file;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch (error) {
      return file;
    }
    const small = Math.max(bitmap.width, bitmap.height) <= MAX_SIDE;
    if (small && file.type === "image/jpeg") { bitmap.close(); return file; }
    const blob = await toJpeg(bitmap, bitmap.width, bitmap.height);
    bitmap.close();
    const name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
    return new File([blob], name, { type: "image/jpeg", lastModified: file.lastModified });
  }

  function putFile(input, file) {
    const transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
  }

  function preview(section, file) {
    const img = section.querySelector("[data-capture-preview]");
    if (!img) return;
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    // a photo this browser cannot show (e.g. HEIC) still goes to the server, unpreviewed
    img.addEventListener("error", () => { img.hidden = true; }, { once: true });
    img.src = URL.createObjectURL(file);
    img.hidden = false;
  }

  function track(form, promise) {
    const list = pending.get(form) || [];
    list.push(promise);
    pending.set(form, list);
    return promise;
  }

  function say(section, text) {
    const target = section.querySelector("[data-capture-status]");
    if (target) target.textContent = text || "";
  }

  function setup(section) {
    if (section.dataset.captureReady) return;
    section.dataset.captureReady = "1";
    const form = section.closest("form");
    const input = form && form.querySelector("input[type=file]");
    if (!input) return;
    const t = section.dataset;
    const video = section.querySelector("[data-capture-video]");
    const ghost = section.querySelector("[data-capture-ghost]");
    const opacity = section.querySelector("[data-capture-opacity]");
    const camera = section.querySelector("[data-capture-camera]");
    const openButton = section.querySelector("[data-capture-open]");
    let stream = null;

    input.addEventListener("change", () => {
      const file = input.files[0];
      if (!file) return;
      track(form, downscale(file).then((smaller) => {
        if (smaller !== file) putFile(input, smaller);
        preview(section, smaller);
      }).catch(() => preview(section, file)));
    });

    function stop() {
      if (stream) stream.getTracks().forEach((mediaTrack) => mediaTrack.stop());
      stream = null;
      video.srcObject = null;
      camera.hidden = true;
      openButton.hidden = false;
    }

    async function open() {
      say(section, "");
      try {
        stream = await navigator.mediaDevices.getUserMedia({
          audio: false,
          video: { facingMode: "environment", width: { ideal: 1920 }, height: { ideal: 1440 } },
        });
      } catch (error) {
        say(section, t.noCamera);
        return;
      }
      video.srcObject = stream;
      const ghostSrc = section.dataset.ghostSrc || form.dataset.ghostSrc;
      if (ghostSrc) {
        ghost.src = ghostSrc;
        ghost.hidden = false;
        ghost.dataset.opacity = opacity.value;
      }
      camera.hidden = false;
      openButton.hidden = true;
      section.querySelector("[data-capture-shoot]").focus();
    }

    async function shoot() {
      if (!video.videoWidth) return;
      const blob = await track(form, toJpeg(video, video.videoWidth, video.videoHeight));
      const file = new File([blob], "camera.jpg", { type: "image/jpeg", lastModified: Date.now() });
      putFile(input, file);
      preview(section, file);
      say(section, t.taken);
      stop();
    }

    // the stylesheet maps each step to an opacity: the CSP allows no inline style
    opacity.addEventListener("input", () => { ghost.dataset.opacity = opacity.value; });
    openButton.addEventListener("click", open);
    section.querySelector("[data-capture-shoot]").addEventListener("click", shoot);
    section.querySelector("[data-capture-close]").addEventListener("click", stop);
    // leaving the page (boosted or not) must switch the camera off
    document.addEventListener("htmx:beforeSwap", stop, { once: true });
    window.addEventListener("pagehide", stop, { once: true });
    if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) openButton.hidden = false;
  }

  function enhance(root) {
    root.querySelectorAll("[data-capture]").forEach(setup);
  }

  self.CupmarkCapture = {
    downscale,
    settled: (form) => Promise.allSettled(pending.get(form) || []),
    reset: (form) => {
      const img = form.querySelector("[data-capture-preview]");
      if (img) img.hidden = true;
    },
  };
  document.addEventListener("DOMContentLoaded", () => enhance(document));
  document.addEventListener("htmx:load", (event) => enhance(event.detail.elt));
}());
