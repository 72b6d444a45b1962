// Lifeline console: live updates over Server-Sent Events, wait timers,
// canned answers, copy buttons. No framework, no outside requests.
"use strict";
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // Where a form should come back to (language switch).
  $$("[data-back]").forEach((el) => { el.value = location.pathname + location.search; });

  // Sound cue, off by default; remembered in this browser only.
  const sound = $("#sound");
  if (sound) {
    sound.checked = localStorage.getItem("lifeline.sound") === "1";
    sound.addEventListener("change", () => localStorage.setItem("lifeline.sound", sound.checked ? "1" : "0"));
  }
  function chime() {
    if (!sound || !sound.checked) return;
    try {
      const ctx = new AudioContext();
      const o = ctx.createOscillator(), g = ctx.createGain();
      o.frequency.value = 660; g.gain.value = 0.08;
      o.connect(g); g.connect(ctx.destination);
      o.start(); o.stop(ctx.currentTime + 0.18);
    } catch (e) { /* no audio: the visual cue remains */ }
  }
  function toast(text) {
    const t = $("#toast");
    if (!t) return;
    t.textContent = text; t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 3000);
  }

  // Wait timers: minutes:seconds since the contact's unanswered message;
  // late past the first-response target.
  function tick() {
    const now = Date.now();
    $$(".timer[data-since]").forEach((el) => {
      const ms = now - Number(el.dataset.since);
      if (!(ms >= 0)) return;
      const s = Math.floor(ms / 1000);
      const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      el.textContent = (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(sec).padStart(2, "0");
      el.classList.toggle("late", ms > Number(el.dataset.target || 120000));
    });
  }
  setInterval(tick, 1000); tick();

  // Fragments re-fetched on live events.
  async function refresh(el, url, markNew) {
    const before = new Set($$("[data-conversation]", el).map((r) => r.dataset.conversation + "/" + r.className));
    const res = await fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } });
    if (res.status === 401 || res.status === 503) { location.reload(); return; }
    if (!res.ok) return;
    el.innerHTML = await res.text();
    if (markNew) $$("tr[data-conversation]", el).forEach((r) => { if (!before.has(r.dataset.conversation + "/" + r.className)) r.classList.add("fresh"); });
    tick();
  }
  async function counts() {
    if (!$("[data-count]")) return; // a role without the inbox asks nothing of it
    const res = await fetch("/inbox/counts" + location.search, { credentials: "same-origin" });
    if (!res.ok) return;
    const c = await res.json();
    $$("[data-count]").forEach((el) => { const n = c[el.dataset.count]; el.textContent = n ? String(n) : (el.closest(".tabs") ? "0" : ""); });
  }

  const list = $("[data-live-list]");
  const conv = $("[data-live-history]");
  let pending = false;
  function update(ev) {
    let data = {};
    try { data = JSON.parse(ev.data || "{}"); } catch (e) { /* ids only; ignore a bad one */ }
    if (ev.type === "message") { chime(); toast(document.body.dataset.lang === "en" ? "New message" : "Нове повідомлення"); }
    if (pending) return;
    pending = true;
    setTimeout(async () => {
      pending = false;
      const jobs = [counts()];
      if (list) jobs.push(refresh($("#list"), list.dataset.liveList, true));
      if (conv && (!data.conversation || data.conversation === conv.dataset.conversation)) {
        jobs.push(refresh($("#history"), conv.dataset.liveHistory, false).then(scrollDown));
      }
      await Promise.allSettled(jobs);
    }, 100);
  }
  function scrollDown() { const h = $("#history"); if (h) h.lastElementChild && h.scrollIntoView({ block: "end" }); }

  if ($("header.top nav")) {
    counts();
    const es = new EventSource("/events");
    ["message", "status", "assign", "state"].forEach((t) => es.addEventListener(t, update));
    es.addEventListener("escalate", (ev) => {
      chime();
      toast(document.body.dataset.lang === "en" ? "A contact has waited past the first-response target" : "Контакт чекає понад ціль першої відповіді");
      update(ev);
    });
    es.addEventListener("end", () => { es.close(); location.reload(); });
    // A slow console may miss an event: catch up every 30 s.
    setInterval(() => update({ type: "tick" }), 30000);
    document.body.dataset.live = "on";
  }

  // Canned answers: insert the body; placeholders in braces must be filled.
  const canned = $("#canned"), text = $("#reply-text"), hint = $("#fill-hint");
  if (canned && text) {
    canned.addEventListener("change", () => {
      const opt = canned.selectedOptions[0];
      if (!opt || !opt.dataset.body) return;
      text.value = opt.dataset.body;
      text.focus();
      const m = /\{[^{}\s]{1,40}\}/.exec(text.value);
      if (m) text.setSelectionRange(m.index, m.index + m[0].length);
      canned.value = "";
      if (hint) hint.hidden = !m;
    });
    $("#reply-form").addEventListener("submit", (e) => {
      const m = /\{[^{}\s]{1,40}\}/.exec(text.value);
      if (m) { e.preventDefault(); text.focus(); text.setSelectionRange(m.index, m.index + m[0].length); if (hint) hint.hidden = false; }
    });
    // Ctrl+Enter sends.
    text.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("#reply-form").requestSubmit(); });
  }

  // Reply length as the channel's provider counts it, live (the same rule
  // as lifeline.MessageLength, which the server applies): Telegram UTF-16
  // code units, WhatsApp characters, SMS GSM-7 or UCS-2 segments.
  const counter = $("#reply-counter");
  if (counter && text) {
    const gsm = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const gsmExt = "^{}\\[~]|€\f";
    function smsLength(s) {
      const chars = Array.from(s);
      const isGSM = chars.every((c) => gsm.includes(c) || gsmExt.includes(c));
      const width = isGSM ? (c) => (gsmExt.includes(c) ? 2 : 1) : (c) => c.length; // UTF-16 units
      const single = isGSM ? 160 : 70, multi = isGSM ? 153 : 67;
      let count = 0, used = 0, segments = 1;
      for (const c of chars) {
        const w = width(c);
        count += w;
        if (used + w > multi) { segments++; used = 0; }
        used += w;
      }
      if (count === 0) segments = 0; else if (count <= single) segments = 1;
      return { count, segments, encoding: isGSM ? "GSM-7" : "UCS-2", limit: 10 * multi };
    }
    function show() {
      const kind = counter.dataset.kind, s = text.value.trim();
      let count, limit = Number(counter.dataset.limit), over, line;
      if (kind === "sms") {
        const l = smsLength(s);
        count = l.count; limit = l.limit; over = l.segments > 10;
        line = l.segments + " " + counter.dataset.segments + " (" + l.encoding + ") · " + count + " / " + limit + " " + counter.dataset.chars;
      } else {
        count = kind === "telegram" ? s.length : Array.from(s).length;
        over = count > limit;
        line = count + " / " + limit + " " + counter.dataset.chars;
      }
      counter.textContent = over ? line + " · " + counter.dataset.over : line;
      counter.classList.toggle("error", over);
    }
    text.addEventListener("input", show);
    if (canned) canned.addEventListener("change", show);
    show();
  }

  // Copy buttons (coordinates).
  document.addEventListener("click", (e) => {
    const b = e.target.closest("[data-copy]");
    if (b && navigator.clipboard) navigator.clipboard.writeText(b.dataset.copy);
  });
  // An error page's way back: the page the operator came from, with what
  // he typed in its forms, when the browser has one.
  document.addEventListener("click", (e) => {
    const a = e.target.closest("[data-history-back]");
    if (a && history.length > 1) { e.preventDefault(); history.back(); }
  });
  // Undo of a close: offered for a minute after it (the server decides;
  // this only takes the button away when its time is up).
  $$("form.undo[data-until]").forEach((f) => {
    const left = Number(f.dataset.until) - Date.now();
    setTimeout(() => { f.hidden = true; }, Math.max(0, left));
  });

  scrollDown();
})();
