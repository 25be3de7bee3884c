/* The guard's scanning page: camera (jsQR on getUserMedia frames) and keyboard-wedge input.
 * Online, each code goes to POST /api/community/{com}/gate/scan. When the network is gone,
 * the code is verified here with the community's cached Ed25519 public keys (tweetnacl), the
 * passage is kept in localStorage with a client id, and sent to /passages/sync once back online
 * (the server records each client id once, so resending after a lost answer is harmless). */
(function () {
  "use strict";
  const root = document.getElementById("gate");
  if (!root) return;
  const com = root.dataset.community, gateId = root.dataset.gate, csrf = root.dataset.csrf;
  const T = JSON.parse(document.getElementById("gate-strings").textContent);
  const KEYS = "ts-gate-keys-" + com, QUEUE = "ts-gate-queue-" + com;
  const SAME_CODE_MS = 8000; // a code held in front of the camera is scanned once
  const result = document.getElementById("gate-result");
  const input = document.getElementById("gate-input");
  const net = document.getElementById("gate-net");
  const pendingEl = document.getElementById("gate-pending");
  let lastText = "", lastSeen = 0, busy = false;

  const fmt = (s, args) => s.replace(/\{(\w+)\}/g, (_, k) => (k in args ? args[k] : ""));
  const direction = () => document.querySelector("input[name=direction]:checked").value;
  const newId = () => "g" + Date.now().toString(36) + "-" +
    Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");

  function b64d(text) {
    let s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const bin = atob(s), out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  // -- keys and the offline queue ------------------------------------------------------------
  async function loadKeys() {
    try {
      const r = await fetch("/api/community/" + com + "/keys", { cache: "no-store" });
      if (r.ok) localStorage.setItem(KEYS, JSON.stringify(await r.json()));
    } catch (e) { /* offline: keep the cached keys */ }
  }
  const cachedKeys = () => { try { return JSON.parse(localStorage.getItem(KEYS)); } catch (e) { return null; } };
  const queue = () => { try { return JSON.parse(localStorage.getItem(QUEUE)) || []; } catch (e) { return []; } };
  const saveQueue = (q) => { localStorage.setItem(QUEUE, JSON.stringify(q)); showPending(); };
  function showPending() {
    const n = queue().length;
    pendingEl.textContent = n ? fmt(T.pending, { n: n }) : "";
    root.dataset.pending = String(n);
  }
  function setOnline(online) {
    net.textContent = online ? T.online : T.offline_net;
    net.className = "badge " + (online ? "ok" : "bad");
    root.dataset.online = online ? "1" : "0";
  }

  async function sync() {
    const q = queue();
    if (!q.length) return;
    const batch = q.slice(0, 100);
    try {
      const r = await fetch("/api/community/" + com + "/passages/sync", {
        method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf },
        body: JSON.stringify({ scans: batch }),
      });
      if (!r.ok) return;
      const done = new Set((await r.json()).results.map((x) => x.client_id));
      saveQueue(queue().filter((x) => !done.has(x.client_id)));
      setOnline(true);
      if (queue().length) sync();
    } catch (e) { setOnline(false); }
  }

  // -- verification on this device --------------------------------------------------------------
  function verifyHere(code) {
    const set = cachedKeys();
    if (!set) return { ok: false, reason: "no_keys" };
    const parts = code.split(".");
    if (parts.length !== 3) return { ok: false, reason: "malformed" };
    let claims;
    try { claims = JSON.parse(new TextDecoder().decode(b64d(parts[1]))); } catch (e) { return { ok: false, reason: "malformed" }; }
    if (!claims || claims.c !== com) return { ok: false, reason: "wrong_community" };
    const key = set.keys[parts[0]];
    let genuine = false;
    try {
      const sig = b64d(parts[2]);
      genuine = !!key && sig.length === 64 &&
        nacl.sign.detached.verify(new TextEncoder().encode(parts[0] + "." + parts[1]), sig, b64d(key));
    } catch (e) { genuine = false; }
    if (!genuine) return { ok: false, reason: "forged" };
    // A visitor code may have been revoked by its host, and the day's visitor count and a
    // lockdown live on the server: an offline device never admits a visitor (docs/gate.md).
    if (claims.k === "v") return { ok: false, reason: "visitor_offline" };
    const now = Date.now() / 1000;
    if (now > claims.exp || claims.iat > now + 30) return { ok: false, reason: "expired" };
    return { ok: true, claims: claims };
  }

  function decideOffline(code, clientId, dir) {
    const checked = verifyHere(code);
    const allowed = checked.ok;
    if (checked.reason !== "no_keys") {
      const q = queue();
      q.push({ client_id: clientId, gate: gateId, code: code, direction: dir,
               at: new Date().toISOString(), allowed: allowed });
      saveQueue(q);
    }
    show({
      allowed: allowed, offline: true, direction: dir, room: "", name_masked: "", colour: null,
      reasons: checked.ok ? [] : [{ code: checked.reason, text: checked.reason === "no_keys" ? T.no_keys : (T.reasons[checked.reason] || checked.reason) }],
    });
  }

  // -- scanning ----------------------------------------------------------------------------------
  // A household code going out must name who passes: the server answers with the members and
  // the guard picks one; the scan is sent again (a new client id) naming that member.
  async function handle(text, fromCamera, member, dirChosen) {
    const code = (text || "").trim();
    if (!code || busy) return;
    const now = Date.now();
    if (fromCamera && code === lastText && now - lastSeen < SAME_CODE_MS) { lastSeen = now; return; }
    lastText = code; lastSeen = now; busy = true;
    const dir = dirChosen || direction(), clientId = newId();
    try {
      let answer = null;
      try {
        const r = await fetch("/api/community/" + com + "/gate/scan", {
          method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf },
          body: JSON.stringify(Object.assign({ gate: gateId, code: code, direction: dir, client_id: clientId },
                                             member ? { member: member } : {})),
        });
        setOnline(true);
        if (r.ok) answer = await r.json();
        else if (r.status < 500) {
          const body = await r.json().catch(() => ({}));
          answer = { allowed: false, direction: dir, reasons: [{ code: "error", text: (body.error && body.error.message) || T.error }] };
        }
      } catch (e) { setOnline(false); }
      if (answer) { show(answer, code); sync(); } else decideOffline(code, clientId, dir);
    } finally { busy = false; }
  }

  function show(d, code) {
    result.className = "card gate-result " + (d.allowed ? "allowed" : "denied");
    result.dataset.allowed = d.allowed ? "1" : "0";
    result.dataset.reasons = (d.reasons || []).map((r) => r.code).join(" ");
    const el = (tag, text, cls) => { const e = document.createElement(tag); e.textContent = text; if (cls) e.className = cls; return e; };
    result.replaceChildren();
    result.append(el("h2", (d.allowed ? "✅ " + T.allowed : "⛔ " + T.denied), "verdict"));
    if (d.room || d.name_masked) result.append(el("p", [d.room, d.name_masked].filter(Boolean).join(" · "), "who"));
    if (d.colour) result.append(el("span", T[d.colour] || d.colour, "status-dot colour-" + d.colour));
    if (d.visitor) {
      // a visitor: the host's room is above; here who, why and when (the phone masked)
      result.dataset.visitor = "1";
      result.append(el("p", T.visitor, "badge visitor-badge"));
      if (d.phone_masked) result.append(el("p", d.phone_masked, "visitor-phone"));
      if (d.purpose) result.append(el("p", d.purpose, "visitor-purpose"));
      if (d.window_start && d.window_end) {
        const hm = (iso) => new Date(iso).toLocaleString([], { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });
        result.append(el("p", fmt(T.visit_window, { start: hm(d.window_start), end: hm(d.window_end) }), "visitor-window"));
      }
    } else delete result.dataset.visitor;
    if (d.quota_left !== null && d.quota_left !== undefined && d.direction === "exit")
      result.append(el("p", fmt(T.quota, { left: d.quota_left, total: d.quota_total }), "quota"));
    const list = document.createElement("ul");
    (d.reasons || []).forEach((r) => list.append(el("li", r.text, "reason reason-" + r.code)));
    result.append(list);
    if (d.members && d.members.length && code) {
      const pick = document.createElement("div");
      pick.className = "row gate-members";
      d.members.forEach((m) => {
        const b = el("button", m.name_masked, "member");
        b.type = "button";
        b.dataset.member = m.id;
        b.addEventListener("click", () => handle(code, false, m.id, d.direction));
        pick.append(b);
      });
      result.append(pick);
    }
    if (d.offline) result.append(el("p", T.offline, "muted offline-note"));
    input.value = "";
    input.focus();
  }

  document.getElementById("gate-wedge").addEventListener("submit", (ev) => {
    ev.preventDefault();
    handle(input.value, false);
  });
  document.getElementById("gate-clear").addEventListener("click", () => {
    // the next person starts from a blank verdict: nothing of the previous one stays on screen
    lastText = ""; lastSeen = 0;
    result.className = "card gate-result idle";
    delete result.dataset.allowed;
    delete result.dataset.reasons;
    delete result.dataset.visitor;
    const waiting = document.createElement("p");
    waiting.className = "muted";
    waiting.textContent = T.waiting;
    result.replaceChildren(waiting);
    input.value = "";
    input.focus();
  });

  async function startCamera() {
    const video = document.getElementById("gate-video"), canvas = document.getElementById("gate-canvas");
    const note = document.getElementById("gate-camera");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof jsQR !== "function") {
      note.textContent = T.camera_off; video.hidden = true; return;
    }
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      await video.play();
    } catch (e) { note.textContent = T.camera_off; video.hidden = true; return; }
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    root.dataset.camera = "on";
    setInterval(() => {
      if (busy || video.readyState < 2 || !video.videoWidth) return;
      const scale = Math.min(1, 640 / video.videoWidth);
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      const frame = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const found = jsQR(frame.data, frame.width, frame.height, { inversionAttempts: "dontInvert" });
      if (found && found.data) handle(found.data, true);
    }, 150);
  }

  window.addEventListener("online", () => { setOnline(true); loadKeys(); sync(); });
  window.addEventListener("offline", () => setOnline(false));
  setOnline(navigator.onLine !== false);
  showPending();
  loadKeys().then(sync);
  setInterval(sync, 15000);
  startCamera();
})();
