// Followed marks on the confirm page, in the page: a tap removes, adds or moves a point at
// once, a point can be dragged (mouse, pen or finger: Pointer Events) or, once focused, moved
// with the arrow keys, and "Looks right" / "Confirm" posts the final list. Without this file
// every tap is a form submission (<input type="image">) and the server makes the same change
// (webapp/services/marks.py, Board.tap): both read and write the same form fields.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  // a press that travels less than this (css px) is a tap, not a drag
  const DRAG_SLOP = 6;
  // one arrow key press moves a point this far (css px); with Shift, four times as far
  const KEY_STEP = 4;
  // half the chosen point's remove button (44 css px: a thumb's target, WCAG 2.5.5)
  const REMOVE_HALF = 22;
  const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

  function parsePoint(text) {
    const [x, y] = text.split(",").map(Number);
    return { x, y };
  }

  function format(value) {
    return value.toFixed(4);
  }

  // an added point's form value: "3:x,y" (its number kept while others go), or "x,y"
  function parseNumbered(text) {
    const at = text.lastIndexOf(":");
    const number = at < 0 ? NaN : Number(text.slice(0, at));
    return { number: Number.isInteger(number) && number > 0 ? number : null,
             ...parsePoint(text.slice(at + 1)) };
  }

  function clamp(value) {
    return Math.min(Math.max(value, 0), 1);
  }

  function setUp(board) {
    if (board.dataset.ready) return;
    board.dataset.ready = "1";
    const form = board.querySelector("form");
    const photo = board.querySelector('input[type="image"]');
    const overlay = board.querySelector("[data-overlay]");
    const message = board.querySelector("[data-board-message]");
    const help = board.querySelector("[data-board-help]");
    const addedInputs = board.querySelector("[data-added-inputs]");
    const addedList = board.querySelector("[data-added-list]");
    const first = board.dataset.first === "1";
    const width = Number(board.dataset.width);
    const height = Number(board.dataset.height);
    const short = Math.min(width, height);
    const hitPx = Number(board.dataset.hit);
    const tappedRadius = Number(board.dataset.tappedRadius);
    const ringGap = Number(board.dataset.ringGap);
    const badgeR = Number(board.dataset.badgeR);
    const badgeGap = Number(board.dataset.badgeGap);
    const badgeSides = JSON.parse(board.dataset.badgeSides);
    const badgeReach = JSON.parse(board.dataset.badgeReach);
    const letters = board.dataset.letters || "";
    // a press on a point that may move starts a drag, which becomes one once it travels;
    // `dragged` swallows the click that may follow the release
    let dragging = null;
    let dragged = false;
    // the point a tap chose on a first photo (its field): its remove button shows beside it
    let chosenField = null;
    const retired = (board.dataset.retired || "").split(",").filter(Boolean).map(Number);
    // the circles the server asked about (services.marks.questioned), until moved or removed
    const asked = new Set((board.dataset.asked || "").split(",").filter(Boolean).map(Number));
    // the chosen point's remove button: drawn on the overlay (a placed element would need an
    // inline style, which the CSP refuses), 44 css px across whatever the photo's shown width;
    // a tap on it is found by where it falls (removeAt: its centre and radius, photo pixels)
    let removeAt = null;

    // every point the page shows, each tied to the form field that names it
    function spots() {
      const found = [];
      form.querySelectorAll('input[name="keep"]').forEach((box) => {
        found.push({ kind: "proposal", field: box, kept: box.checked, r: Number(box.dataset.radius),
                     number: Number(box.dataset.number) || null, ...parsePoint(box.value) });
      });
      form.querySelectorAll('input[name="mark"]').forEach((field) => {
        const [number, point] = field.value.split(":");
        found.push({ kind: "mark", field, kept: true, number: Number(number),
                     r: Number(field.dataset.radius), ...parsePoint(point) });
      });
      addedInputs.querySelectorAll('input[name="point"]').forEach((field) => {
        found.push({ kind: "tapped", field, kept: true, r: Number(field.dataset.radius),
                     ...parseNumbered(field.value) });
      });
      // marks a later photo shows that nobody follows yet: followed once ticked
      form.querySelectorAll('.new-marks input[name="point"]').forEach((box) => {
        found.push({ kind: "suggested", field: box, kept: box.checked, r: Number(box.dataset.radius),
                     ...parsePoint(box.value) });
      });
      // numbers as the server gives them (Board.shown): a point keeps its number while others
      // go; one without (just added, or ticked) gets the lowest number nobody holds
      const used = new Set(retired);
      const ranked = [...found.filter((s) => s.kind === "mark"),
                      ...found.filter((s) => s.kind === "tapped"),
                      ...found.filter((s) => s.kind === "proposal" && s.kept)];
      ranked.forEach((spot) => {
        if (spot.number && used.has(spot.number) && spot.kind !== "mark") spot.number = null;
        if (spot.number) used.add(spot.number);
      });
      found.forEach((spot) => {
        if (!spot.kept || spot.number) return;
        let number = 1;
        while (used.has(number)) number += 1;
        spot.number = number;
        used.add(number);
        // an added point carries its number in its value, as the server writes it
        if (spot.kind === "tapped") spot.field.value = `${number}:${format(spot.x)},${format(spot.y)}`;
      });
      return found;
    }

    // the points a drag or the arrow keys may move: those that will be saved
    function movable(all) {
      return all.filter((s) => s.kept && s.kind !== "suggested");
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

    function say(text, refusal = false) {
      message.textContent = text;
      message.hidden = !text;
      message.classList.toggle("refusal", refusal);
      message.classList.toggle("notice", !refusal);
    }

    function words(name, number) {
      return (board.dataset[name] || "").replace("{n}", number);
    }

    function moving() {
      const chosen = form.querySelector('input[name="move"]:checked');
      return chosen ? chosen.value : "";
    }

    function addPoint(x, y, number = null) {
      const field = document.createElement("input");
      field.type = "hidden";
      field.name = "point";
      field.value = `${number ? `${number}:` : ""}${format(x)},${format(y)}`;
      field.dataset.radius = String(tappedRadius);
      addedInputs.append(field);
      return field;
    }

    // put a point somewhere else; a first photo's proposal becomes a point of the client's
    // (the server only knows proposals where it found them), so the field may change
    function place(spot, x, y) {
      asked.delete(spot.number);
      if (spot.kind === "mark") {
        spot.field.value = `${spot.number}:${format(x)},${format(y)}`;
        return spot.field;
      }
      if (spot.kind === "proposal") {
        // the client's point now, under the proposal's number
        spot.field.checked = false;
        const field = addPoint(x, y, spot.number);
        if (chosenField === spot.field) chosenField = field;
        return field;
      }
      spot.field.value = `${spot.number ? `${spot.number}:` : ""}${format(x)},${format(y)}`;
      return spot.field;
    }

    // say which number a point just added (or kept again) has on the photo
    function added(field) {
      say(words("saidAdded", spots().find((s) => s.field === field).number));
    }

    // the server follows at most data-max points: a point past them is refused here, where
    // the client sees it, not when saving
    function full(all) {
      if (all.filter((s) => s.kept && s.kind !== "suggested").length < Number(board.dataset.max)) {
        return false;
      }
      say(words("saidFull"), true);
      return true;
    }

    function tap(x, y) {
      const all = spots();
      if (first) {
        const on = hit(x, y, all.filter((s) => s.kept));
        if (on) {
          // a tap near a circle (a new mark meant beside it) never removes it: it chooses it,
          // and its own button removes it
          chosenField = on.field;
          say(words("saidChosen", on.number));
        } else {
          chosenField = null;
          if (full(all)) return;
          const removed = hit(x, y, all.filter((s) => !s.kept));
          if (removed) removed.field.checked = true;
          added(removed ? removed.field : addPoint(x, y));
        }
        return;
      }
      const marks = all.filter((s) => s.kind === "mark");
      const chosen = moving();
      const target = marks.find((s) => String(s.number) === chosen);
      if (target) {
        place(target, x, y);
        form.querySelector('input[name="move"]:checked').checked = false;
        say(words("saidMoved", target.number));
      } else if (chosen === "new") {
        if (full(all)) return;
        form.querySelector('input[name="move"]:checked').checked = false;
        added(addPoint(x, y));
      } else if (hit(x, y, all.filter((s) => s.kind === "suggested" && !s.kept))) {
        if (full(all)) return;
        const seen = hit(x, y, all.filter((s) => s.kind === "suggested" && !s.kept));
        seen.field.checked = true;
        added(seen.field);
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

    // the deliberate removal: the chosen point's ×, its button in the list, or Delete on it
    function removeSpot(spot) {
      if (!spot) return;
      if (spot.kind === "tapped") spot.field.remove();
      else spot.field.checked = false;
      if (chosenField === spot.field) chosenField = null;
      focusedField = null;
      draw();
      say(words("saidRemoved", spot.number));
    }

    function removeChosen() {
      removeSpot(spots().find((s) => s.field === chosenField && s.kept));
      photo.focus();
    }

    function onRemove(point) {
      return removeAt && Math.hypot(point.x * width - removeAt.x, point.y * height - removeAt.y) <= removeAt.r;
    }

    form.addEventListener("click", (event) => {
      const button = event.target.closest('button[name="remove"]');
      if (!button) return;
      event.preventDefault();
      removeSpot(spots().find((s) => s.kind === "tapped" && String(s.number) === button.value));
    });

    // the points placed and not yet saved are kept in this tab (app.js drafts: per person and
    // form, forgotten once the server has them or on logging out): a session that ended
    // meanwhile sends the client to sign in, and back here, with every point still placed
    const draftStore = form.dataset.draft ? storage() : null;
    const draftName = draftStore ? draftKey(form, { name: "marks" }) : "";

    function state() {
      const values = (selector) => [...form.querySelectorAll(selector)].map((field) => field.value);
      return JSON.stringify({
        board: form.querySelector('input[name="board"]').value,
        keep: values('input[name="keep"]:checked'),
        point: values('[data-added-inputs] input[name="point"]'),
        mark: values('input[name="mark"]'),
        stop: values('input[name="stop"]:checked'),
        seen: values('.new-marks input[name="point"]:checked'),
      });
    }

    function restore(kept) {
      const saved = JSON.parse(kept);
      if (saved.board !== form.querySelector('input[name="board"]').value) return false;
      const check = (selector, values) => form.querySelectorAll(selector).forEach((box) => {
        box.checked = values.includes(box.value);
      });
      check('input[name="keep"]', saved.keep);
      check('input[name="stop"]', saved.stop);
      check('.new-marks input[name="point"]', saved.seen);
      // a followed mark's point, by its number (a mark since stopped elsewhere is left as is)
      const marks = new Map(saved.mark.map((value) => [value.split(":")[0], value]));
      form.querySelectorAll('input[name="mark"]').forEach((field) => {
        const value = marks.get(field.value.split(":")[0]);
        if (value) field.value = value;
      });
      addedInputs.replaceChildren();
      saved.point.forEach((value) => {
        const { number, x, y } = parseNumbered(value);
        if (onPhoto({ x, y })) addPoint(x, y, number);
      });
      return true;
    }

    let unchanged = "";

    function remember() {
      if (!draftStore) return;
      const now = state();
      if (now === unchanged) draftStore.removeItem(draftName);
      else draftStore.setItem(draftName, now);
    }

    function addFromKeys() {
      const all = spots();
      if (full(all)) return;
      const chosen = form.querySelector('input[name="move"]:checked');
      if (chosen) chosen.checked = false;
      const field = addPoint(0.5, 0.5);
      focusedField = field;
      draw();
      say(words("saidAddedKeys", spots().find((s) => s.field === field).number));
    }

    // choosing what to move says what the next tap does
    form.querySelectorAll('input[name="move"]').forEach((radio) => {
      radio.addEventListener("change", () => {
        say(radio.value === "new" ? words("saidPickNew") : words("saidPick", radio.value));
      });
    });

    function circle(className, cx, cy, r) {
      const element = document.createElementNS(SVG, "circle");
      element.setAttribute("class", className);
      element.setAttribute("cx", cx.toFixed(1));
      element.setAttribute("cy", cy.toFixed(1));
      element.setAttribute("r", r.toFixed(1));
      return element;
    }

    // the same placement as the server's (place_badge): upper right of the ring, else the
    // next side free of the badges already placed, then further out, else the least crowded
    function placeBadge(cx, cy, r, placed) {
      let best = null;
      let bestGap = -1;
      for (const reach of badgeReach) {
        for (const [dx, dy] of badgeSides) {
          const bx = Math.min(Math.max(cx + r * reach * dx, badgeR + 1), width - badgeR - 1);
          const by = Math.min(Math.max(cy - r * reach * dy, badgeR + 1), height - badgeR - 1);
          const gap = Math.min(Infinity, ...placed.map(([px, py]) => Math.hypot(bx - px, by - py)));
          if (gap >= 2 * badgeR + badgeGap) return [bx, by];
          if (gap > bestGap) {
            best = [bx, by];
            bestGap = gap;
          }
        }
      }
      return best;
    }

    // which field a point's drawing stands for, so focus survives a redraw
    let focusedField = null;

    // the same drawing as the server's (Board.drawn): ring, and a number badge off the mark;
    // each point that may move is a focusable button the arrow keys move
    function draw() {
      const all = spots();
      const chosen = moving();
      const refocus = focusedField;
      const placed = [];
      let suggested = 0;
      overlay.replaceChildren();
      let removeButton = null;
      removeAt = null;
      all.forEach((spot) => {
        const group = document.createElementNS(SVG, "g");
        const looks = ["spot", spot.kind];
        if (!spot.kept) looks.push("removed");
        if (spot.kept && asked.has(spot.number)) looks.push("asked");
        if (spot.kind === "mark" && String(spot.number) === chosen) looks.push("moving");
        if (spot.field === dragging?.field && dragging.moved) looks.push("moving");
        group.setAttribute("class", looks.join(" "));
        const r = Math.max(spot.r * short + ringGap, 12);
        const cx = spot.x * width;
        const cy = spot.y * height;
        group.append(circle("ring-shadow", cx, cy, r), circle("ring", cx, cy, r));
        if (spot.kept && spot.field === chosenField) {
          group.append(circle("chosen", cx, cy, r + 3));
          // the remove button just off the ring's lower left (the badge is at its upper right),
          // never over the mark it removes; inside the photo
          const shown = photo.getBoundingClientRect().width;
          const half = REMOVE_HALF * (shown > 0 ? width / shown : 1);
          const off = (r + half + 4) * Math.SQRT1_2;
          const bx = cx - off >= half ? cx - off : cx + off;
          const by = cy + off <= height - half ? cy + off : cy - off;
          removeAt = { x: bx, y: by, r: half };
          const button = document.createElementNS(SVG, "g");
          button.setAttribute("class", "remove-chosen");
          button.setAttribute("tabindex", "0");
          button.setAttribute("role", "button");
          button.setAttribute("aria-label", words("removeLabel", spot.number));
          const cross = document.createElementNS(SVG, "text");
          cross.setAttribute("x", bx.toFixed(1));
          cross.setAttribute("y", by.toFixed(1));
          cross.setAttribute("text-anchor", "middle");
          cross.setAttribute("dominant-baseline", "central");
          cross.setAttribute("font-size", (half * 1.2).toFixed(1));
          cross.textContent = "\u00d7";
          button.append(circle("remove-disc", bx, by, half), cross);
          button.addEventListener("keydown", (event) => {
            if (event.key !== "Enter" && event.key !== " ") return;
            event.preventDefault();
            removeChosen();
          });
          removeButton = button;
        }
        // a new mark the photo shows is named by a letter until it is followed (as the server's)
        const letter = spot.kind === "suggested" ? letters[suggested++] : "";
        const name = spot.kept && spot.number ? String(spot.number) : letter;
        if (name) {
          const [bx, by] = placeBadge(cx, cy, r, placed);
          placed.push([bx, by]);
          const text = document.createElementNS(SVG, "text");
          text.setAttribute("class", "badge-number");
          text.setAttribute("x", bx.toFixed(1));
          text.setAttribute("y", by.toFixed(1));
          text.setAttribute("text-anchor", "middle");
          text.setAttribute("dominant-baseline", "central");
          text.textContent = name;
          group.append(circle("badge", bx, by, badgeR), text);
        }
        if (movable(all).includes(spot)) {
          group.setAttribute("tabindex", "0");
          group.setAttribute("role", "button");
          group.setAttribute("aria-label", words("keyLabel", spot.number));
          group.addEventListener("keydown", (event) => nudge(event, spot.field));
          group.addEventListener("focus", () => { focusedField = spot.field; });
          group.addEventListener("blur", () => {
            if (focusedField === spot.field) focusedField = null;
          });
          group.fieldRef = spot.field;
        }
        overlay.append(group);
      });
      // last: drawn over every circle, and reached by Tab after them
      if (removeButton) overlay.append(removeButton);
      remember();
      if (refocus) {
        const again = [...overlay.children].find((g) => g.fieldRef === refocus);
        if (again) again.focus();
      }
      form.querySelectorAll('input[name="keep"]').forEach((box) => {
        const label = box.closest("label").querySelector("[data-label]");
        const spot = all.find((s) => s.field === box);
        label.textContent = box.checked ? words("keepLabel", spot.number) : words("removedLabel");
      });
      if (addedList) {
        addedList.replaceChildren(...all.filter((s) => s.kind === "tapped").map((spot) => {
          const item = document.createElement("li");
          const label = document.createElement("span");
          label.textContent = words("addedLabel", spot.number);
          const button = document.createElement("button");
          button.type = "submit";
          button.name = "remove";
          button.value = String(spot.number);
          button.className = "secondary remove-mark";
          button.textContent = words("removeLabel", spot.number);
          item.append(label, button);
          return item;
        }));
      }
    }

    // the arrow keys move the focused point, inside the photo; Enter or Space does what a
    // tap on it does (a button's keys)
    function nudge(event, field) {
      const spot = spots().find((s) => s.field === field);
      if (!spot) return;
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        tap(spot.x, spot.y);
        draw();
        return;
      }
      if (first && (event.key === "Delete" || event.key === "Backspace")) {
        event.preventDefault();
        removeSpot(spot);
        photo.focus();
        return;
      }
      const step = ARROWS[event.key];
      if (!step) return;
      event.preventDefault();
      const by = KEY_STEP * (event.shiftKey ? 4 : 1);
      focusedField = place(spot, clamp(spot.x + (step[0] * by) / width),
                           clamp(spot.y + (step[1] * by) / height));
      draw();
      say(words("saidMoved", spots().find((s) => s.field === focusedField).number));
    }

    // where a pointer is, as fractions of the photo (outside it: beyond 0..1)
    function at(event) {
      const box = photo.getBoundingClientRect();
      return { x: (event.clientX - box.left) / box.width, y: (event.clientY - box.top) / box.height };
    }

    function onPhoto(point) {
      return point.x >= 0 && point.x <= 1 && point.y >= 0 && point.y <= 1;
    }

    photo.addEventListener("pointerdown", (event) => {
      dragged = false;
      if (event.button !== 0) return;
      const point = at(event);
      if (!onPhoto(point) || onRemove(point)) return;
      const on = hit(point.x, point.y, movable(spots()));
      if (!on) return;
      dragging = { field: on.field, pointerId: event.pointerId, start: point,
                   dx: on.x - point.x, dy: on.y - point.y, moved: false };
      photo.setPointerCapture(event.pointerId);
    });

    photo.addEventListener("pointermove", (event) => {
      if (!dragging || event.pointerId !== dragging.pointerId) return;
      const point = at(event);
      const travelled = Math.hypot((point.x - dragging.start.x) * width,
                                   (point.y - dragging.start.y) * height);
      if (!dragging.moved && travelled < DRAG_SLOP) return;
      dragging.moved = true;
      const spot = spots().find((s) => s.field === dragging.field);
      if (!spot) return;
      dragging.field = place(spot, clamp(point.x + dragging.dx), clamp(point.y + dragging.dy));
      draw();
    });

    function endDrag(event) {
      if (!dragging || event.pointerId !== dragging.pointerId) return;
      const finished = dragging;
      dragging = null;
      if (!finished.moved) return;
      // a mouse's release is followed at once by a click, a finger's by none: either way the
      // next tap is a tap again
      dragged = true;
      setTimeout(() => { dragged = false; }, 0);
      draw();
      say(words("saidMoved", spots().find((s) => s.field === finished.field).number));
    }

    photo.addEventListener("pointerup", endDrag);
    photo.addEventListener("pointercancel", endDrag);
    // the photo is not an image to drag out of the page
    photo.addEventListener("dragstart", (event) => event.preventDefault());

    photo.addEventListener("click", (event) => {
      // the tap is handled here; only "Looks right" / "Confirm" sends the form
      event.preventDefault();
      if (dragged) {
        dragged = false;
        return;
      }
      // a keyboard "click" (Enter or Space on the photo) has no place on it: where a tap would
      // add a point (a first photo, or "A new mark" chosen) it adds one in the middle, focused,
      // for the arrow keys to move onto the mark; a chosen mark takes the focus instead, and
      // with nothing chosen the client is asked to choose, as after a tap
      if (event.detail === 0) {
        const target = spots().find((s) => s.kind === "mark" && String(s.number) === moving());
        if (first || moving() === "new") addFromKeys();
        else if (target) { focusedField = target.field; draw(); }
        else tap(-1, -1); // a tap on no circle: it asks the client to choose
        return;
      }
      const point = at(event);
      // a finger just off the photo may still "click" it (touch adjustment): never an edge mark
      if (!onPhoto(point)) {
        say(words("saidOffPhoto"), true);
        return;
      }
      if (onRemove(point)) {
        removeChosen();
        return;
      }
      tap(point.x, point.y);
      draw();
    });
    form.addEventListener("change", draw);
    unchanged = state();
    const kept = draftStore && draftStore.getItem(draftName);
    if (kept && kept !== unchanged) {
      let restored = false;
      try {
        restored = restore(kept);
      } catch (error) {
        restored = false; // a draft of an older page: the page as the server sent it
      }
      if (restored) say(words("saidRestored"));
    }
    board.classList.add("draggable");
    overlay.removeAttribute("aria-hidden");
    if (help) help.textContent = words("helpDrag");
    draw();
  }

  function enhance(root) {
    root.querySelectorAll("[data-mark-board]").forEach(setUp);
  }

  document.addEventListener("DOMContentLoaded", () => enhance(document));
  document.addEventListener("htmx:load", (event) => enhance(event.detail.elt));
})();
