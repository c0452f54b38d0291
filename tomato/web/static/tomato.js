// What every page of tomato's shares: asking the API (the login cookie goes along), making
// elements, and following the service's events (pushed: the page never polls).
"use strict";

async function api(path, options) {
  const reply = await fetch(path, Object.assign({credentials: "same-origin"}, options || {}));
  const json = (reply.headers.get("content-type") || "").startsWith("application/json");
  const body = json ? await reply.json() : await reply.text();
  if (!reply.ok) {
    throw new Error(json && body.error ? body.error : `${reply.status} ${reply.statusText}`);
  }
  return body;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

function shown(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

function statusCell(status) {
  return el("span", {class: `st-${status}`}, status);
}

function showError(error) {
  const box = document.getElementById("error");
  box.textContent = String(error.message || error);
  box.hidden = false;
}

// Follow the service's events: `onRecord(record)` for each; the header says whether the
// page is live. The browser reconnects by itself; `onConnect()` after each (re)connection,
// to load what may have been missed meanwhile.
function follow(path, onRecord, onConnect) {
  const live = document.getElementById("live");
  const source = new EventSource(path);
  source.onopen = () => { live.textContent = "● live"; onConnect(); };
  source.onerror = () => { live.textContent = "○ reconnecting…"; };
  source.onmessage = (message) => onRecord(JSON.parse(message.data));
  return source;
}

// Call `fn` once shortly after the last of a burst of calls.
function debounced(fn, ms) {
  let timer = null;
  return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
}
