// colorize-app's page: upload or pick a photo, show the result beside the
// original or under a before/after slider, draw scribbles on a canvas over
// the result (recorded as strokes in photo pixel coordinates, so the server
// rasterises them at full resolution), apply them, download.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  config: null,
  photo: null,      // the server's description of the current photo
  strokes: [],      // drawn: [{color, radius, points: [[x, y], ...]}] in photo px
  applied: [],      // the strokes the shown result was computed from
  drawing: null,    // the stroke under the pointer
  busy: false,
};

function setBusy(busy) {
  state.busy = busy;
  document.body.dataset.busy = busy ? "1" : "0";
  updateControls();
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function setStatus(text, fraction) {
  $("status-text").textContent = text;
  const bar = $("progress");
  bar.hidden = fraction === undefined;
  if (fraction !== undefined) bar.value = fraction;
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { credentials: "same-origin", ...options });
  } catch (e) {
    throw new Error("the server cannot be reached (" + e.message + ")");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Poll a job until it ends, showing its stage and progress; the result's
// version when done.
async function waitFor(job, what) {
  for (;;) {
    const j = await api(`/api/jobs/${job.id}`);
    const seconds = j.elapsed.toFixed(1);
    if (j.state === "done") {
      setStatus(`${what}: done in ${j.seconds.toFixed(2)} s.`);
      return j.version;
    }
    if (j.state === "error") throw new Error(j.message);
    setStatus(`${what}: ${j.stage} (${seconds} s)`, j.progress);
    await sleep(j.elapsed < 2 ? 100 : 300);
  }
}

function loadImage(img, src) {
  return new Promise((resolve, reject) => {
    img.onload = () => resolve();
    img.onerror = () => reject(new Error("the browser cannot show " + src));
    img.src = src;
  });
}

async function showResult(version) {
  const p = state.photo;
  p.version = version;
  await loadImage($("result"), `/api/photos/${p.id}/result.png?v=${version}`);
  $("result").dataset.version = String(version);
  $("result-caption").textContent = `Result (${p.method || "automatic"})`;
  resizeCanvas();
  const base = `/api/photos/${p.id}`;
  $("download-png").href = `${base}/download.png?v=${version}`;
  $("download-jpg").href = `${base}/download.jpg?v=${version}`;
  $("download-marks").href = `${base}/marks.png?v=${version}`;
  try {
    showPalette((await api(`${base}/palette`)).colours);
  } catch (e) { showPalette([]); }
}

function showPalette(colours) {
  const box = $("palette");
  box.replaceChildren();
  for (const c of colours) {
    const b = document.createElement("button");
    b.type = "button";
    b.title = c;
    b.dataset.colour = c;
    b.style.background = c;
    b.addEventListener("click", () => { $("colour").value = c; });
    box.append(b);
  }
}

// Run one job (upload, sample, scribbles, reference) with the page busy.
async function run(what, start) {
  if (state.busy) return;
  showError("");
  setBusy(true);
  try {
    setStatus(`${what}: sending…`, 0);
    const answer = await start();
    if (answer.photo) await newPhoto(answer.photo);
    const version = await waitFor(answer.job, what);
    const info = await api(`/api/photos/${state.photo.id}`);
    state.photo.method = info.method;
    await showResult(version);
    return true;
  } catch (e) {
    setStatus("");
    showError(e.message);
    return false;
  } finally {
    setBusy(false);
  }
}

async function newPhoto(photo) {
  state.photo = photo;
  state.strokes = [];
  state.applied = [];
  delete $("result").dataset.version;
  $("result").removeAttribute("src");
  const original = `/api/photos/${photo.id}/original.png`;
  await loadImage($("original"), original);
  $("before").src = original;
  $("original-pane").querySelector("figcaption").textContent =
    photo.gray ? "Original (gray)" : "Original";
  redraw();
}

// Files over the server's upload limit are refused here: the server would
// refuse them too, but a browser may see its early answer as a broken
// connection while it is still sending.
function tooLarge(what, bytes) {
  const limit = state.config.max_upload_bytes;
  if (bytes <= limit) return false;
  showError(`${what} is ${(bytes / 1e6).toFixed(1)} MB, over this server's ` +
            `limit of ${(limit / 1e6).toFixed(1)} MB`);
  return true;
}

function uploadFile(file) {
  if (tooLarge(file.name, file.size)) return;
  const form = new FormData();
  form.append("photo", file, file.name);
  run(`Colorizing ${file.name}`, () => api("/api/photo", { method: "POST", body: form }));
}

function applyScribbles() {
  const p = state.photo;
  const strokes = state.strokes.slice();
  run(strokes.length ? `Applying ${strokes.length} scribble(s)` : "Back to automatic",
      () => api(`/api/photos/${p.id}/scribbles`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ strokes }),
      })).then((ok) => { if (ok) state.applied = strokes; redraw(); });
}

function applyReference() {
  const files = $("reference").files;
  const total = Array.from(files).reduce((sum, f) => sum + f.size, 0);
  if (tooLarge(`${files.length} reference photo(s)`, total)) return;
  const form = new FormData();
  for (const f of files) form.append("reference", f, f.name);
  run(`Colour from ${files.length} reference photo(s)`,
      () => api(`/api/photos/${state.photo.id}/reference`, { method: "POST", body: form }))
    .then((ok) => { if (ok) state.applied = []; redraw(); });  // the result has no strokes
}

// --- drawing -------------------------------------------------------------

function scale() {  // canvas px per photo px
  return $("marks").width / state.photo.width;
}

function resizeCanvas() {
  const canvas = $("marks"), img = $("result");
  if (!state.photo || !img.complete) return;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(img.clientWidth * ratio));
  canvas.height = Math.max(1, Math.round(img.clientHeight * ratio));
  redraw();
}

function drawStroke(ctx, s, k) {
  ctx.strokeStyle = ctx.fillStyle = s.color;
  ctx.lineWidth = 2 * s.radius * k;
  ctx.lineCap = ctx.lineJoin = "round";
  if (s.points.length === 1) {
    ctx.beginPath();
    ctx.arc(s.points[0][0] * k, s.points[0][1] * k, s.radius * k, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  s.points.forEach(([x, y], i) => (i ? ctx.lineTo(x * k, y * k) : ctx.moveTo(x * k, y * k)));
  ctx.stroke();
}

// Strokes already in the shown result are drawn faint, so that the result
// under them can be seen; strokes not applied yet, opaque.
const APPLIED_OPACITY = 0.3;

function redraw() {
  const canvas = $("marks"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (state.photo) {
    state.strokes.forEach((s, i) => {
      ctx.globalAlpha = state.applied[i] === s ? APPLIED_OPACITY : 1;
      drawStroke(ctx, s, scale());
    });
    ctx.globalAlpha = 1;
  }
  updateControls();
}

function photoPoint(event) {
  const rect = $("marks").getBoundingClientRect();
  const x = (event.clientX - rect.left) * state.photo.width / rect.width;
  const y = (event.clientY - rect.top) * state.photo.height / rect.height;
  return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
}

function canDraw() {
  return state.photo && $("result").dataset.version && !state.busy;
}

function startStroke(event) {
  if (!canDraw() || event.button !== 0) return;
  const rect = $("marks").getBoundingClientRect();
  const radius = Number($("brush").value) / 2 * state.photo.width / rect.width;
  state.drawing = { color: $("colour").value, radius: Math.round(radius * 100) / 100,
                    points: [photoPoint(event)] };
  state.strokes.push(state.drawing);
  $("marks").setPointerCapture(event.pointerId);
  redraw();
}

function moveStroke(event) {
  if (!state.drawing) return;
  state.drawing.points.push(photoPoint(event));
  redraw();
}

function endStroke() {
  state.drawing = null;
  updateControls();
}

// --- controls ------------------------------------------------------------

function updateControls() {
  const ready = Boolean(state.photo && $("result").dataset.version) && !state.busy;
  const changed = state.strokes.length !== state.applied.length ||
    state.strokes.some((s, i) => s !== state.applied[i]);
  $("apply").disabled = !ready || !changed;
  $("undo").disabled = !ready || !state.strokes.length;
  $("clear").disabled = !ready || !state.strokes.length;
  $("reference").disabled = !ready;
  $("apply-reference").disabled = !ready || !$("reference").files.length;
  for (const id of ["download-png", "download-jpg"]) {
    $(id).classList.toggle("disabled", !ready);
  }
  $("download-marks").classList.toggle("disabled", !ready || !state.applied.length);
  $("scribbles-note").textContent = !state.strokes.length ? "draw on the result" :
    `${state.strokes.length} stroke(s)` + (changed ? ", not applied yet" : ", applied");
}

function setView(view) {
  $("views").className = view;
  moveSlider();
  resizeCanvas();
}

function moveSlider() {
  const x = Number($("slider").value);
  $("before").style.clipPath = `inset(0 ${100 - x}% 0 0)`;
}

async function init() {
  state.config = await api("/api/config");
  $("model").textContent = state.config.model;
  for (const name of state.config.samples) {
    const o = document.createElement("option");
    o.value = o.textContent = name;
    $("sample").append(o);
  }

  $("upload").addEventListener("change", (e) => {
    if (e.target.files.length) uploadFile(e.target.files[0]);
    e.target.value = "";  // the same file again is a new upload
  });
  $("sample").addEventListener("change", (e) => {
    const name = e.target.value;
    e.target.value = "";
    if (name) run(`Colorizing ${name}`, () => api("/api/sample", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name }) }));
  });
  for (const radio of document.querySelectorAll("input[name=view]")) {
    radio.addEventListener("change", (e) => setView(e.target.value));
  }
  $("slider").addEventListener("input", moveSlider);
  $("brush").addEventListener("input", (e) => { $("brush-size").textContent = e.target.value; });
  $("marks").addEventListener("pointerdown", startStroke);
  $("marks").addEventListener("pointermove", moveStroke);
  $("marks").addEventListener("pointerup", endStroke);
  $("marks").addEventListener("pointercancel", endStroke);
  $("apply").addEventListener("click", applyScribbles);
  $("undo").addEventListener("click", () => { state.strokes.pop(); redraw(); });
  $("clear").addEventListener("click", () => { state.strokes = []; redraw(); });
  $("reference").addEventListener("change", updateControls);
  $("apply-reference").addEventListener("click", applyReference);
  window.addEventListener("resize", resizeCanvas);
  moveSlider();
  updateControls();
  document.body.dataset.ready = "1";
}

init().catch((e) => showError("cannot start the page: " + e.message));
