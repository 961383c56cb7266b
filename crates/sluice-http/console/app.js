// Sluice console: a small single-page app over the admin API (/v1/...). No framework and no
// build step: DOM helpers, a hash router, and an SVG line chart, all in this file.
"use strict";

// ---------------------------------------------------------------------------------------------
// DOM and formatting helpers

/** Builds an element. Children may be strings (become text nodes, never HTML), nodes or arrays. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const nf = new Intl.NumberFormat("en-US");
const fmtInt = (n) => (n === null || n === undefined || Number.isNaN(n) ? "—" : nf.format(n));

function fmtBytes(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let i = 0;
  let v = Number(n);
  while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return (i === 0 ? String(Math.round(v)) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)) + " " + units[i];
}

function fmtRate(n, digits) {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  if (n === 0) return "0";
  if (n >= 1000) return nf.format(Math.round(n));
  return n.toFixed(n >= 100 ? 0 : digits === undefined ? 2 : digits);
}

const pad = (n, w) => String(n).padStart(w || 2, "0");
function fmtTime(ms) {
  if (ms === null || ms === undefined || ms < 0) return "—";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
const fmtClock = (ms) => { const d = new Date(ms); return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`; };

function fmtAgo(ms) {
  if (ms === null || ms === undefined || ms < 0) return "";
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 0) return "in the future";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

function fmtDuration(sec) {
  if (sec === null || sec === undefined || sec < 0) return "—";
  if (sec < 60) return `${Math.round(sec)} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ${Math.round(sec % 60)} s`;
  return `${Math.floor(sec / 3600)} h ${Math.floor((sec % 3600) / 60)} min`;
}

const enc = encodeURIComponent;

function stateBadge(state) {
  const st = String(state || "Unknown");
  const kind = { Stable: "ok", Empty: "plain", Dead: "bad", PreparingRebalance: "warn",
    CompletingRebalance: "warn", Assigning: "warn", Reconciling: "warn" }[st] || "";
  return h("span", { class: `badge ${kind}` }, st);
}

// ---------------------------------------------------------------------------------------------
// API

class ApiError extends Error {}

async function api(path) {
  let resp;
  try {
    resp = await fetch(path, { headers: { Accept: "application/json" } });
  } catch (e) {
    throw new ApiError(`cannot reach the broker (${e.message})`);
  }
  const text = await resp.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
  if (!resp.ok) {
    const msg = body && body.message ? body.message : text || resp.statusText;
    const err = new ApiError(`${resp.status}: ${msg}`);
    err.status = resp.status;
    throw err;
  }
  return body;
}

// ---------------------------------------------------------------------------------------------
// Record payloads: base64 from the API, shown as text, pretty JSON or hex.

function b64bytes(b64) {
  if (b64 === null || b64 === undefined) return null;
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
function asText(bytes) {
  try { return utf8.decode(bytes); } catch (e) { return null; }
}

function isPrintable(text) {
  // Control characters other than tab/newline/carriage return suggest binary data.
  return !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text);
}

function hexDump(bytes) {
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, i + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = Array.from(row, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${i.toString(16).padStart(6, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n") || "(empty)";
}

/** {text, kind} for a payload in the chosen format: "auto" | "text" | "json" | "hex". */
/** Bytes of one payload shown at most; the rest is summarised, so a huge value cannot stall the page. */
const SHOW_BYTES = 64 * 1024;

function render(b64, format) {
  const full = b64bytes(b64);
  if (full === null) return { text: null, kind: "null" };
  let end = full.length;
  if (end > SHOW_BYTES) {
    end = SHOW_BYTES;
    while (end > 0 && (full[end] & 0xc0) === 0x80) end--; // do not cut a UTF-8 character in two
  }
  const r = renderBytes(full.subarray(0, end), format);
  if (full.length > SHOW_BYTES) {
    r.note = `first ${fmtBytes(SHOW_BYTES)} of ${fmtBytes(full.length)}`;
    if (r.kind === "json") { r.kind = "text"; }
  }
  return r;
}

function renderBytes(bytes, format) {
  const text = asText(bytes);
  const asJson = () => {
    if (text === null) return null;
    const t = text.trim();
    if (!t) return null;
    try { return JSON.stringify(JSON.parse(t), null, 2); } catch (e) { return null; }
  };
  if (format === "hex") return { text: hexDump(bytes), kind: "hex" };
  if (format === "json") {
    const j = asJson();
    if (j !== null) return { text: j, kind: "json" };
    return text !== null ? { text, kind: "text", note: "not JSON" } : { text: hexDump(bytes), kind: "hex", note: "binary" };
  }
  if (format === "text") {
    return text !== null ? { text, kind: "text" } : { text: hexDump(bytes), kind: "hex", note: "not UTF-8" };
  }
  const t = text === null ? "" : text.trim();
  if (t.startsWith("{") || t.startsWith("[")) {
    const j = asJson();
    if (j !== null) return { text: j, kind: "json" };
  }
  if (text !== null && isPrintable(text)) return { text, kind: "text" };
  return { text: hexDump(bytes), kind: "hex" };
}

function shortText(b64) {
  const bytes = b64bytes(b64);
  if (bytes === null) return null;
  const t = asText(bytes);
  if (t !== null && isPrintable(t)) return t;
  return "0x" + Array.from(bytes.subarray(0, 32), (b) => b.toString(16).padStart(2, "0")).join("") + (bytes.length > 32 ? "…" : "");
}

// ---------------------------------------------------------------------------------------------
// Line chart (SVG). Series: [{name, color, points: [{t, v}]}]. Redrawn whole on each update:
// a few hundred points at most, so simplicity wins over diffing.

/** A round tick step so that `ticks` steps cover `max` (1, 2, 2.5, 5 times a power of ten). */
function niceStep(max, ticks, integer) {
  const raw = Math.max(max, 1e-9) / ticks;
  const exp = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = 10 * exp;
  for (const m of [1, 2, 2.5, 5]) if (m * exp >= raw) { step = m * exp; break; }
  return integer ? Math.max(1, Math.ceil(step)) : step;
}

function drawChart(box, series, opts) {
  const fmt = (opts && opts.format) || fmtRate;
  const W = Math.max(box.clientWidth, 300);
  const H = Math.max(box.clientHeight, 160);
  const m = { l: 58, r: 14, t: 12, b: 26 };
  const iw = W - m.l - m.r;
  const ih = H - m.t - m.b;
  const all = series.flatMap((se) => se.points);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": (opts && opts.label) || "chart" });
  // The plotted numbers, for tests and for anyone inspecting the page.
  svg.dataset.values = JSON.stringify(series.map((se) => se.points.map((p) => p.v)));
  svg.dataset.points = String(series.length ? series[0].points.length : 0);
  if (all.length === 0) {
    svg.appendChild(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "waiting" }, "Collecting samples…"));
    box.replaceChildren(svg);
    return;
  }
  let t0 = Math.min(...all.map((p) => p.t));
  let t1 = Math.max(...all.map((p) => p.t));
  if (t1 === t0) t0 = t1 - 1000;
  const ticks = 4;
  const step = niceStep(Math.max(...all.map((p) => p.v)) * 1.05, ticks, opts && opts.integer);
  const yMax = step * ticks;
  const x = (t) => m.l + ((t - t0) / (t1 - t0)) * iw;
  const y = (v) => m.t + ih - (v / yMax) * ih;
  for (let i = 0; i <= ticks; i++) {
    const v = step * i;
    const yy = y(v);
    svg.appendChild(s("line", { x1: m.l, x2: W - m.r, y1: yy, y2: yy, class: "grid-line" }));
    svg.appendChild(s("text", { x: m.l - 8, y: yy + 4, "text-anchor": "end", class: "axis-label" }, fmt(v)));
  }
  const xt = Math.min(5, Math.max(2, Math.floor(iw / 110)));
  let lastLabel = null;
  for (let i = 0; i <= xt; i++) {
    const t = t0 + ((t1 - t0) / xt) * i;
    if (fmtClock(t) === lastLabel) continue;
    lastLabel = fmtClock(t);
    svg.appendChild(s("text", { x: x(t), y: H - 6, "text-anchor": i === 0 ? "start" : i === xt ? "end" : "middle", class: "axis-label" }, fmtClock(t)));
  }
  const defs = s("defs");
  svg.appendChild(defs);
  series.forEach((se, idx) => {
    if (!se.points.length) return;
    const id = `grad-${idx}-${Math.random().toString(36).slice(2, 8)}`;
    defs.appendChild(s("linearGradient", { id, x1: 0, y1: 0, x2: 0, y2: 1 },
      s("stop", { offset: "0%", style: `stop-color:${se.color};stop-opacity:0.22` }),
      s("stop", { offset: "100%", style: `stop-color:${se.color};stop-opacity:0` })));
    const pts = se.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
    const first = se.points[0];
    const last = se.points[se.points.length - 1];
    svg.appendChild(s("path", {
      d: `M${x(first.t).toFixed(1)},${y(0)} L${pts.join(" L")} L${x(last.t).toFixed(1)},${y(0)} Z`,
      fill: `url(#${id})`, stroke: "none",
    }));
    svg.appendChild(s("path", { d: `M${pts.join(" L")}`, class: "line", style: `stroke:${se.color}` }));
    const dots = se.points.length <= 40 ? se.points : [last];
    for (const p of dots) {
      svg.appendChild(s("circle", { cx: x(p.t), cy: y(p.v), r: 3, class: "pt", style: `fill:${se.color}` },
        s("title", {}, `${se.name}: ${fmt(p.v)} at ${fmtClock(p.t)}`)));
    }
  });
  box.replaceChildren(svg);
}

function legend(series) {
  return h("div", { class: "legend" },
    series.map((se) => h("span", {}, h("i", { style: `background:${se.color}` }), se.name)));
}

// ---------------------------------------------------------------------------------------------
// Page scaffolding

const app = document.getElementById("app");

function setCrumbs(parts) {
  const nav = document.getElementById("crumbs");
  const items = [];
  parts.forEach((p, i) => {
    if (i > 0) items.push(h("span", { class: "sep" }, "/"));
    const last = i === parts.length - 1;
    items.push(last || !p.href ? h("span", { class: last ? "here" : "" }, p.label) : h("a", { href: p.href }, p.label));
  });
  nav.replaceChildren(...items);
}

function pageHead(title, sub, right) {
  return h("div", { class: "page-head" },
    h("div", {}, h("h1", {}, title), sub ? h("div", { class: "sub" }, sub) : null),
    right || null);
}

function statCard(label, value, foot, extra) {
  return h("div", Object.assign({ class: "card stat" }, extra || {}),
    h("div", { class: "label" }, label),
    h("div", { class: "value" }, value),
    foot ? h("div", { class: "foot" }, foot) : null);
}

function card(title, body, opts) {
  return h("section", { class: "card", id: opts && opts.id },
    h("div", { class: "card-head" }, h("h2", {}, title), (opts && opts.right) || null),
    body);
}

function table(columns, rows, emptyText) {
  if (!rows.length) return h("div", { class: "empty" }, emptyText || "Nothing here yet.");
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : "" }, c.label)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => {
      const v = c.cell(r);
      return h("td", { class: [c.num ? "num" : "", c.cls || ""].join(" ").trim() }, v);
    }))))));
}

function errorBox(err) {
  return h("div", { class: "alert" }, h("b", {}, "Could not load: "), String(err && err.message ? err.message : err));
}

// ---------------------------------------------------------------------------------------------
// Router. Each navigation gets a fresh context; its timers stop when the next one starts, so a
// page that is no longer shown never polls.

let current = null;

class PageContext {
  constructor() { this.timers = []; this.alive = true; }
  every(ms, fn) {
    const run = async () => {
      if (!this.alive) return;
      try { await fn(); } catch (e) { /* one failed poll is shown by fn; keep polling */ }
    };
    this.timers.push(setInterval(run, ms));
    document.getElementById("live").hidden = false;
  }
  stop() {
    this.alive = false;
    this.timers.forEach(clearInterval);
    document.getElementById("live").hidden = true;
  }
}

const routes = [
  [/^\/?$/, "overview", overviewPage],
  [/^\/topics\/?$/, "topics", topicsPage],
  [/^\/topics\/([^/]+)(?:\/(partitions|configs|messages))?\/?$/, "topics", topicPage],
  [/^\/groups\/?$/, "groups", groupsPage],
  [/^\/groups\/([^/]+)\/?$/, "groups", groupPage],
];

/**
 * Extra pages (e.g. the schema registry's subjects) plug in from their own script:
 *   Console.addNav("#/subjects", "Schemas", "schemas", svgPathData);   // icon optional
 *   Console.addRoute(/^\/subjects\/?$/, "schemas", async (ctx, query) => { ... });
 *   Console.refresh();   // re-route, in case the page was opened on one of the new URLs
 */
window.Console = {
  addRoute(re, nav, fn) { routes.push([re, nav, fn]); },
  addNav(href, label, key, iconPath) {
    const icon = iconPath ? s("svg", { viewBox: "0 0 24 24" }, s("path", { d: iconPath })) : null;
    document.getElementById("nav-extra").appendChild(h("a", { href, dataset: { nav: key } }, icon, label));
  },
  refresh() { navigate(); },
  show, errorBox, drawChart,
  h, api, card, table, pageHead, statCard, setCrumbs, fmtInt, fmtBytes, fmtTime,
};

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const qi = raw.indexOf("?");
  const path = qi >= 0 ? raw.slice(0, qi) : raw;
  const query = new URLSearchParams(qi >= 0 ? raw.slice(qi + 1) : "");
  return { path, query };
}

async function navigate() {
  if (current) current.stop();
  const ctx = new PageContext();
  current = ctx;
  const { path, query } = parseHash();
  let match = null;
  for (const [re, nav, fn] of routes) {
    const m = path.match(re);
    if (m) { match = { nav, fn, args: m.slice(1).map((a) => (a === undefined ? a : decodeURIComponent(a))) }; break; }
  }
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", !!match && a.dataset.nav === match.nav));
  app.replaceChildren(h("div", { class: "loading" }, "Loading…"));
  if (!match) {
    setCrumbs([{ label: "Not found" }]);
    app.replaceChildren(pageHead("Page not found"), h("p", {}, "No console page at ", h("code", {}, path), ". ", h("a", { href: "#/" }, "Back to the overview")));
    return;
  }
  try {
    await match.fn(ctx, ...match.args, query);
  } catch (e) {
    if (ctx.alive) app.replaceChildren(errorBox(e));
  }
}

/** Replaces the page body only if the user has not navigated away meanwhile. */
function show(ctx, ...nodes) {
  if (ctx.alive) app.replaceChildren(...nodes);
}

// ---------------------------------------------------------------------------------------------
// Overview

async function overviewPage(ctx) {
  setCrumbs([{ label: "Overview" }]);
  const [cluster, stats, topics] = await Promise.all([api("/v1/cluster"), api("/v1/stats"), api("/v1/topics")]);
  const brokers = cluster.brokers || [];
  const rates = { bin: h("span", {}, "—"), bout: h("span", {}, "—"), rin: h("span", {}, "—"), rout: h("span", {}, "—") };
  const counts = {
    topics: h("span", {}, fmtInt(stats.topics)),
    partitions: h("span", {}, fmtInt(stats.partitions)),
    groups: h("span", {}, fmtInt(stats.groups)),
    connections: h("span", {}, fmtInt(stats.connections)),
    disk: h("span", {}, fmtBytes(stats.disk_bytes)),
  };
  let unit = "bytes";
  const chartBox = h("div", { class: "chart", id: "throughput-chart" });
  const history = { t: [], bin: [], bout: [], rin: [], rout: [] };
  const series = () => {
    const pts = (key) => history.t.map((t, i) => ({ t, v: history[key][i] }));
    return unit === "bytes"
      ? [{ name: "In (MB/s)", color: "var(--series-1)", points: pts("bin") }, { name: "Out (MB/s)", color: "var(--series-2)", points: pts("bout") }]
      : [{ name: "In (msgs/s)", color: "var(--series-1)", points: pts("rin") }, { name: "Out (msgs/s)", color: "var(--series-2)", points: pts("rout") }];
  };
  const legendBox = h("div", {});
  const redraw = () => {
    const se = series();
    legendBox.replaceChildren(legend(se));
    drawChart(chartBox, se, { format: (v) => fmtRate(v, unit === "bytes" ? 2 : 0), label: "Throughput" });
  };
  const unitSeg = h("div", { class: "seg" },
    h("button", { type: "button", class: "on", onclick: (e) => { unit = "bytes"; segOn(e); redraw(); } }, "MB/s"),
    h("button", { type: "button", onclick: (e) => { unit = "records"; segOn(e); redraw(); } }, "msgs/s"));

  const topTopics = [...topics].filter((t) => !t.internal).sort((a, b) => (b.size_bytes || 0) - (a.size_bytes || 0)).slice(0, 6);

  show(ctx,
    pageHead("Overview", h("span", {}, "Cluster ", h("code", {}, cluster.cluster_id), cluster.version ? ` · Sluice ${cluster.version}` : "")),
    h("div", { class: "grid stats" },
      statCard("Brokers", h("span", { id: "broker-count" }, fmtInt(brokers.length)), `controller ${cluster.controller_id}`),
      statCard("Topics", counts.topics),
      statCard("Partitions", counts.partitions),
      statCard("Consumer groups", counts.groups),
      statCard("Connections", counts.connections),
      statCard("Disk used", counts.disk)),
    h("div", { class: "grid stats" },
      statCard("Bytes in", [rates.bin, h("small", {}, "MB/s")], null, { class: "card stat accent" }),
      statCard("Bytes out", [rates.bout, h("small", {}, "MB/s")], null, { class: "card stat accent" }),
      statCard("Messages in", [rates.rin, h("small", {}, "msgs/s")], null, { class: "card stat accent" }),
      statCard("Messages out", [rates.rout, h("small", {}, "msgs/s")], null, { class: "card stat accent" })),
    card("Throughput", h("div", { class: "card-body" }, legendBox, chartBox), { right: unitSeg, id: "throughput" }),
    h("div", { class: "grid two", style: "margin-top:16px" },
      card("Brokers", table([
        { label: "Node", cell: (b) => h("span", { class: "mono" }, String(b.node_id)) },
        { label: "Host", cell: (b) => b.host },
        { label: "Port", num: true, cell: (b) => String(b.port) },
        { label: "Role", cell: (b) => (b.node_id === cluster.controller_id ? h("span", { class: "badge" }, "controller") : h("span", { class: "badge plain" }, "broker")) },
      ], brokers, "No brokers reported.")),
      card("Largest topics", table([
        { label: "Topic", cls: "name", cell: (t) => h("a", { href: `#/topics/${enc(t.name)}` }, t.name) },
        { label: "Partitions", num: true, cell: (t) => fmtInt(t.partitions) },
        { label: "Records", num: true, cell: (t) => fmtInt(t.records) },
        { label: "Size", num: true, cell: (t) => fmtBytes(t.size_bytes) },
      ], topTopics, "No topics yet."), { right: h("a", { href: "#/topics", class: "hint" }, "All topics →") })));
  redraw();

  let prev = stats;
  const sample = async () => {
    const cur = await api("/v1/stats");
    if (!ctx.alive) return;
    const dt = (cur.ts_ms - prev.ts_ms) / 1000;
    if (dt > 0) {
      const rate = (k) => Math.max(0, (cur[k] - prev[k]) / dt);
      const v = { bin: rate("bytes_in_total") / 1e6, bout: rate("bytes_out_total") / 1e6, rin: rate("records_in_total"), rout: rate("records_out_total") };
      history.t.push(cur.ts_ms);
      for (const k of ["bin", "bout", "rin", "rout"]) history[k].push(v[k]);
      if (history.t.length > 150) for (const k of Object.keys(history)) history[k].shift();
      rates.bin.textContent = fmtRate(v.bin);
      rates.bout.textContent = fmtRate(v.bout);
      rates.rin.textContent = fmtRate(v.rin, 0);
      rates.rout.textContent = fmtRate(v.rout, 0);
      prev = cur;
    }
    counts.topics.textContent = fmtInt(cur.topics);
    counts.partitions.textContent = fmtInt(cur.partitions);
    counts.groups.textContent = fmtInt(cur.groups);
    counts.connections.textContent = fmtInt(cur.connections);
    counts.disk.textContent = fmtBytes(cur.disk_bytes);
    redraw();
  };
  ctx.every(2000, sample);
}

function segOn(e) {
  const btn = e.currentTarget;
  btn.parentElement.querySelectorAll("button").forEach((b) => b.classList.toggle("on", b === btn));
}

// ---------------------------------------------------------------------------------------------
// Topics

async function topicsPage(ctx, query) {
  setCrumbs([{ label: "Topics" }]);
  const topics = await api("/v1/topics");
  topics.sort((a, b) => a.name.localeCompare(b.name));
  let filter = query.get("q") || "";
  let internal = false;
  const body = h("div", {});
  const draw = () => {
    const rows = topics.filter((t) => (internal || !t.internal) && t.name.toLowerCase().includes(filter.toLowerCase()));
    body.replaceChildren(table([
      { label: "Name", cls: "name", cell: (t) => [h("a", { href: `#/topics/${enc(t.name)}` }, t.name), t.internal ? [" ", h("span", { class: "badge plain" }, "internal")] : null] },
      { label: "Partitions", num: true, cell: (t) => fmtInt(t.partitions) },
      { label: "Replication", num: true, cell: (t) => fmtInt(t.replication_factor) },
      { label: "Records", num: true, cell: (t) => fmtInt(t.records) },
      { label: "Size", num: true, cell: (t) => fmtBytes(t.size_bytes) },
    ], rows, filter ? "No topic matches the filter." : "No topics yet. Produce to a topic or create one with `sluice topic create`."));
  };
  const user = topics.filter((t) => !t.internal);
  const totalSize = user.reduce((a, t) => a + (t.size_bytes || 0), 0);
  const totalRecords = user.reduce((a, t) => a + (t.records || 0), 0);
  show(ctx,
    pageHead("Topics", `${fmtInt(user.length)} topics · ${fmtInt(user.reduce((a, t) => a + t.partitions, 0))} partitions · ${fmtInt(totalRecords)} records · ${fmtBytes(totalSize)}`),
    card("All topics", body, {
      right: h("div", { class: "toolbar" },
        h("label", { class: "check" }, h("input", { type: "checkbox", onchange: (e) => { internal = e.target.checked; draw(); } }), "Show internal"),
        h("input", { type: "search", placeholder: "Filter topics…", value: filter, "aria-label": "Filter topics", oninput: (e) => { filter = e.target.value; draw(); } })),
    }));
  draw();
}

async function topicPage(ctx, name, tab, query) {
  tab = tab || "partitions";
  const base = `#/topics/${enc(name)}`;
  setCrumbs([{ label: "Topics", href: "#/topics" }, { label: name }]);
  const t = await api(`/v1/topics/${enc(name)}`);
  const parts = t.partitions || [];
  const configs = t.configs || [];
  const records = parts.reduce((a, p) => a + Math.max(0, p.high_watermark - p.log_start_offset), 0);
  const size = parts.reduce((a, p) => a + (p.size_bytes || 0), 0);
  const segments = parts.reduce((a, p) => a + (p.segments || 0), 0);
  const overrides = configs.filter((c) => !c.is_default).length;
  const tabs = h("div", { class: "tabs" },
    h("a", { href: base, class: tab === "partitions" ? "on" : "" }, "Partitions", h("span", { class: "count" }, String(parts.length))),
    h("a", { href: `${base}/configs`, class: tab === "configs" ? "on" : "" }, "Configuration", h("span", { class: "count" }, String(overrides))),
    h("a", { href: `${base}/messages`, class: tab === "messages" ? "on" : "" }, "Messages"));
  let body;
  if (tab === "configs") body = configsTab(configs);
  else if (tab === "messages") body = messagesTab(ctx, t, query);
  else body = partitionsTab(t);
  show(ctx,
    pageHead(h("span", {}, t.name, t.internal ? [" ", h("span", { class: "badge plain" }, "internal")] : null),
      h("span", {}, "Topic id ", h("code", {}, t.topic_id || "—"))),
    h("div", { class: "grid stats" },
      statCard("Partitions", fmtInt(parts.length)),
      statCard("Records", fmtInt(records), "high watermark − log start"),
      statCard("Size on disk", fmtBytes(size)),
      statCard("Segments", fmtInt(segments))),
    tabs, body);
}

function partitionsTab(t) {
  const parts = t.partitions || [];
  const maxSize = Math.max(1, ...parts.map((p) => p.size_bytes || 0));
  return card("Partitions", table([
    { label: "Partition", cell: (p) => h("span", { class: "mono" }, String(p.partition)) },
    { label: "Leader", num: true, cell: (p) => String(p.leader) },
    { label: "Epoch", num: true, cell: (p) => String(p.leader_epoch) },
    { label: "Log start", num: true, cell: (p) => fmtInt(p.log_start_offset) },
    { label: "Last stable", num: true, cell: (p) => fmtInt(p.last_stable_offset) },
    { label: "High watermark", num: true, cell: (p) => fmtInt(p.high_watermark) },
    { label: "Log end", num: true, cell: (p) => fmtInt(p.log_end_offset) },
    { label: "Records", num: true, cell: (p) => fmtInt(Math.max(0, p.high_watermark - p.log_start_offset)) },
    { label: "Size", num: true, cls: "size-cell", cell: (p) => [fmtBytes(p.size_bytes), h("div", { class: "bar" }, h("i", { style: `width:${(100 * (p.size_bytes || 0)) / maxSize}%` }))] },
    { label: "Segments", num: true, cell: (p) => fmtInt(p.segments) },
    { label: "", cell: (p) => h("a", { href: `#/topics/${enc(t.name)}/messages?p=${p.partition}` }, "Browse →") },
  ], parts, "This topic has no partitions."));
}

function configsTab(configs) {
  let onlyOverrides = false;
  let filter = "";
  const body = h("div", {});
  const draw = () => {
    const rows = configs.filter((c) => (!onlyOverrides || !c.is_default) && c.name.includes(filter.toLowerCase()))
      .sort((a, b) => a.name.localeCompare(b.name));
    body.replaceChildren(table([
      { label: "Name", cls: "name", cell: (c) => h("span", { class: "mono" }, c.name) },
      { label: "Value", cell: (c) => (c.sensitive ? h("span", { class: "muted" }, "••••••") : c.value === null || c.value === undefined ? h("span", { class: "null" }, "null") : h("span", { class: "mono" }, String(c.value))) },
      { label: "Source", cell: (c) => h("span", { class: c.is_default ? "badge plain" : "badge" }, String(c.source || (c.is_default ? "default" : "override"))) },
      { label: "", cell: (c) => (c.read_only ? h("span", { class: "badge warn" }, "read-only") : null) },
    ], rows, "No configuration entries match."));
  };
  draw();
  return card("Configuration", body, {
    right: h("div", { class: "toolbar" },
      h("label", { class: "check" }, h("input", { type: "checkbox", onchange: (e) => { onlyOverrides = e.target.checked; draw(); } }), "Only overrides"),
      h("input", { type: "search", placeholder: "Filter configs…", "aria-label": "Filter configs", oninput: (e) => { filter = e.target.value; draw(); } })),
  });
}

// ---------------------------------------------------------------------------------------------
// Message browser

function messagesTab(ctx, topic, query) {
  const parts = topic.partitions || [];
  const state = {
    p: Number(query.get("p") || (parts[0] ? parts[0].partition : 0)),
    mode: query.has("ts") ? "timestamp" : "offset",
    offset: query.has("offset") ? Number(query.get("offset")) : null,
    ts: query.get("ts") || "",
    limit: Number(query.get("limit") || 50),
    fmt: query.get("fmt") || "auto",
  };
  let page = null;
  const result = h("div", { id: "messages" }, h("div", { class: "loading" }, "Loading…"));

  const partSel = h("select", { id: "msg-partition", "aria-label": "Partition" },
    parts.map((p) => h("option", { value: String(p.partition) }, `Partition ${p.partition}`)));
  partSel.value = String(state.p);
  const offsetIn = h("input", { type: "number", id: "msg-offset", min: 0, placeholder: "log start", style: "width:140px" });
  if (state.offset !== null) offsetIn.value = String(state.offset);
  const tsIn = h("input", { type: "datetime-local", id: "msg-ts", step: 1 });
  if (state.ts) tsIn.value = toLocalInput(Number(state.ts));
  const limitSel = h("select", { id: "msg-limit", "aria-label": "Limit" }, [20, 50, 100, 200, 500].map((n) => h("option", { value: String(n) }, `${n} records`)));
  limitSel.value = String(state.limit);
  const offsetField = h("div", { class: "field" }, h("label", { for: "msg-offset" }, "From offset"), offsetIn);
  const tsField = h("div", { class: "field" }, h("label", { for: "msg-ts" }, "From time"), tsIn);
  const modeSeg = h("div", { class: "seg" },
    h("button", { type: "button", class: state.mode === "offset" ? "on" : "", onclick: (e) => { state.mode = "offset"; segOn(e); syncMode(); } }, "Offset"),
    h("button", { type: "button", class: state.mode === "timestamp" ? "on" : "", onclick: (e) => { state.mode = "timestamp"; segOn(e); syncMode(); } }, "Timestamp"));
  const fmtSeg = h("div", { class: "seg", id: "msg-format" },
    ["auto", "text", "json", "hex"].map((f) => h("button", {
      type: "button", class: state.fmt === f ? "on" : "", dataset: { fmt: f },
      onclick: (e) => { state.fmt = f; segOn(e); syncUrl(); drawRecords(); },
    }, { auto: "Auto", text: "Text", json: "JSON", hex: "Hex" }[f])));
  const syncMode = () => { offsetField.hidden = state.mode !== "offset"; tsField.hidden = state.mode !== "timestamp"; };
  syncMode();

  const syncUrl = () => {
    const q = new URLSearchParams({ p: String(state.p) });
    if (state.mode === "timestamp" && state.ts) q.set("ts", String(state.ts));
    else if (state.offset !== null) q.set("offset", String(state.offset));
    if (state.limit !== 50) q.set("limit", String(state.limit));
    if (state.fmt !== "auto") q.set("fmt", state.fmt);
    history.replaceState(null, "", `#/topics/${enc(topic.name)}/messages?${q}`);
  };

  const load = async (from) => {
    state.p = Number(partSel.value);
    state.limit = Number(limitSel.value);
    const q = new URLSearchParams({ limit: String(state.limit) });
    if (from && from.offset !== undefined) {
      state.mode = "offset"; state.offset = from.offset; offsetIn.value = String(from.offset);
      modeSeg.querySelectorAll("button").forEach((b, i) => b.classList.toggle("on", i === 0)); syncMode();
    } else if (state.mode === "offset") {
      state.offset = offsetIn.value === "" ? null : Math.max(0, Math.floor(Number(offsetIn.value)));
    } else {
      const ms = tsIn.value ? new Date(tsIn.value).getTime() : NaN;
      state.ts = Number.isNaN(ms) ? "" : String(ms);
    }
    if (state.mode === "timestamp" && state.ts !== "") q.set("timestamp_ms", state.ts);
    else if (state.offset !== null) q.set("offset", String(state.offset));
    syncUrl();
    result.replaceChildren(h("div", { class: "loading" }, "Loading…"));
    try {
      page = await api(`/v1/topics/${enc(topic.name)}/partitions/${state.p}/records?${q}`);
      page.requested = state.mode === "offset" ? state.offset : null;
      if (ctx.alive) drawRecords();
    } catch (e) {
      page = null;
      if (ctx.alive) result.replaceChildren(errorBox(e));
    }
  };

  const payload = (b64, schema) => {
    if (b64 === null || b64 === undefined) return h("span", { class: "null" }, "null");
    // Registry-encoded (Confluent wire format): the broker decoded it with the schema. Text and
    // Hex still show the raw bytes.
    if (schema && (state.fmt === "auto" || state.fmt === "json")) {
      return [schemaTag(schema), schema.error
        ? [h("span", { class: "badge warn", style: "margin-bottom:4px" }, schema.error), h("pre", { class: "msg-value hex" }, render(b64, "hex").text)]
        : decodedView(schema.decoded)];
    }
    const r = render(b64, state.fmt);
    return [r.note ? h("span", { class: "badge warn", style: "margin-bottom:4px" }, r.note) : null,
      h("pre", { class: `msg-value ${r.kind}` }, r.text)];
  };

  const drawRecords = () => {
    if (!page) return;
    const recs = page.records;
    const first = recs.length ? recs[0].offset : null;
    const last = recs.length ? recs[recs.length - 1].offset : null;
    const limit = state.limit;
    const prevFrom = Math.max(page.log_start_offset, (first === null ? page.next_offset : first) - limit);
    const newest = Math.max(page.log_start_offset, page.high_watermark - limit);
    result.replaceChildren(
      table([
        { label: "Offset", cell: (r) => h("span", { class: "mono" }, fmtInt(r.offset)) },
        { label: "Timestamp", cls: "ts", cell: (r) => [fmtTime(r.timestamp), h("small", {}, `${fmtAgo(r.timestamp)} · ${r.timestamp_type}`)] },
        { label: "Key", cell: (r) => (r.key === null ? h("span", { class: "null" }, "null")
          : r.key_schema && r.key_schema.decoded !== undefined && state.fmt !== "hex" && state.fmt !== "text"
            ? [schemaTag(r.key_schema), h("span", { class: "msg-key" }, JSON.stringify(r.key_schema.decoded))]
            : h("span", { class: "msg-key" }, shortText(r.key))) },
        { label: "Value", cell: (r) => payload(r.value, r.value_schema) },
        { label: "Headers", cell: (r) => (r.headers.length ? h("div", { class: "headers" }, r.headers.map((hd) =>
          h("span", { class: "hdr" }, h("b", {}, hd.key), ": ", hd.value === null ? "null" : shortText(hd.value)))) : h("span", { class: "muted" }, "—")) },
      ], recs, page.high_watermark <= page.log_start_offset ? "This partition is empty." : "No records at or after this position."),
      h("div", { class: "pager" },
        h("span", {}, recs.length ? `Offsets ${fmtInt(first)}–${fmtInt(last)} · ` : "",
          `log start ${fmtInt(page.log_start_offset)} · high watermark ${fmtInt(page.high_watermark)}`),
        h("div", { class: "btns" },
          h("button", { class: "btn", type: "button", disabled: first === null ? null : first <= page.log_start_offset, onclick: () => load({ offset: page.log_start_offset }) }, "⇤ Oldest"),
          h("button", { class: "btn", type: "button", disabled: (first === null ? page.next_offset : first) <= page.log_start_offset, onclick: () => load({ offset: prevFrom }) }, "← Previous"),
          h("button", { class: "btn", type: "button", disabled: page.next_offset >= page.high_watermark, onclick: () => load({ offset: page.next_offset }) }, "Next →"),
          h("button", { class: "btn", type: "button", onclick: () => load({ offset: newest }) }, "Newest ⇥"))));
  };

  const form = h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); load(); } },
    h("div", { class: "field" }, h("label", { for: "msg-partition" }, "Partition"), partSel),
    h("div", { class: "field" }, h("label", {}, "Start at"), modeSeg),
    offsetField, tsField,
    h("div", { class: "field" }, h("label", { for: "msg-limit" }, "Show"), limitSel),
    h("button", { class: "btn primary", type: "submit", id: "msg-load" }, "Load"),
    h("div", { class: "field", style: "margin-left:auto" }, h("label", {}, "Value format"), fmtSeg));
  partSel.addEventListener("change", () => { offsetIn.value = ""; state.offset = null; load(); });
  load();
  return h("div", {}, h("section", { class: "card" }, h("div", { class: "card-body" }, form)),
    h("section", { class: "card", style: "margin-top:16px" }, result));
}

/** A decoded payload, pretty-printed; cut at SHOW_BYTES characters like raw payloads. */
function decodedView(value) {
  let text = JSON.stringify(value, null, 2);
  let note = null;
  if (text.length > SHOW_BYTES) {
    note = `first ${fmtBytes(SHOW_BYTES)} of ${fmtBytes(text.length)} of decoded JSON`;
    text = text.slice(0, SHOW_BYTES);
  }
  return [note ? h("span", { class: "badge warn", style: "margin-bottom:4px" }, note) : null,
    h("pre", { class: `msg-value ${note ? "text" : "json"} decoded` }, text)];
}

/** "schema id N (subject, version V)", linking to the subject page. */
function schemaTag(sc) {
  const [first] = sc.versions || [];
  const label = `schema id ${sc.schema_id}` + (first ? ` (${first[0]}, version ${first[1]})` : "");
  return h("div", { class: "schema-tag" },
    first ? h("a", { href: `#/schemas/${enc(first[0])}?v=${first[1]}` }, label) : label,
    " ", h("span", { class: "badge plain" }, sc.schema_type));
}

function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// ---------------------------------------------------------------------------------------------
// Consumer groups

async function groupsPage(ctx, query) {
  setCrumbs([{ label: "Consumer groups" }]);
  const groups = await api("/v1/groups");
  groups.sort((a, b) => a.group_id.localeCompare(b.group_id));
  let filter = query.get("q") || "";
  const body = h("div", {});
  const draw = () => {
    const rows = groups.filter((g) => g.group_id.toLowerCase().includes(filter.toLowerCase()));
    body.replaceChildren(table([
      { label: "Group", cls: "name", cell: (g) => h("a", { href: `#/groups/${enc(g.group_id)}` }, g.group_id) },
      { label: "State", cell: (g) => stateBadge(g.state) },
      { label: "Protocol type", cell: (g) => g.protocol_type || h("span", { class: "muted" }, "—") },
      { label: "Assignor", cell: (g) => g.protocol || h("span", { class: "muted" }, "—") },
      { label: "Members", num: true, cell: (g) => fmtInt(g.members) },
    ], rows, filter ? "No group matches the filter." : "No consumer groups yet."));
  };
  const byState = {};
  for (const g of groups) byState[g.state] = (byState[g.state] || 0) + 1;
  show(ctx,
    pageHead("Consumer groups", `${fmtInt(groups.length)} groups` + Object.entries(byState).map(([k, v]) => ` · ${v} ${k}`).join("")),
    card("All groups", body, {
      right: h("input", { type: "search", placeholder: "Filter groups…", value: filter, "aria-label": "Filter groups", oninput: (e) => { filter = e.target.value; draw(); } }),
    }));
  draw();
}

async function groupPage(ctx, id) {
  setCrumbs([{ label: "Consumer groups", href: "#/groups" }, { label: id }]);
  let g = await api(`/v1/groups/${enc(id)}`);
  const lagPoints = [];
  const totalLag = (grp) => (grp.total_lag !== undefined && grp.total_lag !== null ? grp.total_lag
    : (grp.offsets || []).reduce((a, o) => a + Math.max(0, o.lag || 0), 0));
  const stateBox = h("span", {});
  const membersVal = h("span", {});
  const lagVal = h("span", { id: "total-lag" });
  const partsVal = h("span", {});
  const chartBox = h("div", { class: "chart", id: "lag-chart" });
  const membersBody = h("div", {});
  const offsetsBody = h("div", {});
  const warn = h("div", {});

  const draw = () => {
    stateBox.replaceChildren(stateBadge(g.state));
    membersVal.textContent = fmtInt((g.members || []).length);
    const lag = totalLag(g);
    lagVal.textContent = fmtInt(lag);
    lagVal.dataset.value = String(lag);
    partsVal.textContent = fmtInt((g.offsets || []).length);
    drawChart(chartBox, [{ name: "Total lag", color: "var(--series-3)", points: lagPoints }],
      { format: (v) => fmtInt(Math.round(v)), label: "Total lag", integer: true });
    membersBody.replaceChildren(table([
      { label: "Member", cell: (m) => h("span", { class: "mono" }, m.member_id) },
      { label: "Client id", cell: (m) => m.client_id },
      { label: "Host", cell: (m) => m.host },
      { label: "Assigned partitions", cell: (m) => (m.assignments && m.assignments.length
        ? h("div", { class: "headers" }, m.assignments.map((a) => h("span", { class: "hdr" }, `${a.topic}-${a.partition}`)))
        : h("span", { class: "muted" }, "none")) },
    ], g.members || [], "No active members. Committed offsets are kept; lag grows while nobody consumes."));
    const offsets = [...(g.offsets || [])].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    const maxLag = Math.max(1, ...offsets.map((o) => o.lag || 0));
    offsetsBody.replaceChildren(table([
      { label: "Topic", cls: "name", cell: (o) => h("a", { href: `#/topics/${enc(o.topic)}` }, o.topic) },
      { label: "Partition", num: true, cell: (o) => String(o.partition) },
      { label: "Committed", num: true, cell: (o) => fmtInt(o.committed_offset) },
      { label: "Log end", num: true, cell: (o) => fmtInt(o.log_end_offset) },
      { label: "Lag", num: true, cell: (o) => h("span", { class: "lag", dataset: { topic: o.topic, partition: String(o.partition) } }, fmtInt(o.lag)) },
      { label: "", cell: (o) => h("div", { class: "bar" }, h("i", { style: `width:${(100 * Math.max(0, o.lag || 0)) / maxLag}%;background:var(--series-3)` })) },
      { label: "Time behind", num: true, cell: (o) => fmtDuration(o.lag_seconds) },
    ], offsets, "This group has no committed offsets."));
  };
  const sample = async () => {
    try {
      g = await api(`/v1/groups/${enc(id)}`);
      warn.replaceChildren();
    } catch (e) {
      if (ctx.alive) warn.replaceChildren(errorBox(e));
      return;
    }
    if (!ctx.alive) return;
    lagPoints.push({ t: Date.now(), v: totalLag(g) });
    if (lagPoints.length > 300) lagPoints.shift();
    draw();
  };
  lagPoints.push({ t: Date.now(), v: totalLag(g) });
  show(ctx,
    pageHead(h("span", {}, id), h("span", {}, "Protocol ", h("code", {}, g.protocol_type || "—"), g.protocol ? [" · assignor ", h("code", {}, g.protocol)] : null)),
    warn,
    h("div", { class: "grid stats" },
      statCard("State", stateBox),
      statCard("Members", membersVal),
      statCard("Total lag", lagVal, "records behind the high watermark", { class: "card stat accent" }),
      statCard("Partitions", partsVal, "with committed offsets")),
    card("Total lag", h("div", { class: "card-body" }, chartBox), { right: h("span", { class: "hint" }, "sampled every 2 s while this page is open") }),
    card("Members", membersBody),
    card("Offsets and lag", offsetsBody));
  draw();
  ctx.every(2000, sample);
}

// ---------------------------------------------------------------------------------------------
// Start-up

async function loadClusterInfo() {
  const box = document.getElementById("cluster-info");
  try {
    const c = await api("/v1/cluster");
    box.replaceChildren(h("div", {}, "Cluster ", h("b", {}, c.cluster_id)),
      h("div", {}, `${(c.brokers || []).length} broker${(c.brokers || []).length === 1 ? "" : "s"}`, c.version ? ` · v${c.version}` : ""));
  } catch (e) {
    box.replaceChildren(h("span", { class: "muted" }, "cluster unavailable"));
  }
}

document.getElementById("theme-toggle").addEventListener("click", () => {
  const root = document.documentElement;
  const dark = root.dataset.theme ? root.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  root.dataset.theme = dark ? "light" : "dark";
  try { localStorage.setItem("sluice-theme", root.dataset.theme); } catch (e) { /* storage disabled */ }
});

window.addEventListener("hashchange", navigate);
loadClusterInfo();
navigate();
