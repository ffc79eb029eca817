// Dashboard: live leads over /ws/manager, with an alert that is hard to miss.
(() => {
  "use strict";
  const list = document.getElementById("leads");
  const state = document.getElementById("live-state");
  const soundButton = document.getElementById("sound-toggle");
  if (!state) return;

  const baseTitle = document.title;
  let unseen = 0;
  let audio = null;

  // Browsers start audio suspended until the person interacts; say so instead of staying silent.
  function audioContext() {
    if (!audio && window.AudioContext) audio = new AudioContext();
    return audio;
  }
  function refreshSoundButton() {
    const ctx = audioContext();
    if (soundButton) soundButton.hidden = !ctx || ctx.state === "running";
  }
  function unlockSound() {
    const ctx = audioContext();
    if (ctx && ctx.state !== "running") ctx.resume().then(refreshSoundButton, refreshSoundButton);
  }
  if (soundButton) soundButton.addEventListener("click", unlockSound);
  document.addEventListener("pointerdown", unlockSound, { once: true });
  document.addEventListener("keydown", unlockSound, { once: true });
  refreshSoundButton();

  function chime() {
    const ctx = audioContext();
    if (!ctx) return;
    const now = ctx.currentTime;
    [880, 1320].forEach((freq, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + i * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.3, now + i * 0.18 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.18 + 0.25);
      osc.connect(gain).connect(ctx.destination);
      osc.start(now + i * 0.18);
      osc.stop(now + i * 0.18 + 0.3);
    });
  }

  function showUnseen() {
    document.title = unseen ? `(${unseen}) New lead · ${baseTitle}` : baseTitle;
  }
  // The count stays in the tab title until the manager comes back to the tab or touches the page.
  function seen() {
    if (document.visibilityState === "visible") {
      unseen = 0;
      showUnseen();
    }
  }
  window.addEventListener("focus", seen);
  document.addEventListener("visibilitychange", seen);
  document.addEventListener("pointerdown", seen);
  document.addEventListener("keydown", seen);

  function cell(row, text, href) {
    const td = row.insertCell();
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.append(a);
    } else {
      td.textContent = text;
    }
    return td;
  }

  function addRow(lead) {
    if (!list || list.querySelector(`tr[data-ref="${CSS.escape(lead.ref)}"]`)) return false;
    const row = document.createElement("tr");
    row.dataset.ref = lead.ref;
    row.dataset.seq = String(lead.seq);
    const when = new Date(lead.created_at * 1000);
    const time = document.createElement("time");
    time.dateTime = when.toISOString();
    time.textContent = when.toLocaleString();
    row.insertCell().append(time);
    cell(row, lead.site);
    cell(row, lead.kind);
    cell(row, lead.name || "(no name)", `/app/leads/${encodeURIComponent(lead.ref)}`);
    cell(row, lead.phone_display || lead.phone || "", lead.phone ? `tel:${lead.phone}` : null);
    cell(row, lead.page).className = "page-cell";
    cell(row, lead.source);
    const status = document.createElement("span");
    status.className = `status status-${lead.status}`;
    status.textContent = lead.status;
    row.insertCell().append(status);
    // Keep newest first even when replayed and live frames interleave.
    const after = [...list.rows].find((r) => Number(r.dataset.seq) < lead.seq);
    list.insertBefore(row, after || null);
    row.classList.add("fresh");
    const empty = document.getElementById("no-leads");
    if (empty) empty.hidden = true;
    return true;
  }

  function alertManager(lead) {
    chime();
    unseen += 1;
    showUnseen();
    if (window.Notification && Notification.permission === "granted" && document.visibilityState !== "visible") {
      new Notification(`New ${lead.kind} lead`, { body: `${lead.name || ""} ${lead.phone_display || ""}`.trim(), tag: lead.ref });
    }
  }

  let since = list ? Number(list.dataset.since || 0) : 0;
  let delay = 1000;
  function connect() {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/manager`);
    ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "hello", since })));
    ws.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (frame.type === "welcome") {
        delay = 1000;
        state.textContent = "Live";
        state.className = "live-state live";
      } else if (frame.type === "lead") {
        since = Math.max(since, frame.seq);
        if (addRow(frame)) alertManager(frame);
      }
    });
    ws.addEventListener("close", (event) => {
      state.textContent = "Reconnecting…";
      state.className = "live-state down";
      if (event.code === 4401) { location.href = "/app/login"; return; }
      setTimeout(connect, delay * (0.5 + Math.random() / 2));
      delay = Math.min(delay * 1.5, 30000);
    });
  }
  connect();
})();
