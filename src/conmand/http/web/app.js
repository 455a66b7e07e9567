// The console list: /consoles fetched every few seconds, filtered, sorted,
// and only the rows in view put in the page (10,000 consoles are one
// array here, some thirty elements in the document).
"use strict";

const ROW_PX = 22;
const POLL_MS = 5000;
let consoles = [];   // the last /consoles answer
let shown = [];      // filtered and sorted
let sortKey = "name";
let sortDesc = false;
let fetchedAt = null;
let error = null;

const $ = (id) => document.getElementById(id);
// Names in the order an admin reads them: x1000c0s2 before x1000c0s10.
const collator = new Intl.Collator(undefined, { numeric: true });

// "x1000c*n0" is a glob (whole name); anything else a substring.
function matcher(text) {
  const t = text.trim();
  if (!t) return () => true;
  if (!/[*?[]/.test(t)) {
    const low = t.toLowerCase();
    return (name) => name.toLowerCase().includes(low);
  }
  let re = "^";
  for (const ch of t) {
    if (ch === "*") re += ".*";
    else if (ch === "?") re += ".";
    else if (ch === "[" || ch === "]") re += ch;
    else re += ch.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  try {
    const r = new RegExp(re + "$", "i");
    return (name) => r.test(name);
  } catch (e) {
    return () => false;
  }
}

function ago(iso, now) {
  if (!iso) return "";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return s + "s ago";
  if (s < 7200) return Math.round(s / 60) + "m ago";
  if (s < 172800) return Math.round(s / 3600) + "h ago";
  return Math.round(s / 86400) + "d ago";
}

function stateText(c, now) {
  if (c.state === "remote") return "remote (" + (c.owner || "?") + ")";
  if (c.state === "down") return "down since " + ago(c.since, now).replace(" ago", "");
  return c.state;
}

function sortValue(c, key) {
  if (key === "last_output") return c.last_output ? Date.parse(c.last_output) : 0;
  if (key === "last_event") return c.last_event ? Date.parse(c.last_event.time) : 0;
  if (key === "clients") return c.clients;
  return String(c[key] || "");
}

// For the benchmark (bench/webpage.py): when the first list was on
// screen, and how long the last filter and sort took, in ms.
function timed(name, t0) {
  document.documentElement.dataset[name] = (performance.now() - t0).toFixed(1);
}

function refilter() {
  const t0 = performance.now();
  const keep = matcher($("filter").value);
  shown = consoles.filter((c) => keep(c.name));
  shown.sort((a, b) => {
    const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
    const d = (typeof x === "string" ? collator.compare(x, y) : x - y) ||
              collator.compare(a.name, b.name);
    return sortDesc ? -d : d;
  });
  for (const h of document.querySelectorAll("#head span")) {
    h.classList.toggle("sorted", h.dataset.key === sortKey);
    h.classList.toggle("desc", h.dataset.key === sortKey && sortDesc);
  }
  $("rows").style.height = shown.length * ROW_PX + "px";
  render();
  status();
  timed("refilterMs", t0);
  if (fetchedAt && !document.documentElement.dataset.firstListMs)
    timed("firstListMs", 0);  // since the navigation began
}

function status() {
  const count = { up: 0, down: 0, connecting: 0, remote: 0 };
  for (const c of consoles) count[c.state] = (count[c.state] || 0) + 1;
  let s = consoles.length + " consoles, " + shown.length + " shown: " + count.up + " up, " +
          count.down + " down, " + count.connecting + " connecting";
  if (count.remote) s += ", " + count.remote + " remote";
  if (fetchedAt) s += "; updated " + fetchedAt.toLocaleTimeString();
  if (error) s += "; " + error;
  $("status").textContent = s;
}

function cell(row, text, cls) {
  const span = document.createElement("span");
  span.textContent = text;  // never markup: names and errors are the consoles' text
  if (cls) span.className = cls;
  row.appendChild(span);
  return span;
}

// Only the rows in view (and a screen's worth around them) exist.
function render() {
  const list = $("list"), rows = $("rows");
  const first = Math.max(0, Math.floor(list.scrollTop / ROW_PX) - 10);
  const last = Math.min(shown.length, first + Math.ceil(list.clientHeight / ROW_PX) + 20);
  const now = Date.now();
  const frag = document.createDocumentFragment();
  for (let i = first; i < last; i++) {
    const c = shown[i];
    const row = document.createElement("div");
    row.className = "row";
    row.setAttribute("role", "row");
    row.dataset.name = c.name;
    row.style.top = i * ROW_PX + "px";
    const link = document.createElement("a");
    link.href = "/console.html?name=" + encodeURIComponent(c.name);
    link.textContent = c.name;
    cell(row, "").appendChild(link);
    const st = cell(row, stateText(c, now), c.state);
    if (c.last_error) st.title = c.last_error;
    cell(row, c.type || "");
    cell(row, ago(c.last_output, now));
    cell(row, c.state === "remote" ? "" : String(c.clients));
    const ev = c.last_event;
    cell(row, ev ? ev.rule + " " + ago(ev.time, now) : "", ev ? "ev-" + ruleClass(ev.rule) : "");
    frag.appendChild(row);
  }
  rows.replaceChildren(frag);
}

// Severity is not in /consoles' last_event; colour the well-known rules.
function ruleClass(rule) {
  if (/panic|oops|machine_check|hard_lockup/.test(rule)) return "critical";
  if (/boot|login/.test(rule)) return "info";
  return "warning";
}

let fetching = false;
async function poll() {
  if (fetching) return;
  fetching = true;
  try {
    const r = await fetch("/consoles", { cache: "no-store" });
    if (!r.ok) throw new Error("/consoles answered " + r.status);
    consoles = await r.json();
    fetchedAt = new Date();
    error = null;
  } catch (e) {
    error = String(e.message || e);
  } finally {
    fetching = false;
  }
  refilter();
}

document.addEventListener("DOMContentLoaded", () => {
  $("filter").addEventListener("input", refilter);
  $("list").addEventListener("scroll", render, { passive: true });
  window.addEventListener("resize", render);
  for (const h of document.querySelectorAll("#head span")) {
    h.addEventListener("click", () => {
      sortDesc = sortKey === h.dataset.key ? !sortDesc : false;
      sortKey = h.dataset.key;
      refilter();
    });
  }
  poll();
  setInterval(poll, POLL_MS);
});
