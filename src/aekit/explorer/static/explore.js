// aekit explore: the page. Plain JavaScript, no build step, nothing fetched but this server's
// JSON routes (src/aekit/explorer/server.py). Every decoded picture comes from the model on the
// server; the page only draws, and keeps the current code.
"use strict";

const $ = (id) => document.getElementById(id);
// Read by the browser tests and the latency benchmark: milliseconds from a slider move to the
// new picture on screen, a counter of drawn outputs, and where mapped input i is shown (in CSS
// pixels from the map's top left corner).
window.aekit = { ready: false, latencies: [], outputs: 0, screenPoint: (i) => shownAt(state.xy[i]) };

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf"];
const VIEW_SIZE = 160, STRIP_SIZE = 64, THUMB_SIZE = 72, PICK_RADIUS = 6, STRIP_STEPS = 9;

const state = {
  info: null, xy: [], labels: null, bounds: null,
  code: null, xyNow: null,           // the code on show and its place on the map
  selected: null,                    // the mapped input (item answer) the code came from
  a: null, b: null, pathXY: null,    // between two inputs
  vector: null, attrBase: null,      // attribute vectors
  uploaded: null,                    // the user's own input (encode answer)
};

// ---------------------------------------------------------------------------- server
async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  let answer;
  try {
    const response = await fetch(path, options);
    answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
  } catch (error) {
    status(String(error.message || error), true);
    return null;
  }
  return answer;
}

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

const decodeLabel = () => (state.info.conditional ? $("decode-label").value : null);
// Resolves just after the next paint: an animation frame runs before the paint, and a task it
// queues runs after it.
const painted = () => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));

// ---------------------------------------------------------------------------- drawing samples
// A sample is what the server sends: {kind: "image", width, height, channels, pixels (base64)},
// {kind: "series", values: [[...] per channel]} or {kind: "table", values: [...]}.

function drawSample(canvas, sample, size, reference = null) {
  if (sample.kind === "image") return drawImage(canvas, sample, size);
  if (sample.kind === "series") return drawSeries(canvas, sample.values, reference && reference.values, size);
  return drawBars(canvas, sample.values, reference && reference.values, size);
}

function drawImage(canvas, sample, size) {
  const { width, height, channels } = sample;
  const bytes = Uint8Array.from(atob(sample.pixels), (c) => c.charCodeAt(0));
  const rgba = new ImageData(width, height);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) rgba.data[4 * p + c] = bytes[p * channels + (channels === 3 ? c : 0)];
    rgba.data[4 * p + 3] = 255;
  }
  const scale = Math.max(1, Math.floor(size / Math.max(width, height)));
  const pixels = new OffscreenCanvas(width, height);
  pixels.getContext("2d").putImageData(rgba, 0, 0);
  canvas.width = width * scale;
  canvas.height = height * scale;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;  // crisp, square pixels at any scale
  ctx.drawImage(pixels, 0, 0, canvas.width, canvas.height);
}

function drawBars(canvas, values, reference, size) {
  // Table rows in standard units (each column's mean 0, sd 1 over the mapped data), so that
  // columns of different scales share one axis; grey: the input, blue: the decoded row.
  const { feature_mean: mean, feature_std: std, feature_names: names } = state.info;
  const z = (row) => row.map((v, i) => (v - mean[i]) / std[i]);
  const rows = reference ? [z(reference), z(values)] : [z(values)];
  const width = Math.max(size * 1.6, Math.min(8 * values.length, 900)), height = size;
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, width, height);
  const limit = Math.max(3, ...rows.flat().map(Math.abs));
  const mid = height / 2, per = width / values.length;
  ctx.strokeStyle = "#d1d9e0"; ctx.beginPath(); ctx.moveTo(0, mid); ctx.lineTo(width, mid); ctx.stroke();
  rows.forEach((row, r) => {
    ctx.fillStyle = rows.length === 2 && r === 0 ? "#9aa4ad" : "#0969da";
    const w = per / rows.length;
    row.forEach((v, i) => {
      const h = (v / limit) * (height / 2 - 4);
      ctx.fillRect(i * per + r * w, Math.min(mid, mid - h), Math.max(1, w - 1), Math.abs(h));
    });
  });
  if (values.length <= 16) {
    ctx.fillStyle = "#59636e"; ctx.font = "10px sans-serif";
    names.forEach((name, i) => ctx.fillText(name.slice(0, 8), i * per + 1, height - 2));
  }
}

function drawSeries(canvas, channels, reference, size) {
  // One strip per value column, each on its own scale; grey: the input, blue: decoded.
  const width = Math.round(size * 1.6), height = Math.max(size, 48 * channels.length);
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, width, height);
  const band = height / channels.length;
  channels.forEach((line, c) => {
    const lines = reference ? [reference[c], line] : [line];
    const all = lines.flat();
    let low = Math.min(...all), high = Math.max(...all);
    if (!(high > low)) { low -= 1; high += 1; }
    lines.forEach((values, r) => {
      ctx.strokeStyle = lines.length === 2 && r === 0 ? "#9aa4ad" : "#0969da";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      values.forEach((v, t) => {
        const x = (t / Math.max(1, values.length - 1)) * (width - 4) + 2;
        const y = c * band + 3 + (1 - (v - low) / (high - low)) * (band - 6);
        if (t === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
    });
  });
}

// ---------------------------------------------------------------------------- the map
function colourOf(label) {
  if (label === null || label === undefined) return "#59636e";
  if (label < PALETTE.length) return PALETTE[label];
  return `hsl(${(label * 137.508) % 360}, 60%, 45%)`;
}

function mapBounds(points) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of points) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  const padX = (x1 - x0) * 0.06 || 1, padY = (y1 - y0) * 0.06 || 1;
  return { x0: x0 - padX, x1: x1 + padX, y0: y0 - padY, y1: y1 + padY };
}

function toScreen([x, y]) {
  const c = $("map"), b = state.bounds;
  return [((x - b.x0) / (b.x1 - b.x0)) * c.width, (1 - (y - b.y0) / (b.y1 - b.y0)) * c.height];
}

function shownAt(xy) {
  const c = $("map"), box = c.getBoundingClientRect(), [x, y] = toScreen(xy);
  return [x * (box.width / c.width), y * (box.height / c.height)];
}

function fromScreen(px, py) {
  const c = $("map"), b = state.bounds;
  return [b.x0 + (px / c.width) * (b.x1 - b.x0), b.y0 + (1 - py / c.height) * (b.y1 - b.y0)];
}

function drawMap() {
  const c = $("map"), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.globalAlpha = 0.7;
  state.xy.forEach((p, i) => {
    const [x, y] = toScreen(p);
    ctx.fillStyle = colourOf(state.labels ? state.labels[i] : null);
    ctx.beginPath(); ctx.arc(x, y, 2.5, 0, 2 * Math.PI); ctx.fill();
  });
  ctx.globalAlpha = 1;
  if (state.pathXY) {
    ctx.strokeStyle = "#1f2328"; ctx.lineWidth = 2; ctx.setLineDash([5, 3]);
    ctx.beginPath();
    state.pathXY.forEach((p, i) => { const [x, y] = toScreen(p); if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
    ctx.stroke(); ctx.setLineDash([]);
  }
  for (const [point, name] of [[state.a, "A"], [state.b, "B"]]) {
    if (!point) continue;
    const [x, y] = toScreen(point.xy);
    ctx.fillStyle = "#1f2328"; ctx.font = "bold 14px sans-serif"; ctx.fillText(name, x + 6, y - 6);
    ctx.beginPath(); ctx.arc(x, y, 4, 0, 2 * Math.PI); ctx.fill();
  }
  if (state.xyNow) marker(ctx, state.xyNow, "#1f2328", 8);
  if (state.uploaded) marker(ctx, state.uploaded.xy, "#cf222e", 7);
}

function marker(ctx, xy, colour, radius) {
  const [x, y] = toScreen(xy);
  ctx.strokeStyle = colour; ctx.lineWidth = 2.5;
  ctx.beginPath(); ctx.arc(x, y, radius, 0, 2 * Math.PI); ctx.stroke();
  ctx.beginPath(); ctx.moveTo(x - radius - 4, y); ctx.lineTo(x + radius + 4, y);
  ctx.moveTo(x, y - radius - 4); ctx.lineTo(x, y + radius + 4); ctx.stroke();
}

function nearestPoint(px, py) {
  let best = -1, bestDistance = PICK_RADIUS;
  state.xy.forEach((p, i) => {
    const [x, y] = toScreen(p);
    const distance = Math.hypot(x - px, y - py);
    if (distance <= bestDistance) { best = i; bestDistance = distance; }
  });
  return best;
}

function canvasPoint(event) {
  const c = $("map"), box = c.getBoundingClientRect();
  return [(event.clientX - box.left) * (c.width / box.width), (event.clientY - box.top) * (c.height / box.height)];
}

const itemCache = new Map();
async function item(index) {
  if (!itemCache.has(index)) itemCache.set(index, api(`/api/item?index=${index}`));
  return itemCache.get(index);
}

let hovered = -1;
async function onMapHover(event) {
  const [px, py] = canvasPoint(event);
  const index = nearestPoint(px, py);
  const tip = $("tooltip");
  if (index < 0) { tip.hidden = true; hovered = -1; return; }
  if (index === hovered) return;
  hovered = index;
  const answer = await item(index);
  if (!answer || hovered !== index) return;
  drawSample($("tooltip-view"), answer.input, THUMB_SIZE);
  $("tooltip-text").textContent = answer.label === null ? `#${answer.row}` : `${answer.label} · #${answer.row}`;
  tip.style.left = `${Math.min(px + 12, $("map").width - 90)}px`;
  tip.style.top = `${py + 12}px`;
  tip.hidden = false;
}

async function onMapClick(event) {
  const [px, py] = canvasPoint(event);
  const index = nearestPoint(px, py);
  if (index >= 0) return selectItem(index);
  const answer = await api("/api/decode", { point: fromScreen(px, py), label: decodeLabel() });
  if (!answer) return;
  state.selected = null;
  showInput(null, "a place on the map (no input)");
  showWhy(null);
  showDecoded(answer, true);
  $("output-caption").textContent = "Decoded from the clicked place on the map.";
}

async function selectItem(index) {
  const answer = await item(index);
  if (!answer) return;
  state.selected = answer;
  showInput(answer.input, answer.label === null ? `input #${answer.row}` : `input #${answer.row} (${answer.label})`);
  showDecoded({ code: answer.code, xy: answer.xy, output: answer.output }, true);
  $("output-caption").textContent = answer.score === undefined ? "The input and its reconstruction." :
    `The input and its reconstruction. ${standing(answer)}`;
  showWhy(answer.why);
}

// Where the selected input's anomaly score comes from: its pixels' share as a heat map, or each
// column's (channel's) share as bars, and its top contributors in words.
function showWhy(why) {
  $("why-figure").hidden = !why;
  if (!why) return;
  const canvas = $("why-view");
  if (why.heat) drawImage(canvas, why.heat, VIEW_SIZE);
  else drawShares(canvas, why.names, why.shares, VIEW_SIZE);
  $("why-caption").textContent = why.top ? `why: ${why.top}` : "why: no part scores above a normal input";
}

function drawShares(canvas, names, shares, size) {
  // The largest shares, one bar each, largest first.
  const order = shares.map((v, i) => i).sort((a, b) => shares[b] - shares[a]).slice(0, 8);
  const width = size * 1.6, row = Math.max(14, size / Math.max(order.length, 1));
  canvas.width = width; canvas.height = row * order.length;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "11px sans-serif"; ctx.textBaseline = "middle";
  order.forEach((i, r) => {
    const y = r * row;
    ctx.fillStyle = "#cf222e";
    ctx.fillRect(width * 0.45, y + 2, Math.max(1, width * 0.5 * shares[i]), row - 4);
    ctx.fillStyle = "#1f2328";
    ctx.fillText(`${names[i]}`.slice(0, 18), 2, y + row / 2);
  });
}

// ---------------------------------------------------------------------------- output
function showInput(sample, caption) {
  const canvas = $("input-view");
  if (sample) drawSample(canvas, sample, VIEW_SIZE);
  else { canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height); }
  $("input-caption").textContent = caption;
}

function showDecoded(answer, moveSliders) {
  state.code = answer.code.slice();
  state.xyNow = answer.xy;
  const reference = state.selected ? state.selected.input : null;
  drawSample($("output-view"), answer.output, VIEW_SIZE, reference && answer.output.kind !== "image" ? reference : null);
  if (moveSliders) {
    syncSliders();
    resetStrength();
  }
  drawMap();
  window.aekit.outputs += 1;
}

function standing(answer) {
  const flagged = answer.score > answer.threshold;
  return `Anomaly score ${answer.score.toPrecision(4)}: higher than ${answer.percentile.toFixed(1)}% ` +
         `of the mapped data's scores${flagged ? " — above the detector's threshold" : ""}.`;
}

// One decode in flight at a time; while it runs, only the newest code waits. A dragged slider
// thus never queues up stale pictures, and each picture's latency is measured from its own move.
let decoding = false, waiting = null;
function decodeCode(code, startedAt = performance.now()) {
  waiting = { code: code.slice(), startedAt };
  if (!decoding) pumpDecodes();
}

async function pumpDecodes() {
  decoding = true;
  while (waiting) {
    const job = waiting;
    waiting = null;
    const answer = await api("/api/decode", { code: job.code, label: decodeLabel() });
    if (!answer) continue;
    showDecoded(answer, false);
    await painted();
    window.aekit.latencies.push(performance.now() - job.startedAt);
  }
  decoding = false;
}

// ---------------------------------------------------------------------------- sliders
function buildSliders() {
  const { latent_dim: dims, slider_centre: centre, slider_std: std, slider_span: span, variational,
          latent_labels: labels } = state.info;
  const box = $("sliders");
  for (let d = 0; d < dims; d++) {
    const label = document.createElement("label");
    label.textContent = labels[d];  // "z3: scale" where the model's dimensions have names
    label.htmlFor = `z${d}`;
    const input = document.createElement("input");
    Object.assign(input, { type: "range", id: `z${d}`, min: centre[d] - span * std[d],
                           max: centre[d] + span * std[d], step: (2 * span * std[d]) / 300, value: centre[d] });
    const shown = document.createElement("output");
    shown.id = `z${d}-value`;
    input.addEventListener("input", () => {
      if (!state.code) state.code = centre.slice();
      state.code[d] = Number(input.value);
      resetStrength();
      shown.textContent = Number(input.value).toFixed(2);
      decodeCode(state.code);
    });
    box.append(label, input, shown);
  }
  $("sliders-help").textContent = `Each slider moves one latent value over ±${span} standard deviations of ` +
    (variational ? "the prior N(0, 1)." : "the training codes.");
  $("randomise").textContent = variational ? "Sample from the prior" : "Random code";
}

function syncSliders() {
  state.code.forEach((value, d) => {
    $(`z${d}`).value = value;
    $(`z${d}-value`).textContent = value.toFixed(2);
  });
}

function gaussian() {
  const u = 1 - Math.random(), v = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

async function randomCode() {
  const { slider_centre: centre, slider_std: std } = state.info;
  const answer = await api("/api/decode", { code: centre.map((c, d) => c + std[d] * gaussian()), label: decodeLabel() });
  if (!answer) return;
  state.selected = null;
  showInput(null, state.info.variational ? "a sample from the prior" : "a random code");
  showDecoded(answer, true);
  $("output-caption").textContent = "Decoded from a random code.";
}

// ---------------------------------------------------------------------------- between two inputs
function keepEndpoint(which) {
  if (!state.code) return status("Select an input or a place on the map first.", true);
  state[which] = { code: state.code.slice(), xy: state.xyNow };
  status(`Kept the current code as ${which.toUpperCase()}.`);
  drawMap();
  if (state.a && state.b) drawStrip();
}

async function walk(t) {
  const answer = await api("/api/path", { a: state.a.code, b: state.b.code, t,
                                          method: $("path-method").value, label: decodeLabel() });
  return answer;
}

async function drawStrip() {
  const t = Array.from({ length: STRIP_STEPS }, (_, i) => i / (STRIP_STEPS - 1));
  const answer = await walk(t);
  if (!answer) return;
  state.pathXY = answer.xy;
  const strip = $("strip");
  strip.replaceChildren(...answer.outputs.map((output) => {
    const canvas = document.createElement("canvas");
    drawSample(canvas, output, STRIP_SIZE);
    return canvas;
  }));
  $("path-t").disabled = false;
  drawMap();
  window.aekit.outputs += 1;
}

async function onWalk() {
  const t = Number($("path-t").value);
  const answer = await walk([t]);
  if (!answer) return;
  state.selected = null;
  showInput(null, `${Math.round(t * 100)}% of the way from A to B`);
  showDecoded({ code: answer.codes[0], xy: answer.xy[0], output: answer.outputs[0] }, true);
}

// ---------------------------------------------------------------------------- attribute vectors
function buildAttributes() {
  const labels = state.info.labels;
  if (labels.length < 2) {
    $("attribute-help").textContent = "Attribute vectors need data with at least two labels.";
    return;
  }
  for (const [id, pick] of [["attr-from", 0], ["attr-to", 1]]) {
    $(id).replaceChildren(...labels.map((name) => new Option(name, name)));
    $(id).selectedIndex = pick;
  }
}

async function fetchVector() {
  const answer = await api("/api/attribute", { from: $("attr-from").value, to: $("attr-to").value });
  if (!answer) return;
  state.vector = answer.vector;
  resetStrength();
  $("attr-strength").disabled = false;
  status(`Attribute vector: mean code of "${$("attr-to").value}" (${answer.n_to}) − mean code of ` +
         `"${$("attr-from").value}" (${answer.n_from}), added to the current code.`);
}

// The vector is added to the code on show when the strength slider starts to move.
function resetStrength() {
  state.attrBase = null;
  $("attr-strength").value = 0;
  $("attr-strength-value").textContent = "0";
}

function onStrength() {
  if (!state.vector) return;
  if (!state.attrBase) state.attrBase = (state.code || state.info.slider_centre).slice();
  const alpha = Number($("attr-strength").value);
  $("attr-strength-value").textContent = alpha.toFixed(2);
  decodeCode(state.attrBase.map((z, d) => z + alpha * state.vector[d]));
}

// ---------------------------------------------------------------------------- your own input
function bytesToBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

async function encodeOwn(request) {
  status("Encoding your input…");
  const answer = await api("/api/encode", { ...request, label: decodeLabel() });
  if (!answer) return;
  state.uploaded = answer;
  state.selected = answer;
  showInput(answer.input, "your input");
  showDecoded(answer, true);
  const text = answer.score === undefined ? "Encoded and reconstructed (this model has no anomaly score)." :
    `Encoded and reconstructed. ${standing(answer)}`;
  showWhy(answer.why);
  $("upload-result").textContent = text;
  $("output-caption").textContent = text;
  status("Your input is the red marker on the map.");
}

async function onFiles(files) {
  if (!files || !files.length) return;
  encodeOwn({ image: bytesToBase64(await files[0].arrayBuffer()) });
}

function onValues() {
  const values = $("upload-values").value.split(/[\s,;]+/).filter((v) => v !== "").map(Number);
  const need = state.info.n_values;
  if (values.length !== need || values.some((v) => !Number.isFinite(v))) {
    return status(`Give ${need} numbers (got ${values.length}${values.some((v) => !Number.isFinite(v)) ? ", not all numbers" : ""}).`, true);
  }
  encodeOwn({ values });
}

function buildUpload() {
  if (state.info.kind === "image") {
    const zone = $("drop-zone");
    zone.hidden = false;
    $("upload-file").addEventListener("change", (e) => onFiles(e.target.files));
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); onFiles(e.dataTransfer.files); });
  } else {
    $("values-zone").hidden = false;
    const what = state.info.kind === "table" ? `a row of ${state.info.n_values} values, in the columns' order ` +
      `(${state.info.feature_names.slice(0, 6).join(", ")}${state.info.feature_names.length > 6 ? ", …" : ""})` :
      `a window of ${state.info.n_values} values, channel after channel`;
    $("upload-values").placeholder = `Paste ${what}`;
    $("upload-encode").addEventListener("click", onValues);
  }
}

// ---------------------------------------------------------------------------- start
async function start() {
  const [info, map] = await Promise.all([api("/api/info"), api("/api/map")]);
  if (!info || !map) return;
  state.info = info;
  state.xy = map.xy;
  state.labels = map.label;
  state.bounds = mapBounds(map.xy);
  const projection = info.projection === "pca" ?
    `first two principal components of the ${info.latent_dim}-D codes (${(100 * (info.explained_variance[0] + info.explained_variance[1])).toFixed(0)}% of their variance)` :
    `the ${info.latent_dim}-D codes themselves`;
  $("about").textContent = `${info.model}, ${info.latent_dim} latent dimensions, ${info.kind} data: ` +
    `${info.n_points} of ${info.n_rows} inputs mapped on ${projection}.`;
  $("legend").replaceChildren(...info.labels.map((name, i) => {
    const span = document.createElement("span");
    const dot = document.createElement("i");
    dot.style.background = colourOf(i);
    span.append(dot, name);
    return span;
  }));
  if (info.conditional) {
    $("decode-label").replaceChildren(...info.classes.map((c) => new Option(c, c)));
    $("decode-label-wrap").hidden = false;
    $("decode-label").addEventListener("change", () => state.code && decodeCode(state.code));
  }
  buildSliders();
  buildAttributes();
  buildUpload();
  $("map").addEventListener("mousemove", onMapHover);
  $("map").addEventListener("mouseleave", () => { $("tooltip").hidden = true; hovered = -1; });
  $("map").addEventListener("click", onMapClick);
  $("reset").addEventListener("click", () => state.selected && state.selected.code ? showDecoded(state.selected, true) : selectItem(0));
  $("randomise").addEventListener("click", randomCode);
  $("set-a").addEventListener("click", () => keepEndpoint("a"));
  $("set-b").addEventListener("click", () => keepEndpoint("b"));
  $("path-method").addEventListener("change", () => state.a && state.b && drawStrip());
  $("path-t").addEventListener("input", onWalk);
  $("attr-from").addEventListener("change", fetchVector);
  $("attr-to").addEventListener("change", fetchVector);
  $("attr-strength").addEventListener("input", onStrength);
  drawMap();
  await selectItem(0);
  if (info.labels.length >= 2) await fetchVector();
  status("Ready.");
  window.aekit.ready = true;
}

start();
