// Followed marks on the confirm page, in the page: a tap removes, adds or moves a point at
// once, and "Looks right" / "Confirm" posts the final list. Without this file every tap is a
// form submission (<input type="image">) and the server makes the same change
// (webapp/marks.py, Board.tap): both read and write the same form fields.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";

  function parsePoint(text) {
    const [x, y] = text.split(",").map(Number);
    return { x, y };
  }

  function format(value) {
    return value.toFixed(4);
  }

  function setUp(board) {
    if (board.dataset.ready) return;
    board.dataset.ready = "1";
    const form = board.querySelector("form");
    const photo = board.querySelector('input[type="image"]');
    const overlay = board.querySelector("[data-overlay]");
    const message = board.querySelector("[data-board-message]");
    const addedInputs = board.querySelector("[data-added-inputs]");
    const addedList = board.querySelector("[data-added-list]");
    const first = board.dataset.first === "1";
    const width = Number(board.dataset.width);
    const height = Number(board.dataset.height);
    const short = Math.min(width, height);
    const hitPx = Number(board.dataset.hit);
    const tappedRadius = Number(board.dataset.tappedRadius);
    const ringGap = Number(board.dataset.ringGap);

    // every point the page shows, each tied to the form field that names it
    function spots() {
      const found = [];
      form.querySelectorAll('input[name="keep"]').forEach((box) => {
        found.push({ kind: "proposal", field: box, kept: box.checked, r: Number(box.dataset.radius),
                     ...parsePoint(box.value) });
      });
      form.querySelectorAll('input[name="mark"]').forEach((field) => {
        const [number, point] = field.value.split(":");
        found.push({ kind: "mark", field, kept: true, number: Number(number),
                     r: Number(field.dataset.radius), ...parsePoint(point) });
      });
      addedInputs.querySelectorAll('input[name="point"]').forEach((field) => {
        found.push({ kind: "tapped", field, kept: true, r: Number(field.dataset.radius),
                     ...parsePoint(field.value) });
      });
      // marks a later photo shows that nobody follows yet: followed once ticked
      form.querySelectorAll('.new-marks input[name="point"]').forEach((box) => {
        found.push({ kind: "suggested", field: box, kept: box.checked, r: Number(box.dataset.radius),
                     ...parsePoint(box.value) });
      });
      // numbers as the server gives them: in order on a first photo, after the marks later
      let next = 0;
      found.forEach((spot) => {
        if (!spot.kept) return;
        if (first) spot.number = ++next;
        else if (spot.kind === "mark") next = Math.max(next, spot.number);
      });
      if (!first) found.forEach((spot) => {
        if (spot.kept && (spot.kind === "tapped" || spot.kind === "suggested")) spot.number = ++next;
      });
      return found;
    }

    function hit(x, y, among) {
      let best = null;
      let bestDistance = Infinity;
      among.forEach((spot) => {
        const d = Math.hypot((spot.x - x) * width, (spot.y - y) * height);
        if (d <= Math.max(spot.r * short, hitPx) && d < bestDistance) {
          best = spot;
          bestDistance = d;
        }
      });
      return best;
    }

    function say(text) {
      message.textContent = text;
      message.hidden = !text;
      message.classList.remove("refusal");
      message.classList.add("notice");
    }

    function words(name, number) {
      return (board.dataset[name] || "").replace("{n}", number);
    }

    function moving() {
      const chosen = form.querySelector('input[name="move"]:checked');
      return chosen ? chosen.value : "";
    }

    function addPoint(x, y) {
      const field = document.createElement("input");
      field.type = "hidden";
      field.name = "point";
      field.value = `${format(x)},${format(y)}`;
      field.dataset.radius = String(tappedRadius);
      addedInputs.append(field);
    }

    function tap(x, y) {
      const all = spots();
      if (first) {
        const on = hit(x, y, all.filter((s) => s.kept));
        if (on && on.kind === "tapped") {
          on.field.remove();
          say(words("saidRemoved"));
        } else if (on) {
          on.field.checked = false;
          say(words("saidRemoved"));
        } else {
          const removed = hit(x, y, all.filter((s) => !s.kept));
          if (removed) removed.field.checked = true;
          else addPoint(x, y);
          say(words("saidAdded"));
        }
        return;
      }
      const marks = all.filter((s) => s.kind === "mark");
      const chosen = moving();
      const target = marks.find((s) => String(s.number) === chosen);
      if (target) {
        target.field.value = `${target.number}:${format(x)},${format(y)}`;
        form.querySelector('input[name="move"]:checked').checked = false;
        say(words("saidMoved", target.number));
      } else if (chosen === "new") {
        addPoint(x, y);
        form.querySelector('input[name="move"]:checked').checked = false;
        say(words("saidAdded"));
      } else if (hit(x, y, all.filter((s) => s.kind === "suggested" && !s.kept))) {
        hit(x, y, all.filter((s) => s.kind === "suggested" && !s.kept)).field.checked = true;
        say(words("saidAdded"));
      } else {
        const on = hit(x, y, marks);
        if (on) {
          const radio = form.querySelector(`input[name="move"][value="${on.number}"]`);
          if (radio) radio.checked = true;
          say(words("saidPick", on.number));
        } else {
          say(words("saidChoose"));
          // the choices the hint points to are folded away: open them
          const moves = form.querySelector("details.move-mark");
          if (moves) moves.open = true;
        }
      }
    }

    function circle(className, cx, cy, r) {
      const element = document.createElementNS(SVG, "circle");
      element.setAttribute("class", className);
      element.setAttribute("cx", cx.toFixed(1));
      element.setAttribute("cy", cy.toFixed(1));
      element.setAttribute("r", r.toFixed(1));
      return element;
    }

    // the same drawing as the server's (Board.drawn): ring, and a number badge off the mark
    function draw() {
      const all = spots();
      const chosen = moving();
      overlay.replaceChildren();
      all.forEach((spot) => {
        const group = document.createElementNS(SVG, "g");
        const looks = ["spot", spot.kind];
        if (!spot.kept) looks.push("removed");
        if (spot.kind === "mark" && String(spot.number) === chosen) looks.push("moving");
        group.setAttribute("class", looks.join(" "));
        const r = Math.max(spot.r * short + ringGap, 12);
        const cx = spot.x * width;
        const cy = spot.y * height;
        group.append(circle("ring-shadow", cx, cy, r), circle("ring", cx, cy, r));
        if (spot.kept && spot.number) {
          const bx = Math.min(Math.max(cx + r * 0.75, 14), width - 14);
          const by = Math.min(Math.max(cy - r * 0.75, 14), height - 14);
          const text = document.createElementNS(SVG, "text");
          text.setAttribute("class", "badge-number");
          text.setAttribute("x", bx.toFixed(1));
          text.setAttribute("y", by.toFixed(1));
          text.setAttribute("text-anchor", "middle");
          text.setAttribute("dominant-baseline", "central");
          text.textContent = String(spot.number);
          group.append(circle("badge", bx, by, 13), text);
        }
        overlay.append(group);
      });
      form.querySelectorAll('input[name="keep"]').forEach((box) => {
        const label = box.closest("label").querySelector("[data-label]");
        const spot = all.find((s) => s.field === box);
        label.textContent = box.checked ? words("keepLabel", spot.number) : words("removedLabel");
      });
      if (addedList) {
        addedList.replaceChildren(...all.filter((s) => s.kind === "tapped").map((spot) => {
          const item = document.createElement("li");
          item.textContent = words("addedLabel", spot.number);
          return item;
        }));
      }
    }

    photo.addEventListener("click", (event) => {
      // the tap is handled here; only "Looks right" / "Confirm" sends the form
      event.preventDefault();
      // a keyboard "click" has no place on the photo: the list below serves the keyboard
      if (event.detail === 0) return;
      const box = photo.getBoundingClientRect();
      const x = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
      const y = Math.min(Math.max((event.clientY - box.top) / box.height, 0), 1);
      tap(x, y);
      draw();
    });
    form.addEventListener("change", draw);
    draw();
  }

  function enhance(root) {
    root.querySelectorAll("[data-mark-board]").forEach(setUp);
  }

  document.addEventListener("DOMContentLoaded", () => enhance(document));
  document.addEventListener("htmx:load", (event) => enhance(event.detail.elt));
})();
