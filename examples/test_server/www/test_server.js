// The demo page's script: one WebSocket per libwebsockets test protocol (served as a file of its own).
"use strict";
const endpoint = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/";

// Opens one protocol's socket and keeps its status element (text and
// data-state, which the tests read) up to date.
function openProtocol(protocol, statusId, onMessage) {
  const status = document.getElementById(statusId);
  const show = (state, text) => { status.dataset.state = state; status.textContent = text; };
  let socket;
  try {
    socket = new WebSocket(endpoint, protocol);
  } catch (error) {
    show("closed", "cannot connect: " + error.message);
    return null;
  }
  socket.onopen = () => show("open", "connected");
  socket.onmessage = (event) => onMessage(event.data);
  socket.onclose = (event) => show("closed", "closed (" + event.code + (event.reason ? " " + event.reason : "") + ")");
  return socket;
}

// --- dumb-increment-protocol: the server counts, we show it ---
const counter = document.getElementById("increment-value");
const increment = openProtocol("dumb-increment-protocol", "increment-status", (data) => { counter.textContent = data; });
const sendIfOpen = (socket, text) => { if (socket && socket.readyState === WebSocket.OPEN) socket.send(text); };
document.getElementById("increment-reset").onclick = () => sendIfOpen(increment, "reset\n");
document.getElementById("increment-closeme").onclick = () => sendIfOpen(increment, "closeme\n");

// --- lws-mirror-protocol: strokes go to the server and are drawn when they come back ---
// Messages are "d #rrggbb x1 y1 x2 y2;" (a segment, from this page) and
// "c #rrggbb x y r;" (a circle, from libwebsockets' test client); one
// message may hold several.
const canvas = document.getElementById("mirror-canvas");
const pen = canvas.getContext("2d");
const received = document.getElementById("mirror-count");
const colour = "#" + Math.floor(Math.random() * 0xffffff).toString(16).padStart(6, "0");
document.getElementById("mirror-swatch").style.background = colour;
let segments = 0;

function draw(command) {
  const [kind, style, ...numbers] = command.trim().split(/\s+/);
  const n = numbers.map(Number);
  if (!/^#[0-9a-fA-F]{6}$/.test(style || "") || n.some((v) => !Number.isFinite(v))) return false;
  pen.strokeStyle = style;
  pen.lineWidth = 2;
  pen.beginPath();
  if (kind === "d" && n.length === 4) {
    pen.moveTo(n[0], n[1]);
    pen.lineTo(n[2], n[3]);
  } else if (kind === "c" && n.length === 3) {
    pen.arc(n[0], n[1], n[2], 0, 2 * Math.PI);
  } else {
    return false;
  }
  pen.stroke();
  return true;
}

const mirror = openProtocol("lws-mirror-protocol", "mirror-status", (data) => {
  if (typeof data !== "string") return;
  for (const command of data.split(";")) if (draw(command)) segments++;
  received.textContent = String(segments);
  canvas.dataset.segments = String(segments);
});

// Pointer events cover the mouse, pens and touch.
let last = null;
function canvasPoint(event) {
  const box = canvas.getBoundingClientRect();
  return {
    x: Math.round((event.clientX - box.left) * canvas.width / box.width),
    y: Math.round((event.clientY - box.top) * canvas.height / box.height),
  };
}
canvas.addEventListener("pointerdown", (event) => {
  last = canvasPoint(event);
  canvas.setPointerCapture(event.pointerId);
});
canvas.addEventListener("pointermove", (event) => {
  if (last === null) return;
  const point = canvasPoint(event);
  if (point.x === last.x && point.y === last.y) return;
  sendIfOpen(mirror, "d " + colour + " " + last.x + " " + last.y + " " + point.x + " " + point.y + ";");
  last = point;
});
const stopDrawing = () => { last = null; };
canvas.addEventListener("pointerup", stopDrawing);
canvas.addEventListener("pointercancel", stopDrawing);
document.getElementById("mirror-clear").onclick = () => pen.clearRect(0, 0, canvas.width, canvas.height);

// --- lws-status: the server's list of connections ---
const rows = document.getElementById("status-rows");
const count = document.getElementById("status-count");
let connections = [];

function duration(since) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
  return seconds < 60 ? seconds + " s" : Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
}

function showConnections() {
  rows.replaceChildren(...connections.map((c) => {
    const row = document.createElement("tr");
    for (const [text, className] of [[c.server ?? ""], [c.protocol], [c.remote], [duration(c.connectedAt)], [c.userAgent, "agent"]]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (className) { cell.className = className; cell.title = text; }
      row.append(cell);
    }
    return row;
  }));
  count.textContent = String(connections.length);
}

openProtocol("lws-status", "status-status", (data) => {
  connections = JSON.parse(data).connections;
  showConnections();
});
setInterval(showConnections, 1000); // the "connected for" column
