// SPDX-License-Identifier: MIT
// The live page: fetches api/v1/snapshot and redraws in place, every
// scan interval. No library, no network fetch beyond this exporter.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const PORTS = 65536;

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs, title) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (title) {
    const t = document.createElementNS(SVG, "title");
    t.textContent = title;
    e.appendChild(t);
  }
  return e;
}

// "8080,40000-40002" as [[8080, 8080], [40000, 40002]].
function ranges(list) {
  if (!list) return [];
  return list.split(",").map((item) => {
    const [a, b] = item.split("-").map(Number);
    return [a, b === undefined ? a : b];
  });
}

function duration(s) {
  if (s === null || s === undefined) return "\u2014";
  if (s < 1) return "now";
  const units = [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]];
  const out = [];
  for (const [n, u] of units) {
    if (s >= n && out.length < 2) {
      out.push(Math.floor(s / n) + u);
      s %= n;
    }
  }
  return out.join(" ");
}

function endpoint(addr, port) {
  return (addr.includes(":") ? "[" + addr + "]" : addr) + ":" + port;
}

// A strip of ports LO..HI, to scale: the privileged ports, the
// ephemeral range, reserved ports, listeners at risk, and below, other
// systems' ranges that overlap.
function band(ns, lo, hi, magnified) {
  const r = ns.ranges, w = hi - lo + 1;
  const s = svg("svg", { viewBox: lo + " 0 " + w + " 50",
    preserveAspectRatio: "none", class: magnified ? "zoom" : "full" });
  const priv = r.unprivileged_port_start || 1024;
  if (priv > lo) {
    s.appendChild(svg("rect", { x: lo, y: 6, width: Math.min(priv, hi + 1) - lo,
      height: 26, fill: "#b9c3ce", class: "priv" },
      "privileged: 0-" + (priv - 1)));
  }
  s.appendChild(svg("rect", { x: r.range.low, y: 6,
    width: r.range.high - r.range.low + 1, height: 26, fill: "#5aa0d0",
    class: "eph" },
    "ephemeral range " + r.range.low + "-" + r.range.high + " (" +
    r.range.size + " ports)"));
  // Thin marks stay visible at any width: at least 0.2 % of the strip.
  const minw = w / 500;
  for (const [a, b] of ranges(r.reserved.ports)) {
    if (b < lo || a > hi) continue;
    s.appendChild(svg("rect", { x: a, y: 6, width: Math.max(b - a + 1, minw),
      height: 26, fill: "#2f7d32", class: "reserved",
      "data-port": a, "data-last": b },
      "reserved " + (a === b ? a : a + "-" + b)));
  }
  for (const k of ns.audit ? ns.audit.at_risk : []) {
    if (k.port < lo || k.port > hi) continue;
    s.appendChild(svg("rect", { x: k.port - minw / 2, y: 0, width: minw,
      height: 38, fill: "#d9480f", class: "risk", "data-port": k.port },
      k.proto + " " + k.port + " at risk" +
      (k.owner && k.owner.command ? " (" + k.owner.command + ")" : "")));
  }
  let row = 0;
  for (const o of r.os || []) {
    if (!o.overlaps || o.legacy || o.high < lo || o.low > hi) continue;
    s.appendChild(svg("rect", { x: Math.max(o.low, lo), y: 38 + 4 * row,
      width: Math.min(o.high, hi) - Math.max(o.low, lo) + 1, height: 3,
      fill: "#9c6ade", class: "os" },
      o.label + " " + o.low + "-" + o.high + ": " + o.shared_ports +
      " ports shared"));
    row = (row + 1) % 3;
  }
  return s;
}

// Port numbers under a strip, as text that does not stretch.
function axis(lo, hi, ticks) {
  const a = el("div", { class: "axis" });
  for (const p of ticks) {
    const t = el("span", {}, String(p));
    t.style.left = (100 * (p - lo) / (hi - lo + 1)) + "%";
    a.appendChild(t);
  }
  return a;
}

// What the tracer's record adds to the numbers, or which could be off
// without it, as usage says it.
const DOUBTS = {
  "bound-first-or-accepted": "free ports may be counted too high: a " +
    "connection bound first (bind(0), then connect()) or accepted by a " +
    "listener since closed blocks its port for every destination, and " +
    "looks like any other",
  "time-wait-timestamps": "TIME_WAITs count as reusable by today's " +
    "tcp_timestamps, not by whether each connection used timestamps",
};

function historyText(h) {
  if (!h) return "";
  if (h.used) {
    const since = new Date(h.since);
    return "history since " + since.toLocaleTimeString([],
      { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }) +
      " (recorder pid " + h.recorder_pid + ")" +
      (h.complete ? "" : "; incomplete: some sockets are not in it");
  }
  const why = {
    stopped: "no history: its recorder stopped",
    "other-netns": "no history: the record is of another namespace",
    corrupt: "no history: the record was refused",
  }[h.state] || "no history ('ephport trace --record' or " +
    "'serve --trace' keeps it)";
  const doubts = (h.doubts || []).map((c) => DOUBTS[c] || c);
  return why + (doubts.length ? "; " + doubts.join("; ") : "");
}

// One namespace: the whole port space, then its ephemeral range magnified.
function strip(ns) {
  const r = ns.ranges;
  const box = el("div", { class: "strip" });
  const label = ns.label ? ns.label : "this host";
  box.setAttribute("data-netns", label);
  box.appendChild(el("div", { class: "label" }, label));
  box.appendChild(band(ns, 0, PORTS - 1, false));
  box.appendChild(axis(0, PORTS - 1, [0, 16384, 32768, 49152]));
  box.appendChild(el("div", { class: "sub" }, "the ephemeral range " +
    r.range.low + "\u2013" + r.range.high + ", magnified"));
  box.appendChild(band(ns, r.range.low, r.range.high, true));
  box.appendChild(axis(r.range.low, r.range.high, [r.range.low,
    Math.round((r.range.low + r.range.high) / 2)]));
  box.appendChild(el("div", { class: "sub history",
    "data-history": ns.history ? ns.history.state : "" },
    historyText(ns.history)));
  const over = (r.os || []).filter((o) => o.overlaps && !o.legacy)
    .map((o) => o.label + " " + o.low + "\u2013" + o.high);
  if (over.length) {
    box.appendChild(el("div", { class: "sub" },
      "overlapping other systems' ranges: " + over.join(", ")));
  }
  return box;
}

function rateText(f) {
  if (!f || f.samples < 2) return "\u2014";
  // Free ports per second: negative while they are being used up.
  return (f.rate > 0 ? "\u2212" : "+") + Math.abs(f.rate).toFixed(1) + "/s";
}

function render(snap) {
  const many = snap.namespaces.length > 1 || snap.namespaces.some((n) => n.spec);
  document.getElementById("where").textContent =
    snap.netns ? "netns " + snap.netns : (many ? "every namespace" : "");
  const when = new Date(snap.time * 1000);
  const status = document.getElementById("status");
  status.textContent = "scan " + snap.scans + " at " +
    when.toLocaleTimeString() + " took " +
    (snap.scan_seconds * 1000).toFixed(1) + " ms; every " + snap.interval +
    " s";
  status.className = "";

  const strips = document.getElementById("strips");
  strips.replaceChildren();
  const risks = document.getElementById("risks");
  risks.replaceChildren();
  for (const ns of snap.namespaces) {
    if (ns.error) {
      strips.appendChild(el("p", {}, (ns.label || "this host") +
        ": not read: " + ns.error.message));
      continue;
    }
    strips.appendChild(strip(ns));
    for (const k of ns.audit ? ns.audit.at_risk : []) {
      risks.appendChild(el("li", {}, (many ? ns.label + ": " : "") +
        k.proto + " " + k.port + " \u2014 " + k.reason +
        (k.owner && k.owner.command ? " (" + k.owner.command + ")" : "")));
    }
  }
  if (!risks.children.length) risks.appendChild(el("li", {}, "none"));

  const table = document.getElementById("dests");
  table.className = many ? "" : "single";
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const t of snap.tuples) {
    const tr = el("tr", { "data-remote": endpoint(t.remote, t.remote_port),
      "data-used": t.used });
    tr.appendChild(el("td", { class: "ns" }, t.netns || ""));
    tr.appendChild(el("td", {}, endpoint(t.remote, t.remote_port)));
    tr.appendChild(el("td", {}, t.local));
    const bar = el("td");
    const fill = el("div", { class: "fill " + t.level });
    const inner = el("div");
    inner.style.width = Math.min(100, t.percent) + "%";
    fill.appendChild(inner);
    fill.appendChild(el("span", {}, t.used + " / " + t.capacity + " (" +
      t.percent.toFixed(1) + "%)"));
    bar.appendChild(fill);
    tr.appendChild(bar);
    tr.appendChild(el("td", { class: "num" }, String(t.free)));
    tr.appendChild(el("td", { class: "num" }, rateText(t.forecast)));
    tr.appendChild(el("td", { class: "num" },
      t.forecast ? duration(t.forecast.seconds_left) : "\u2014"));
    tr.appendChild(el("td", { class: "num" },
      t.forecast ? String(t.forecast.opened) : "\u2014"));
    body.appendChild(tr);
  }
  if (!snap.tuples.length) {
    const tr = el("tr");
    tr.appendChild(el("td", { colspan: 8 },
      "No TCP connection uses a port of the range."));
    body.appendChild(tr);
  }
  const o = snap.other;
  document.getElementById("other").textContent = o.destinations
    ? o.destinations + " more destinations, " + o.used +
      " ports in use, the fullest " + o.max_percent.toFixed(1) + "% used"
    : "";
  return snap.interval;
}

async function refresh() {
  let next = 15;
  try {
    const res = await fetch("api/v1/snapshot", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    next = render(await res.json()) || next;
  } catch (e) {
    const status = document.getElementById("status");
    status.textContent = "not refreshed: " + e.message;
    status.className = "stale";
  }
  setTimeout(refresh, Math.max(1, next) * 1000);
}

refresh();
