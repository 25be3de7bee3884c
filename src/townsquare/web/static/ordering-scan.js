/* The counter's pickup-code scanner (ordering/console/scan.html): the camera (jsQR on
 * getUserMedia frames, as the gate scans) and a text field for USB scanner guns, which type the
 * code and Enter. Each code is posted to /console/merchant/{mer}/orders/scan; the answer says
 * which order was handed over (its pickup number and items, big) or why not. */
(function () {
  "use strict";
  const root = document.getElementById("scan");
  if (!root) return;
  const T = JSON.parse(document.getElementById("scan-strings").textContent);
  const result = document.getElementById("scan-result");
  const input = document.getElementById("scan-input");
  const SAME_CODE_MS = 8000; // a code held in front of the camera is handed over once
  let lastText = "", lastSeen = 0, busy = false;

  const el = (tag, text, cls) => { const e = document.createElement(tag); e.textContent = text; if (cls) e.className = cls; return e; };

  function show(answer) {
    result.replaceChildren();
    if (answer.ok) {
      const o = answer.order;
      result.className = "card scan-result handed";
      result.dataset.handed = "1";
      result.dataset.order = o.id;
      result.append(el("h2", "✅ " + T.handed, "verdict"));
      result.append(el("p", o.number, "order-number big"));
      result.append(el("p", [o.kind_label, o.store].filter(Boolean).join(" · "), "muted"));
      result.append(el("p", T.items, ""));
      const list = el("ul", "", "order-lines");
      o.lines.forEach((l) => list.append(el("li", l.quantity + "× " + l.name + (l.spec ? " " + l.spec : "") + (l.options ? " (" + l.options + ")" : ""))));
      result.append(list);
      if (o.note) result.append(el("p", "📝 " + o.note, "order-note"));
    } else {
      result.className = "card scan-result refused";
      result.dataset.handed = "0";
      delete result.dataset.order;
      result.append(el("h2", "⛔ " + T.refused, "verdict"));
      result.append(el("p", answer.message || T.error, "reason"));
    }
    input.value = "";
    input.focus();
  }

  async function handle(text, fromCamera) {
    const code = (text || "").trim();
    if (!code || busy) return;
    const now = Date.now();
    if (fromCamera && code === lastText && now - lastSeen < SAME_CODE_MS) { lastSeen = now; return; }
    lastText = code; lastSeen = now; busy = true;
    try {
      const body = new FormData();
      body.set("csrf_token", root.dataset.csrf);
      body.set("code", code);
      const r = await fetch(root.dataset.post, {
        method: "POST", body: body, credentials: "same-origin", headers: { "x-requested-with": "fetch" },
      });
      const answer = await r.json().catch(() => ({ ok: false, message: T.error }));
      show(answer);
    } catch (e) {
      show({ ok: false, message: T.error });
    } finally { busy = false; }
  }

  document.getElementById("scan-wedge").addEventListener("submit", (ev) => {
    ev.preventDefault();
    handle(input.value, false);
  });

  async function startCamera() {
    const video = document.getElementById("scan-video"), canvas = document.getElementById("scan-canvas");
    const note = document.getElementById("scan-camera");
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
  startCamera();
})();
