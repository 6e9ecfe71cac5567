// callscribe agent page: sign-in, live list of calls, live transcript of one call.
// No inline script (the Content-Security-Policy forbids it); server text is only ever put
// into the page as text nodes, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const KIND_NAMES = {
  name: "Person name", phone: "Phone number", card: "Payment card number", card_expiry: "Card expiry date",
  cvv: "Card security code", bank_account: "Bank account number", ifsc: "IFSC code", sort_code: "Sort code",
  iban: "IBAN", swift: "SWIFT/BIC code", aadhaar: "Aadhaar number", pan: "PAN", gstin: "GSTIN", upi: "UPI ID",
  voter_id: "Voter ID", passport: "Passport number", ssn: "US Social Security number", itin: "US ITIN",
  email: "E-mail address", date_of_birth: "Date of birth", address: "Street address", postcode: "PIN/ZIP/postcode",
  otp: "One-time password", pin: "PIN", ip_address: "IP address", id_number: "Identity number",
};

const state = {
  me: null,
  live: null,          // WebSocket of the tenant's live calls
  liveRetry: 0,
  active: new Map(),   // call_id -> {provider, tracks, started_at}
  call: null,          // the open call view
  ticker: null,
};

function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [k, v] = part.trim().split("=");
    if (k === "callscribe_csrf" || k === "__Host-callscribe_csrf") return v || "";
  }
  return "";
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (method !== "GET") opts.headers["X-CSRF-Token"] = csrfToken();
  const res = await fetch(path, opts);
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch (_) { data = null; }
  }
  if (res.status === 401 && path !== "/v1/session") showSignIn("Your session has ended. Sign in again.");
  return { ok: res.ok, status: res.status, data };
}

function wsUrl(path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

function fmtClock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
}

function fmtDuration(secs) {
  secs = Math.max(0, Math.floor(secs));
  const h = Math.floor(secs / 3600), m = Math.floor((secs % 3600) / 60), s = secs % 60;
  return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(s).padStart(2, "0");
}

function fmtTime(unix) {
  return new Date(unix * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function speakerLabel(speaker, track) {
  if (speaker === "caller") return "Caller";
  if (speaker === "agent") return "Agent";
  return "Speaker " + (track + 1);
}

// ---- sign-in -------------------------------------------------------------------------

function showSignIn(message) {
  closeAll();
  state.me = null;
  $("app").hidden = true;
  $("signout").hidden = true;
  $("who").textContent = "";
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
  $("key").focus();
}

async function showApp(me) {
  state.me = me;
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  $("who").textContent = me.role + " · workspace " + me.tenant;
  openLiveList();
  loadRecent();
  if (!state.ticker) state.ticker = setInterval(tick, 1000);
  const wanted = location.hash.startsWith("#call=") ? decodeURIComponent(location.hash.slice(6)) : null;
  if (wanted) openCall(wanted);
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const key = $("key").value.trim();
  $("signin-error").textContent = "";
  const r = await api("POST", "/v1/session", { key });
  $("key").value = "";
  if (r.ok) {
    showApp(r.data);
  } else {
    const retry = r.status === 429 ? " Wait a little before trying again." : "";
    $("signin-error").textContent = ((r.data && r.data.error && r.data.error.message) || "Sign-in failed.") + retry;
  }
});

$("signout").addEventListener("click", async () => {
  await api("DELETE", "/v1/session");
  location.hash = "";
  showSignIn("Signed out.");
});

function closeAll() {
  if (state.live) { state.live.onclose = null; state.live.close(); state.live = null; }
  if (state.call) closeCall();
}

// ---- call lists -----------------------------------------------------------------------

function openLiveList() {
  const ws = new WebSocket(wsUrl("/v1/calls/live"));
  state.live = ws;
  ws.onopen = () => { state.liveRetry = 0; state.active.clear(); renderActive(); $("list-status").textContent = ""; };
  ws.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (_) { return; }
    if (ev.type === "call_started") {
      state.active.set(ev.call_id, ev);
      renderActive();
    } else if (ev.type === "call_ended") {
      state.active.delete(ev.call_id);
      renderActive();
      loadRecent();
    }
  };
  ws.onclose = () => {
    if (state.live !== ws || !state.me) return;
    state.live = null;
    $("list-status").textContent = "Reconnecting to the call list…";
    const delay = Math.min(10000, 500 * 2 ** state.liveRetry++);
    setTimeout(async () => {
      if (!state.me) return;
      const me = await api("GET", "/v1/session");
      if (me.ok) openLiveList();
    }, delay);
  };
}

function callButton(id, title, meta, live) {
  const li = document.createElement("li");
  const b = document.createElement("button");
  b.type = "button";
  b.dataset.callId = id;
  const t = document.createElement("span");
  if (live) {
    const dot = document.createElement("span");
    dot.className = "live-dot";
    dot.setAttribute("aria-hidden", "true");
    t.appendChild(dot);
  }
  t.appendChild(document.createTextNode(title));
  const m = document.createElement("span");
  m.className = "meta";
  m.textContent = meta;
  b.append(t, m);
  if (state.call && state.call.id === id) b.setAttribute("aria-current", "true");
  b.addEventListener("click", () => openCall(id));
  li.appendChild(b);
  return li;
}

function renderActive() {
  const ul = $("active-calls");
  ul.replaceChildren();
  const calls = [...state.active.values()].sort((a, b) => a.started_at - b.started_at);
  for (const c of calls) {
    const li = callButton(c.call_id, c.provider + " call", "", true);
    li.querySelector(".meta").dataset.started = c.started_at;
    li.querySelector(".meta").dataset.tracks = c.tracks.join(" + ");
    ul.appendChild(li);
  }
  $("active-count").textContent = calls.length ? "(" + calls.length + ")" : "";
  $("no-active").hidden = calls.length > 0;
  tick();
}

function tick() {
  const now = Date.now() / 1000;
  for (const m of document.querySelectorAll("#active-calls .meta")) {
    const started = Number(m.dataset.started);
    m.textContent = "since " + fmtTime(started) + " · " + fmtDuration(now - started) + " · " + m.dataset.tracks;
  }
}

async function loadRecent() {
  const r = await api("GET", "/v1/calls?state=ended&limit=20");
  if (!r.ok) return;
  const ul = $("recent-calls");
  ul.replaceChildren();
  for (const c of r.data.calls) {
    const dur = c.ended_at ? " · " + fmtDuration(c.ended_at - c.started_at) : "";
    ul.appendChild(callButton(c.id, c.provider + " call", fmtTime(c.started_at) + dur + " · " + c.segments + " segments", false));
  }
}

// ---- one call ---------------------------------------------------------------------------

function closeCall() {
  const c = state.call;
  if (!c) return;
  c.closed = true;
  if (c.ws) { c.ws.onclose = null; c.ws.close(); }
  clearTimeout(c.retryTimer);
  state.call = null;
}

function openCall(id) {
  closeCall();
  state.call = { id, ws: null, lastSeq: null, lines: new Map(), ended: false, retry: 0, stick: true, closed: false };
  location.hash = "call=" + encodeURIComponent(id);
  for (const b of document.querySelectorAll(".call-list button")) {
    if (b.dataset.callId === id) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
  }
  $("call-title").textContent = "Call " + id;
  $("transcript").replaceChildren();
  $("search").disabled = false;
  $("search").value = "";
  $("search-count").textContent = "";
  $("jump-live").hidden = true;
  connectCall(state.call);
}

function setCallState(text, cls) {
  const s = $("call-state");
  s.textContent = text;
  s.className = "state " + (cls || "");
}

function connectCall(c) {
  const after = c.lastSeq === null ? "" : "?after=" + c.lastSeq;
  const ws = new WebSocket(wsUrl("/v1/calls/" + encodeURIComponent(c.id) + "/events" + after));
  c.ws = ws;
  let opened = false;
  ws.onopen = () => {
    opened = true;
    c.retry = 0;
    // provisional lines from before a reconnect may have been finalised meanwhile: the
    // server resends what is still provisional, and the finals from the store
    for (const li of document.querySelectorAll("#transcript li.interim")) li.remove();
    c.lines.clear();
    if (!c.ended) setCallState("Live", "live");
  };
  ws.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (_) { return; }
    onCallEvent(c, ev);
  };
  ws.onclose = async () => {
    if (c.closed || state.call !== c || c.ended) return;
    setCallState("Reconnecting…", "reconnecting");
    if (!opened) {
      const me = await api("GET", "/v1/session");
      if (!me.ok) return;
      if (me.status === 200 && c.retry > 3) {
        const probe = await api("GET", "/v1/calls/" + encodeURIComponent(c.id));
        if (probe.status === 404) { setCallState("Call not found", "ended"); return; }
      }
    }
    const delay = Math.min(8000, 300 * 2 ** c.retry++);
    c.retryTimer = setTimeout(() => { if (state.call === c) connectCall(c); }, delay);
  };
}

function onCallEvent(c, ev) {
  if (ev.type === "transcript") {
    if (ev.is_final && ev.seq !== undefined) {
      if (c.lastSeq !== null && ev.seq <= c.lastSeq) return; // already shown
      c.lastSeq = ev.seq;
    }
    const key = ev.track + ":" + ev.segment_id;
    let li = c.lines.get(key);
    if (ev.is_final && ev.seq === undefined && ev.text === "") {
      // the utterance was noise: its interim goes
      if (li) { li.remove(); c.lines.delete(key); }
      return;
    }
    if (!li || li.dataset.seq !== undefined) {
      li = document.createElement("li");
      appendLine(li);
      if (!(ev.is_final && ev.segment_id > Number.MAX_SAFE_INTEGER)) c.lines.set(key, li);
    }
    renderSegment(li, ev);
    if (ev.is_final) c.lines.delete(key);
    afterContent(c);
  } else if (ev.type === "call_ended") {
    c.ended = true;
    // provisional lines whose final never came are dropped: only finals are the transcript
    for (const li of document.querySelectorAll("#transcript li.interim")) li.remove();
    setCallState("Call ended · " + ev.segments + " segments", "ended");
    state.active.delete(c.id);
    renderActive();
  }
}

function appendLine(li) {
  $("transcript").appendChild(li);
}

function renderSegment(li, ev) {
  li.className = "seg " + (ev.is_final ? "final" : "interim");
  li.dataset.speaker = ev.speaker;
  if (ev.is_final && ev.seq !== undefined) li.dataset.seq = ev.seq; else delete li.dataset.seq;
  const who = document.createElement("span");
  who.className = "speaker";
  who.textContent = speakerLabel(ev.speaker, ev.track);
  const time = document.createElement("time");
  time.textContent = fmtClock(ev.start_ms);
  const text = document.createElement("span");
  text.className = "text";
  text.append(...textWithChips(ev.text, ev.redactions || []));
  li.replaceChildren(who, time, text);
  li.dataset.plain = ev.text.toLowerCase();
  applySearch(li);
}

// Redaction ranges are byte offsets into the UTF-8 text.
function textWithChips(text, redactions) {
  const bytes = new TextEncoder().encode(text);
  const dec = new TextDecoder();
  const out = [];
  let at = 0;
  for (const r of [...redactions].sort((a, b) => a.start - b.start)) {
    if (r.start < at || r.end > bytes.length) continue;
    if (r.start > at) out.push(document.createTextNode(dec.decode(bytes.slice(at, r.start))));
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.tabIndex = 0;
    chip.dataset.type = r.type;
    const name = KIND_NAMES[String(r.type).toLowerCase()] || r.type;
    chip.title = name + " (redacted)";
    chip.setAttribute("aria-label", name + ", redacted");
    chip.textContent = dec.decode(bytes.slice(r.start, r.end));
    out.push(chip);
    at = r.end;
  }
  if (at < bytes.length) out.push(document.createTextNode(dec.decode(bytes.slice(at))));
  return out;
}

// ---- scrolling and search --------------------------------------------------------------

function atBottom(el) {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 40;
}

function afterContent(c) {
  const t = $("transcript");
  if (c.stick) t.scrollTop = t.scrollHeight;
  else $("jump-live").hidden = false;
}

$("transcript").addEventListener("scroll", () => {
  const c = state.call;
  if (!c) return;
  c.stick = atBottom($("transcript"));
  if (c.stick) $("jump-live").hidden = true;
});

$("jump-live").addEventListener("click", () => {
  const t = $("transcript");
  t.scrollTop = t.scrollHeight;
  if (state.call) state.call.stick = true;
  $("jump-live").hidden = true;
  t.focus();
});

function applySearch(li) {
  const q = $("search").value.trim().toLowerCase();
  li.classList.toggle("hidden", q !== "" && !li.dataset.plain.includes(q));
}

$("search").addEventListener("input", () => {
  const q = $("search").value.trim().toLowerCase();
  let n = 0;
  for (const li of document.querySelectorAll("#transcript li")) {
    applySearch(li);
    if (q && !li.classList.contains("hidden")) n++;
  }
  $("search-count").textContent = q ? n + (n === 1 ? " match" : " matches") : "";
});

document.addEventListener("keydown", (ev) => {
  if (ev.key === "/" && document.activeElement.tagName !== "INPUT" && !$("search").disabled) {
    ev.preventDefault();
    $("search").focus();
  } else if (ev.key === "Escape" && document.activeElement === $("search")) {
    $("search").value = "";
    $("search").dispatchEvent(new Event("input"));
  }
});

// ---- start ------------------------------------------------------------------------------

(async () => {
  const r = await api("GET", "/v1/session");
  if (r.ok && r.data && r.data.session) showApp(r.data); else showSignIn("");
})();
