// One console in a terminal: /consoles/NAME/ws streams the end of its log,
// then its live output, as binary messages; in join or force mode the
// keystrokes go back. The terminal is xterm.js (Debian's node-xterm,
// bundled at build time and served by conmand itself).
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const name = params.get("name") || "";
const mode = ["join", "force"].includes(params.get("mode")) ? params.get("mode") : "monitor";

let term = null, ws = null, opened = false;

function status(text, cls) {
  const s = $("status");
  s.textContent = text;
  s.className = cls || "";
}

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  return scheme + location.host + "/consoles/" + encodeURIComponent(name) + "/ws" +
         (mode === "monitor" ? "" : "?mode=" + mode);
}

// A refused upgrade reaches a page only as code 1006; the same URL fetched
// without the upgrade says why (403: joining is off; 401: no token).
async function whyRefused() {
  try {
    const r = await fetch(wsUrl().replace(/^ws/, "http"), { cache: "no-store" });
    if (r.status === 403 || r.status === 401) return (await r.text()).trim();
  } catch (e) { /* the server is gone: said below */ }
  return "the server closed the connection";
}

function connect() {
  const decoder = new TextDecoder("utf-8");
  ws = new WebSocket(wsUrl());
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    opened = true;
    status(mode === "monitor" ? "monitoring (read-only)" : mode === "join" ? "joined: typing goes to the console"
                                                           : "forced: typing goes to the console", "up");
  };
  ws.onmessage = (e) => {
    if (typeof e.data === "string") return;
    term.write(decoder.decode(new Uint8Array(e.data), { stream: true }));
  };
  ws.onclose = async (e) => {
    if (!opened) {
      status("refused: " + await whyRefused(), "down");
      return;
    }
    status("closed" + (e.reason ? ": " + e.reason : " (code " + e.code + ")"), "down");
  };
}

function start() {
  $("name").textContent = name;
  document.title = name + " - conmand";
  for (const m of ["monitor", "join", "force"]) {
    const b = $(m);
    if (m === mode) b.classList.add("active");
    b.addEventListener("click", () => {
      const p = new URLSearchParams({ name: name });
      if (m !== "monitor") p.set("mode", m);
      location.search = p.toString();
    });
  }
  term = new Xterm.Terminal({ scrollback: 10000, cursorBlink: mode !== "monitor" });
  window.conmanTerm = term;  // for tests and the curious: the terminal's buffer
  term.open($("terminal"));
  const encoder = new TextEncoder();
  term.on("data", (d) => {
    if (mode !== "monitor" && ws && ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(d));
  });
  term.focus();
  connect();
}

document.addEventListener("DOMContentLoaded", start);
