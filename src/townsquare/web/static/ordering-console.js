/* The merchant's order console (ordering/console): the board and the kitchen display follow the
 * server-sent events of /console/merchant/{mer}/orders/stream; on each batch of changed orders
 * they fetch their columns again and swap them in, and the board beeps (Web Audio) when a new
 * paid order arrives, once the user has switched the sound on (browsers start audio only after
 * a gesture; the choice is remembered and the next click anywhere resumes it after a reload).
 * Buttons are forms: sent here with fetch so the page (and its sound) stays; the refusal of an
 * illegal step is shown above the columns. The ticket page's print button is here too. */
(function () {
  "use strict";
  const printButton = document.getElementById("print-ticket");
  if (printButton) {
    printButton.addEventListener("click", () => window.print());
    if (new URLSearchParams(location.search).get("print") === "1") window.print();
  }
  const root = document.getElementById("order-board") || document.getElementById("kitchen");
  if (!root) return;
  const T = JSON.parse(document.getElementById("board-strings").textContent);
  const live = document.getElementById("board-live");
  const errorBox = document.getElementById("board-error");
  const soundButton = document.getElementById("sound-toggle");
  const SOUND_KEY = "ts-orders-sound";
  // the status each order was last drawn with: the stream repeats recent changes (they may
  // have committed late), and an order already drawn in its status needs no redraw
  let audio = null, refreshing = null, again = false;
  const seen = new Map();

  // -- sound --------------------------------------------------------------------------------------
  function soundWanted() { return localStorage.getItem(SOUND_KEY) === "1"; }
  function enableSound() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
    } catch (e) { audio = null; }
  }
  function beep() {
    root.dataset.beeps = String((parseInt(root.dataset.beeps || "0", 10) || 0) + 1);
    if (!audio || !soundWanted()) return;
    const at = audio.currentTime;
    [0, 0.25, 0.5].forEach((offset, i) => {
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = i === 1 ? 1175 : 880;
      gain.gain.setValueAtTime(0.0001, at + offset);
      gain.gain.exponentialRampToValueAtTime(0.4, at + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + offset + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(at + offset);
      osc.stop(at + offset + 0.22);
    });
  }
  function showSound() {
    if (!soundButton) return;
    const on = soundWanted() && audio && audio.state === "running";
    soundButton.setAttribute("aria-pressed", on ? "true" : "false");
    soundButton.classList.toggle("on", !!on);
    if (on) soundButton.textContent = "🔔 " + T.sound_on;
    root.dataset.sound = on ? "on" : "off";
  }
  if (soundButton) {
    soundButton.addEventListener("click", () => {
      if (soundButton.getAttribute("aria-pressed") === "true") {
        localStorage.setItem(SOUND_KEY, "0");
        location.reload();
        return;
      }
      localStorage.setItem(SOUND_KEY, "1");
      enableSound();
      beep();
      setTimeout(showSound, 50);
    });
    // a reload forgets the permission: the next gesture anywhere gives it back
    if (soundWanted()) {
      document.addEventListener("pointerdown", () => { enableSound(); setTimeout(showSound, 50); }, { once: true });
    }
  }

  // -- live updates ---------------------------------------------------------------------------------
  function remember() {
    root.querySelectorAll("[data-order][data-status]").forEach((el) => seen.set(el.dataset.order, el.dataset.status));
  }
  async function refresh() {
    if (refreshing) { again = true; return refreshing; }
    refreshing = (async () => {
      try {
        const r = await fetch(root.dataset.refresh, { cache: "no-store", credentials: "same-origin" });
        if (!r.ok) return;
        const html = await r.text();
        const holder = document.createElement("div");
        holder.innerHTML = html;
        const fresh = holder.firstElementChild;
        const old = root.querySelector("#" + fresh.id);
        // keep an open reason form open
        const open = Array.from(root.querySelectorAll("details.reason-form[open]")).map(
          (d) => d.closest("[data-order]").dataset.order + " " + d.querySelector("form").dataset.action);
        old.replaceWith(fresh);
        open.forEach((key) => {
          const [ord, action] = key.split(" ");
          const form = fresh.querySelector(`[data-order="${ord}"] form[data-action="${action}"]`);
          if (form) form.closest("details").open = true;
        });
        remember();
        root.dataset.refreshed = String((parseInt(root.dataset.refreshed || "0", 10) || 0) + 1);
      } finally {
        refreshing = null;
        if (again) { again = false; refresh(); }
      }
    })();
    return refreshing;
  }

  function connect() {
    const url = new URL(root.dataset.stream, location.href);
    url.searchParams.set("cursor", root.dataset.cursor);
    const source = new EventSource(url);
    source.addEventListener("ready", () => {
      live.textContent = T.live; live.className = "badge ok"; root.dataset.live = "1";
    });
    source.addEventListener("orders", (ev) => {
      const data = JSON.parse(ev.data);
      root.dataset.cursor = data.cursor;
      const changed = data.orders.filter((o) => seen.get(o.id) !== o.status);
      if (!changed.length) return;
      const fresh = changed.filter((o) => o.status === "paid" && !seen.has(o.id));
      changed.forEach((o) => seen.set(o.id, o.status));
      if (fresh.length && soundButton) beep();
      refresh();
    });
    source.addEventListener("bye", (ev) => { root.dataset.cursor = JSON.parse(ev.data).cursor; });
    source.onerror = () => {
      live.textContent = T.offline; live.className = "badge bad"; root.dataset.live = "0";
    };
  }

  // -- buttons --------------------------------------------------------------------------------------
  root.addEventListener("submit", async (ev) => {
    const form = ev.target.closest("form.action-form");
    if (!form) return;
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    errorBox.hidden = true;
    try {
      const r = await fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "x-requested-with": "fetch" },
      });
      if (!r.ok) {
        const body = await r.json().catch(() => ({}));
        errorBox.textContent = body.message || r.statusText;
        errorBox.hidden = false;
      }
    } catch (e) {
      errorBox.textContent = T.offline; errorBox.hidden = false;
    } finally {
      if (button) button.disabled = false;
      refresh();
    }
  });

  // the kitchen's wall clock, in the store's time zone
  const wall = document.getElementById("kitchen-clock");
  if (wall) {
    const tick = () => {
      try {
        wall.textContent = new Intl.DateTimeFormat("zh-CN", {
          hour: "2-digit", minute: "2-digit", hour12: false, timeZone: wall.dataset.zone,
        }).format(new Date());
      } catch (e) { /* an unknown zone: keep the server's time */ }
    };
    tick();
    setInterval(tick, 15000);
  }

  remember();
  showSound();
  connect();
})();
