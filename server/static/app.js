// Dashboard: live leads and the callback queue over /ws/manager, with alerts that cannot be missed.
// Everything people typed is shown with textContent only.
//
// Other scripts of the page (inbox.js) share this one socket through events on `document`:
//   beckon-frame    {detail: frame}            every frame received, after this script handled it
//   beckon-welcome  {detail: {user_id, user, available}}   after each welcome (every reconnect)
//   beckon-offline                             the socket dropped (reconnecting)
//   beckon-send     {detail: frame}  (listened) sent now if the socket is open, else queued until
//                   it opens; never re-sent. If the socket drops before the answer, an
//                   `error {id, code: "offline"}` frame is dispatched as beckon-frame for it.
//   beckon-chime                      (listened) the new-lead chime
//   beckon-alert                      (listened) the chime, and one more "(n) New message" in the
//                                     tab title until the manager comes back to the tab
import { dayFormat, el, newId, timeFormat } from "./dom.js";

(() => {
  "use strict";
  const byId = (id) => document.getElementById(id);
  const list = byId("leads");
  const state = byId("live-state");
  const soundButton = byId("sound-toggle");
  const notifyButton = byId("notify-toggle");
  const availButton = byId("availability");
  const ringingLink = byId("ringing-link");
  const queue = byId("callback-list");
  const noCallbacks = byId("no-callbacks");
  const notices = byId("notices");
  if (!state) return;

  const RING_EVERY_MS = 4000;
  const PING_EVERY_MS = 25000;
  const DONE_LINGER_MS = 1500;
  const baseTitle = document.title;
  let unseen = 0;
  let unseenChat = 0; // chat alerts raised by inbox.js (beckon-alert)
  let audio = null;

  // -- sound -------------------------------------------------------------------------------
  // Browsers start audio suspended until the person interacts; say so instead of staying silent.
  function audioContext() {
    if (!audio && window.AudioContext) {
      audio = new AudioContext();
      audio.addEventListener("statechange", refreshSoundButton);
    }
    return audio;
  }
  function refreshSoundButton() {
    const ctx = audioContext();
    if (soundButton) {
      soundButton.hidden = !ctx || ctx.state === "running";
      soundButton.classList.toggle("urgent", ringingForMe().length > 0);
    }
  }
  function unlockSound() {
    const ctx = audioContext();
    if (ctx && ctx.state !== "running") ctx.resume().then(refreshSoundButton, refreshSoundButton);
  }
  if (soundButton) soundButton.addEventListener("click", unlockSound);
  document.addEventListener("pointerdown", unlockSound, { once: true });
  document.addEventListener("keydown", unlockSound, { once: true });

  function tones(freqs, step, peak) {
    const ctx = audioContext();
    if (!ctx) return;
    const now = ctx.currentTime;
    freqs.forEach((freq, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const at = now + i * step;
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(peak, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.25);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.3);
    });
  }
  // A new lead of any kind.
  const chime = () => tones([880, 1320], 0.18, 0.3);
  // A callback ringing for me: a little louder and longer, repeated until someone claims it.
  const ring = () => tones([988, 1319, 1568], 0.16, 0.4);

  // -- tab title ---------------------------------------------------------------------------
  // New leads: "(n) New lead · …" until the manager looks. Callbacks ringing for me: the title
  // alternates with "(N) Call back! · Beckon" every second, which is hard to miss in a tab strip.
  let blinkOn = false;
  let blinkTimer = null;
  function applyTitle() {
    const ringing = ringingForMe().length;
    if (ringing && blinkOn) document.title = `(${ringing}) Call back! · Beckon`;
    else if (unseen) document.title = `(${unseen}) New lead · ${baseTitle}`;
    else document.title = unseenChat ? `(${unseenChat}) New message · Beckon` : baseTitle;
  }
  const showUnseen = applyTitle;
  // The count stays in the tab title until the manager comes back to the tab or touches the page.
  function seen() {
    if (document.visibilityState === "visible") {
      unseen = 0;
      unseenChat = 0;
      showUnseen();
    }
  }
  window.addEventListener("focus", seen);
  document.addEventListener("visibilitychange", seen);
  document.addEventListener("pointerdown", seen);
  document.addEventListener("keydown", seen);

  // -- desktop notifications ---------------------------------------------------------------
  const canNotify = "Notification" in window;
  function refreshNotifyButton() {
    if (notifyButton) notifyButton.hidden = !canNotify || Notification.permission !== "default";
  }
  if (notifyButton && canNotify) {
    notifyButton.addEventListener("click", () => {
      unlockSound();
      Promise.resolve(Notification.requestPermission()).then(refreshNotifyButton, refreshNotifyButton);
    });
  }
  refreshNotifyButton();

  function notify(title, options, onClick) {
    if (!canNotify || Notification.permission !== "granted") return null;
    try {
      const note = new Notification(title, options);
      note.addEventListener("click", () => {
        window.focus();
        note.close();
        if (onClick) onClick();
      });
      return note;
    } catch {
      return null; // e.g. Android Chrome only notifies from a service worker
    }
  }

  // -- small helpers -----------------------------------------------------------------------
  const day = (s) => dayFormat.format(new Date(s * 1000)).replace(",", "");
  const clock = (s) => timeFormat.format(new Date(s * 1000));
  const when = (s) => `${day(s)} ${clock(s)}`;
  function span(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }
  // "Mon 24 Nov 09:00–10:00", in the manager's own time zone.
  function windowText(start, end) {
    if (!end) return when(start);
    return day(start) === day(end) ? `${when(start)}–${clock(end)}` : `${when(start)} – ${when(end)}`;
  }
  function localInputValue(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }
  const OUTCOMES = [
    ["connected", "Connected"],
    ["no_answer", "No answer"],
    ["wrong_number", "Wrong number"],
    ["spam", "Spam"],
    ["reschedule", "Reschedule"],
  ];
  const outcomeLabel = (o) => (OUTCOMES.find(([key]) => key === o) || [o, String(o || "").replace(/_/g, " ")])[1];

  // -- notices (owners' warnings, errors with no card to show them on) ---------------------
  function notice(text, level) {
    if (!notices) return;
    const item = el("p", `notice notice-${level === "error" ? "error" : "warning"}`);
    item.setAttribute("role", "alert");
    item.append(el("span", "", text));
    const close = el("button", "notice-close", "Dismiss");
    close.type = "button";
    close.addEventListener("click", () => item.remove());
    item.append(close);
    notices.prepend(item);
    while (notices.children.length > 4) notices.lastElementChild.remove();
  }

  // -- the leads table ---------------------------------------------------------------------
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

  // A lead row, new or (a quiz that was partial and now has contact details) refreshed.
  // Returns whether the lead is news worth an alert: partial quiz answers are listed quietly.
  function addRow(lead) {
    if (!list) return false;
    const old = list.querySelector(`tr[data-ref="${CSS.escape(lead.ref)}"]`);
    // A filtered or older page lists only what matched when it loaded: new leads are announced
    // (alert and a link to the latest), never inserted where they might not belong.
    if (list.dataset.live !== "1") {
      const was = old && old.querySelector(".status");
      if (old && (!was || !was.classList.contains("status-partial") || lead.status === "partial")) return false;
      const hidden = byId("live-hidden");
      if (hidden) hidden.hidden = false;
      return lead.status !== "partial";
    }
    if (old) {
      const was = old.querySelector(".status");
      if (!was || !was.classList.contains("status-partial") || lead.status === "partial") return false;
      old.remove();
    }
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
    cell(row, ""); // temperature and assignee: set on the lead card
    cell(row, "");
    // Keep newest first even when replayed and live frames interleave.
    const after = [...list.rows].find((r) => Number(r.dataset.seq) < lead.seq);
    list.insertBefore(row, after || null);
    row.classList.add("fresh");
    const empty = byId("no-leads");
    if (empty) empty.hidden = true;
    return lead.status !== "partial";
  }

  // The status cell of a callback lead follows its callback: claimed, missed, scheduled, done.
  function showRowStatus(cb) {
    if (!list || cb.state === "ringing") return;
    const row = list.querySelector(`tr[data-ref="${CSS.escape(cb.lead)}"]`);
    const status = row && row.querySelector(".status");
    if (!status) return;
    const text = cb.state === "done" && cb.outcome ? `done: ${outcomeLabel(cb.outcome).toLowerCase()}` : cb.state;
    status.textContent = text;
    status.className = `status status-${cb.outcome === "spam" ? "spam" : cb.state}`;
  }

  function alertManager(lead) {
    chime();
    unseen += 1;
    showUnseen();
    if (canNotify && Notification.permission === "granted" && document.visibilityState !== "visible") {
      notify(`New ${lead.kind} lead`, { body: `${lead.name || ""} ${lead.phone_display || ""}`.trim(), tag: lead.ref });
    }
  }

  // -- follow-up reminders -------------------------------------------------------------------
  // A lead's follow-up time has come: a notice with a link to the lead (until dismissed), the
  // chime and a desktop notification. Each reminder sounds once per browser tab session, however
  // many pages of the dashboard show it again (the server re-sends due ones on every connect);
  // a dismissed one stays dismissed in this browser until its follow-up time changes.
  const FOLLOW_UPS_KEY = "beckon-follow-ups-heard";
  const DISMISSED_KEY = "beckon-follow-ups-dismissed";
  const followUpsShown = new Set();
  function stored(storage, key) {
    try { return new Set(JSON.parse(storage.getItem(key) || "[]")); } catch { return new Set(); }
  }
  function remember(storage, key, set) {
    try { storage.setItem(key, JSON.stringify([...set].slice(-200))); } catch { /* private mode */ }
  }
  const heardFollowUps = () => stored(sessionStorage, FOLLOW_UPS_KEY);
  function showFollowUp(f) {
    const key = `${f.lead}@${f.at}`;
    if (followUpsShown.has(key)) return;
    followUpsShown.add(key);
    const row = list && list.querySelector(`tr[data-ref="${CSS.escape(f.lead)}"]`);
    const status = row && row.querySelector(".status");
    if (status && !row.querySelector(".due-badge")) status.after(" ", el("span", "due-badge", "follow-up due"));
    const who = `${f.name || "(no name)"} ${f.phone_display || f.phone || ""}`.trim();
    if (notices && !(f.replay && stored(localStorage, DISMISSED_KEY).has(key))) {
      const item = el("p", "notice notice-followup");
      item.setAttribute("role", "alert");
      item.dataset.lead = f.lead;
      const link = el("a", "", who);
      link.href = `/app/leads/${encodeURIComponent(f.lead)}`;
      item.append(el("span", "", `Follow-up due (${when(f.at)}${f.site ? `, ${f.site}` : ""}): `), link);
      const close = el("button", "notice-close", "Dismiss");
      close.type = "button";
      close.addEventListener("click", () => {
        item.remove();
        const dismissed = stored(localStorage, DISMISSED_KEY);
        dismissed.add(key);
        remember(localStorage, DISMISSED_KEY, dismissed);
      });
      item.append(close);
      notices.prepend(item);
    }
    const heard = heardFollowUps();
    if (heard.has(key)) return;
    heard.add(key);
    remember(sessionStorage, FOLLOW_UPS_KEY, heard);
    ring();
    notify(`Follow-up due: ${who}`, { body: f.site || "", tag: `follow-up-${f.lead}`, requireInteraction: true },
      () => { location.href = `/app/leads/${encodeURIComponent(f.lead)}`; });
  }

  // -- who I am and the socket -------------------------------------------------------------
  const me = { id: null, available: availButton ? availButton.getAttribute("aria-pressed") === "true" : true };
  let ws = null;
  const pending = new Map(); // frame id -> { ok(frame), fail(frame) }
  // Claims and outcomes are kept until answered and sent again, same id, after every reconnect
  // (as a widget's outbox, in memory): the server acks one it stored before its answer was lost.
  const kept = new Map(); // frame id -> frame
  const outbox = []; // frames from other scripts (beckon-send) waiting for the socket to open
  const relayed = new Set(); // ids of their frames sent and not answered yet

  function send(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }
  // A frame that changes state: an id, and an answer (ack or error) routed back to its caller.
  // A kept one waits for the socket instead of failing when it is down.
  function request(frame, handlers, keep = false) {
    frame.id = newId();
    if (keep) {
      kept.set(frame.id, frame);
      pending.set(frame.id, handlers);
      send(frame);
      return frame.id;
    }
    if (!send(frame)) {
      handlers.fail({ code: "offline", message: "Not connected. Wait until the dashboard is live again, then retry." });
      return null;
    }
    pending.set(frame.id, handlers);
    return frame.id;
  }

  // -- the event channel for the page's other scripts (see the top of the file) --------------
  const emit = (name, detail) => document.dispatchEvent(new CustomEvent(name, { detail }));
  function relay(frame) {
    if (!send(frame)) return false;
    if (frame.id != null) relayed.add(frame.id);
    return true;
  }
  document.addEventListener("beckon-send", (event) => {
    const frame = event.detail;
    if (!frame || typeof frame !== "object" || typeof frame.type !== "string") return;
    if (!relay(frame)) outbox.push(frame);
  });
  document.addEventListener("beckon-chime", () => chime());
  document.addEventListener("beckon-alert", () => {
    chime();
    unseenChat += 1;
    applyTitle();
  });

  // -- availability --------------------------------------------------------------------------
  function showAvailability(on) {
    me.available = on;
    if (!availButton) return;
    availButton.setAttribute("aria-pressed", on ? "true" : "false");
    availButton.textContent = on ? "Available" : "Away";
    availButton.classList.toggle("away", !on);
  }
  if (availButton) {
    availButton.addEventListener("click", () => {
      const on = availButton.getAttribute("aria-pressed") !== "true";
      availButton.disabled = true;
      request({ type: "available", on }, {
        ok: () => { showAvailability(on); availButton.disabled = !live; },
        fail: (f) => { availButton.disabled = !live; notice(f.message || "Could not change availability.", "error"); },
      });
    });
  }

  // -- the callback queue ------------------------------------------------------------------
  // ref -> { data: last callback frame, el: article or null, ui: { panel, when, pending, error, doneTimer } }
  const callbacks = new Map();
  let skew = 0; // server clock minus ours, seconds
  const serverNow = () => Date.now() / 1000 + skew;
  let inputCount = 0;

  const isOpenForClaim = (d) => !d.claimed_by && (d.state === "ringing" || d.state === "missed" ||
    (d.state === "scheduled" && d.scheduled_for && d.scheduled_for <= serverNow()));
  const isMine = (d) => !!(d.claimed_by && me.id !== null && d.claimed_by.id === me.id);
  const offeredToMe = (d) => me.id !== null && Array.isArray(d.offered_to) && d.offered_to.includes(me.id);
  const ringsForMe = (d) => (d.state === "ringing" || d.state === "missed") && !d.claimed_by && offeredToMe(d);
  function ringingForMe() {
    return [...callbacks.values()].filter((cb) => !cb.ui.done && ringsForMe(cb.data));
  }

  // Missed on top, then ringing (for me first), then the calls I hold, then scheduled (soonest
  // first), then callbacks other managers hold. Within a group, the least time left first.
  function rank(d) {
    if (d.state === "missed") return 0;
    if (d.state === "ringing") return 1;
    if (d.state === "claimed" && isMine(d)) return 2;
    if (d.state === "scheduled") return 3;
    if (d.state === "claimed") return 4;
    return 5;
  }
  function compare(a, b) {
    const x = a.data;
    const y = b.data;
    if (rank(x) !== rank(y)) return rank(x) - rank(y);
    if (ringsForMe(x) !== ringsForMe(y)) return ringsForMe(x) ? -1 : 1;
    const key = (d) => (d.state === "scheduled" ? d.scheduled_for : d.due_at) || 0;
    return key(x) - key(y) || y.seq - x.seq;
  }

  function placeCards() {
    if (!queue) return;
    const ordered = [...callbacks.values()].filter((cb) => cb.el).sort(compare);
    // Move only what is out of place: moving a node would take the keyboard focus out of it.
    ordered.forEach((cb, i) => {
      if (queue.children[i] !== cb.el) queue.insertBefore(cb.el, queue.children[i] || null);
    });
    if (noCallbacks) noCallbacks.hidden = ordered.length > 0;
  }

  function timerText(d) {
    const now = serverNow();
    if (d.state === "scheduled") {
      return d.scheduled_for > now ? `Rings in ${span(d.scheduled_for - now)}` : "Due now";
    }
    if (!d.due_at) return "";
    const left = d.due_at - now;
    if (left < 0) return `Overdue by ${span(-left)}`;
    return `${d.state === "missed" ? "New promise" : "Promise"}: ${span(left)} left`;
  }

  function badgeText(d) {
    if (d.state === "missed") return "Missed — promise broken";
    if (d.state === "ringing") return "Ringing";
    if (d.state === "scheduled") return "Scheduled";
    if (d.state === "claimed") return "Claimed";
    return "Done";
  }

  function fact(dl, label, value, className) {
    dl.append(el("dt", "", label));
    dl.append(el("dd", className || "", value || "—"));
  }

  function sourceText(d) {
    const utm = Object.entries(d.utm || {}).filter(([, v]) => v).map(([k, v]) => `${k}: ${v}`);
    return [d.source, utm.join(", ")].filter(Boolean).join(" · ");
  }

  function button(text, action, className) {
    const b = el("button", className || "", text);
    b.type = "button";
    b.dataset.action = action;
    return b;
  }

  function busy(cb) {
    const p = cb.ui.pending;
    return !!p && !(p.acked && p.settled(cb.data));
  }

  function render(cb) {
    if (!queue) return;
    const d = cb.data;
    const ui = cb.ui;
    const card = cb.el || (cb.el = el("article"));
    const focusKey = card.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
    card.replaceChildren();
    const mine = isMine(d);
    const forMe = !ui.done && ringsForMe(d);
    card.className = `cb cb-${ui.done ? "done" : d.state}${forMe ? " cb-for-me" : ""}${mine ? " cb-mine" : ""}`;
    card.dataset.ref = d.lead;
    const who = d.name || d.phone_display || d.phone || "(no name)";
    card.setAttribute("aria-label", `Callback from ${who}`);

    const head = el("div", "cb-head");
    head.append(el("span", "cb-badge", ui.done ? `Done: ${outcomeLabel(d.outcome)}` : badgeText(d)));
    if (forMe) head.append(el("span", "cb-for-you", "Ringing for you"));
    const timer = el("span", "cb-timer", ui.done ? "" : timerText(d));
    timer.setAttribute("role", "timer");
    head.append(timer);
    card.append(head);

    card.append(el("h3", "cb-name", d.name || "(no name)"));
    if (d.phone) {
      const tel = el("a", "cb-phone", d.phone_display || d.phone);
      tel.href = `tel:${d.phone}`;
      tel.dataset.action = "dial";
      tel.dataset.focus = "dial";
      card.append(tel);
    } else {
      card.append(el("p", "cb-phone muted", "No phone number"));
    }
    if (d.state === "scheduled" && d.scheduled_for) {
      card.append(el("p", "cb-when-text", `Scheduled for ${windowText(d.scheduled_for, d.window_end)}`));
    }

    const facts = el("dl", "cb-facts");
    fact(facts, "Site", d.site);
    fact(facts, "Page", d.page, "wrap");
    fact(facts, "Source", sourceText(d), "wrap");
    if (d.offer) fact(facts, "Offer", d.offer, "cb-offer");
    if (d.about) fact(facts, d.kind === "quiz" ? "Quiz" : "From", d.about, "wrap");
    card.append(facts);

    const previous = Array.isArray(d.previous) ? d.previous : [];
    const prev = el("div", "cb-prev");
    if (previous.length) {
      prev.append(el("h4", "", "Previous requests"));
      const ul = el("ul");
      for (const p of previous) {
        const li = el("li");
        const a = el("a", "", `${p.kind} · ${when(p.created_at)}`);
        a.href = `/app/leads/${encodeURIComponent(p.ref)}`;
        li.append(a, document.createTextNode(` · ${p.status}${p.claimed_by ? ` · ${p.claimed_by}` : ""}`));
        ul.append(li);
      }
      prev.append(ul);
    } else {
      prev.append(el("p", "muted", "First request from this visitor"));
    }
    card.append(prev);

    if (!ui.done) {
      const line = (text, quiet) => card.append(el("p", quiet ? "cb-who muted" : "cb-who", text));
      if (d.state === "claimed") line(mine ? "Claimed by you" : `Taken by ${d.claimed_by ? d.claimed_by.name : "another manager"}`);
      else if (d.state === "scheduled" && d.claimed_by) line(mine ? "Rescheduled by you" : `Rescheduled by ${d.claimed_by.name}`);
      else if ((d.state === "ringing" || d.state === "missed") && !forMe) {
        line((d.offered_to || []).length ? "Ringing for other managers" : "No manager is being alerted", true);
      }
      if (busy(cb) && !live && !ui.pending.acked) line("Not connected: your click is sent when the dashboard is live again", true);
      if (mine && d.state === "claimed" && d.telephony && d.telephony !== "manual") {
        card.append(el("p", "muted", "Your phone rings first; the visitor is connected when you answer."));
      }

      const actions = el("div", "cb-actions");
      if (isOpenForClaim(d)) actions.append(button("Claim", "claim", "primary"));
      if (mine && d.state === "claimed") {
        for (const [outcome, label] of OUTCOMES) {
          const b = button(label, "outcome", outcome === "connected" ? "primary" : "");
          b.dataset.outcome = outcome;
          b.dataset.focus = `outcome-${outcome}`;
          if (ui.panel === outcome) b.setAttribute("aria-expanded", "true");
          else if (outcome === "no_answer" || outcome === "reschedule") b.setAttribute("aria-expanded", "false");
          actions.append(b);
        }
      }
      for (const b of actions.querySelectorAll("button")) {
        b.dataset.focus = b.dataset.focus || b.dataset.action;
        b.disabled = busy(cb);
      }
      if (actions.children.length) card.append(actions);

      if (mine && d.state === "claimed" && ui.panel) card.append(whenForm(cb));
    }
    if (ui.error) {
      const error = el("p", "cb-error", ui.error);
      error.setAttribute("role", "alert");
      card.append(error);
    }
    if (focusKey) {
      const again = card.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`);
      if (again && !again.disabled) again.focus();
    }
  }

  // "Reschedule" needs a time; "No answer" may take one (a retry) or none (close it).
  function whenForm(cb) {
    const ui = cb.ui;
    const form = el("form", "cb-when");
    form.dataset.panel = ui.panel;
    form.noValidate = true; // our own message, in the card's alert, instead of the browser's bubble
    form.append(el("p", "cb-when-title", ui.panel === "reschedule"
      ? "When should we call back?"
      : "No answer. Try again later? Leave the time empty to close it without a retry."));
    const id = `cb-when-${++inputCount}`;
    const label = el("label", "", "Call back at");
    label.htmlFor = id;
    const input = el("input");
    input.type = "datetime-local";
    input.id = id;
    input.dataset.focus = "when";
    input.min = localInputValue(new Date());
    input.max = localInputValue(new Date(Date.now() + 89 * 86400 * 1000)); // the server takes up to 90 days
    input.required = ui.panel === "reschedule";
    input.value = ui.when;
    input.addEventListener("input", () => { ui.when = input.value; });
    const save = el("button", "primary", "Save");
    save.type = "submit";
    save.dataset.focus = "save";
    const cancel = button("Cancel", "cancel");
    save.disabled = cancel.disabled = busy(cb);
    const row = el("div", "cb-when-row");
    row.append(input, save, cancel);
    form.append(label, row);
    return form;
  }

  function openPanel(cb, outcome) {
    cb.ui.error = "";
    if (cb.ui.panel !== outcome) {
      cb.ui.panel = outcome;
      if (outcome === "reschedule" && !cb.ui.when) {
        const soon = new Date(Date.now() + 3600 * 1000);
        soon.setMinutes(Math.ceil(soon.getMinutes() / 15) * 15, 0, 0);
        cb.ui.when = localInputValue(soon);
      }
    }
    render(cb);
    const input = cb.el && cb.el.querySelector('input[type="datetime-local"]');
    if (input) input.focus();
  }

  function act(cb, frame, settled, after) {
    cb.ui.error = "";
    const handlers = {
      settled,
      acked: false,
      ok: (f) => {
        handlers.acked = true;
        if (cb.ui.pending === handlers && settled(cb.data)) cb.ui.pending = null;
        if (after) after(f);
        if (callbacks.get(cb.data.lead) === cb) render(cb);
      },
      fail: (f) => {
        if (cb.ui.pending === handlers) cb.ui.pending = null;
        const message = f.message || "That did not work. Try again.";
        if (callbacks.get(cb.data.lead) === cb && cb.el && !cb.ui.done) {
          cb.ui.error = message;
          render(cb);
        } else {
          notice(message, "error");
        }
      },
    };
    cb.ui.pending = handlers;
    request(frame, handlers, true);
    render(cb);
  }

  function claim(cb, after) {
    act(cb, { type: "claim", lead: cb.data.lead }, (d) => isMine(d) || d.state === "done", after);
  }

  function dialed(cb) {
    request({ type: "dialed", lead: cb.data.lead }, {
      ok: () => {},
      fail: (f) => {
        cb.ui.error = f.message || "Could not record the call.";
        render(cb);
      },
    });
  }

  function outcome(cb, value, at) {
    const frame = { type: "outcome", lead: cb.data.lead, outcome: value };
    if (at !== undefined) frame.at = at;
    act(cb, frame, (d) => d.state !== "claimed" || !isMine(d), () => { cb.ui.panel = null; cb.ui.when = ""; });
  }

  if (queue) {
    queue.addEventListener("click", (event) => {
      const target = event.target.closest("[data-action]");
      const card = target && target.closest("article[data-ref]");
      const cb = card && callbacks.get(card.dataset.ref);
      if (!cb || cb.el !== card) return;
      const action = target.dataset.action;
      if (action === "claim") {
        claim(cb);
      } else if (action === "dial") {
        // Calling the number is handling it: take an unclaimed callback, then note when the call began.
        if (isMine(cb.data) && cb.data.state === "claimed") dialed(cb);
        else if (isOpenForClaim(cb.data) && !busy(cb)) claim(cb, () => dialed(cb));
      } else if (action === "outcome") {
        const value = target.dataset.outcome;
        if (value === "reschedule" || value === "no_answer") openPanel(cb, value);
        else outcome(cb, value);
      } else if (action === "cancel") {
        cb.ui.panel = null;
        cb.ui.error = "";
        render(cb);
        const back = cb.el.querySelector('[data-action="outcome"]');
        if (back) back.focus();
      }
    });
    queue.addEventListener("submit", (event) => {
      event.preventDefault();
      const card = event.target.closest("article[data-ref]");
      const cb = card && callbacks.get(card.dataset.ref);
      if (!cb || !cb.ui.panel) return;
      const input = card.querySelector('input[type="datetime-local"]');
      const value = input ? input.value : "";
      cb.ui.when = value;
      if (!value) {
        if (cb.ui.panel === "no_answer") { outcome(cb, "no_answer"); return; }
        cb.ui.error = "Pick when to call back.";
        render(cb);
        return;
      }
      const at = new Date(value).getTime() / 1000;
      if (!Number.isFinite(at) || at <= Date.now() / 1000) {
        cb.ui.error = "Pick a time in the future.";
        render(cb);
        return;
      }
      outcome(cb, cb.ui.panel, at);
    });
  }

  // -- alerts for callbacks ringing for me ---------------------------------------------------
  let ringTimer = null;
  const alerted = new Map(); // ref -> state the alert was raised for
  const notes = new Map(); // ref -> Notification

  function focusCard(ref) {
    const cb = callbacks.get(ref);
    if (cb && cb.el) {
      cb.el.scrollIntoView({ block: "center" });
      const target = cb.el.querySelector('[data-action="claim"]') || cb.el.querySelector("a.cb-phone");
      if (target) target.focus();
    } else if (!queue) {
      location.href = "/app/leads#callbacks";
    }
  }

  function refreshAlerts() {
    const ringing = ringingForMe();
    const refs = new Set(ringing.map((cb) => cb.data.lead));
    let fresh = false;
    for (const ref of [...alerted.keys()]) {
      if (!refs.has(ref)) {
        alerted.delete(ref);
        const note = notes.get(ref);
        if (note) note.close();
        notes.delete(ref);
      }
    }
    for (const cb of ringing) {
      const d = cb.data;
      if (alerted.get(d.lead) === d.state) continue;
      const again = alerted.has(d.lead);
      alerted.set(d.lead, d.state);
      fresh = true;
      const body = [d.state === "missed" ? "Promise broken: call now." : "", d.site, d.page].filter(Boolean).join(" · ");
      const note = notify(`Callback request: ${d.name || "(no name)"} ${d.phone_display || d.phone || ""}`.trim(), {
        body, tag: d.lead, requireInteraction: true, renotify: again,
      }, () => focusCard(d.lead));
      if (note) notes.set(d.lead, note);
    }
    // The ring repeats every few seconds, focused tab or not, until nobody needs me.
    if (ringing.length && (fresh || !ringTimer)) {
      clearInterval(ringTimer);
      ring();
      ringTimer = setInterval(ring, RING_EVERY_MS);
    } else if (!ringing.length && ringTimer) {
      clearInterval(ringTimer);
      ringTimer = null;
    }
    if (ringing.length && !blinkTimer) {
      blinkOn = true;
      blinkTimer = setInterval(() => { blinkOn = !blinkOn; applyTitle(); }, 1000);
    } else if (!ringing.length && blinkTimer) {
      clearInterval(blinkTimer);
      blinkTimer = null;
      blinkOn = false;
    }
    applyTitle();
    if (ringingLink) {
      ringingLink.hidden = !!queue || !ringing.length;
      ringingLink.textContent = ringing.length === 1 ? "1 callback ringing" : `${ringing.length} callbacks ringing`;
    }
    refreshSoundButton();
  }

  function upsertCallback(d) {
    if (typeof d.server_time === "number") skew = d.server_time - Date.now() / 1000;
    let cb = callbacks.get(d.lead);
    // Frames can cross (a broadcast and a reply): never let an older state overwrite a newer one.
    if (cb && typeof d.server_time === "number" && d.server_time < (cb.data.server_time || 0)) return;
    showRowStatus(d);
    if (d.state === "done") {
      if (!cb) return;
      cb.data = d;
      cb.ui.done = true;
      cb.ui.pending = null;
      cb.ui.panel = null;
      render(cb);
      clearTimeout(cb.ui.doneTimer);
      cb.ui.doneTimer = setTimeout(() => removeCallback(d.lead, cb), DONE_LINGER_MS);
      refreshAlerts();
      return;
    }
    if (!cb) {
      cb = { data: d, el: null, ui: { panel: null, when: "", pending: null, error: "", done: false } };
      callbacks.set(d.lead, cb);
    } else {
      clearTimeout(cb.ui.doneTimer);
      cb.ui.done = false;
      cb.data = d;
      if (cb.ui.pending && cb.ui.pending.acked) cb.ui.pending = null;
      if (cb.ui.panel && !(isMine(d) && d.state === "claimed")) cb.ui.panel = null;
    }
    render(cb);
    placeCards();
    refreshAlerts();
  }

  function removeCallback(ref, cb) {
    if (callbacks.get(ref) !== cb) return;
    callbacks.delete(ref);
    if (cb.el) cb.el.remove();
    placeCards();
    refreshAlerts();
  }

  // Once a second: the promise timers, and scheduled callbacks that have come due.
  setInterval(() => {
    for (const cb of callbacks.values()) {
      if (!cb.el || cb.ui.done) continue;
      const due = isOpenForClaim(cb.data);
      if (cb.data.state === "scheduled" && due !== cb.ui.dueShown) {
        cb.ui.dueShown = due;
        render(cb);
        continue;
      }
      const timer = cb.el.querySelector(".cb-timer");
      if (timer) timer.textContent = timerText(cb.data);
    }
  }, 1000);

  // -- the socket ------------------------------------------------------------------------------
  let since = list ? Number(list.dataset.since || 0) : 0;
  let delay = 1000;
  let live = false;
  let pinger = null;
  let sweep = null; // callbacks not (re)confirmed since the last welcome

  function connect() {
    const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/manager`);
    ws = socket;
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "hello", since }));
      // The server answers frames in order, so this pong arrives after the whole callback queue.
      socket.send(JSON.stringify({ type: "ping" }));
      pinger = setInterval(() => send({ type: "ping" }), PING_EVERY_MS);
      while (outbox.length && relay(outbox[0])) outbox.shift();
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (!frame || typeof frame !== "object") return;
      if (frame.type === "welcome") {
        delay = 1000;
        live = true;
        me.id = frame.user_id;
        if (typeof frame.available === "boolean") showAvailability(frame.available);
        if (availButton) availButton.disabled = false;
        sweep = new Set(callbacks.keys());
        state.textContent = "Live";
        state.className = "live-state live";
        for (const frame of kept.values()) send(frame); // unanswered claims and outcomes, same ids
        for (const cb of callbacks.values()) render(cb);
        placeCards();
        refreshAlerts();
        emit("beckon-welcome", { user_id: frame.user_id, user: frame.user, available: frame.available });
      } else if (frame.type === "lead") {
        since = Math.max(since, frame.seq);
        if (addRow(frame)) alertManager(frame);
      } else if (frame.type === "callback" && typeof frame.lead === "string") {
        if (sweep) sweep.delete(frame.lead);
        upsertCallback(frame);
      } else if (frame.type === "pong") {
        if (sweep) {
          for (const ref of sweep) {
            const cb = callbacks.get(ref);
            if (cb) removeCallback(ref, cb);
          }
          sweep = null;
        }
      } else if (frame.type === "ack" || frame.type === "error") {
        const handlers = frame.id != null ? pending.get(frame.id) : null;
        if (frame.id != null && relayed.has(frame.id)) {
          relayed.delete(frame.id); // the script that sent it shows the answer
        } else if (handlers) {
          pending.delete(frame.id);
          kept.delete(frame.id);
          if (frame.type === "ack") handlers.ok(frame);
          else handlers.fail(frame);
        } else if (frame.type === "error") {
          notice(frame.message || "Something went wrong.", "error");
        }
      } else if (frame.type === "follow_up" && typeof frame.lead === "string") {
        showFollowUp(frame);
      } else if (frame.type === "me") {
        if (typeof frame.available === "boolean") showAvailability(frame.available);
      } else if (frame.type === "notice" && frame.text) {
        notice(frame.text, frame.level);
      }
      emit("beckon-frame", frame);
    });
    socket.addEventListener("close", (event) => {
      ws = null;
      live = false;
      sweep = null;
      clearInterval(pinger);
      if (availButton) availButton.disabled = true;
      const lost = [];
      for (const [id, handlers] of pending) {
        if (kept.has(id)) continue; // sent again after the reconnect
        pending.delete(id);
        lost.push(handlers);
      }
      for (const cb of callbacks.values()) render(cb); // a kept claim or outcome says it waits
      for (const handlers of lost) handlers.fail({ code: "offline", message: "The connection dropped before the server answered. Check the card, then retry." });
      const unanswered = [...relayed];
      relayed.clear();
      emit("beckon-offline", null);
      for (const id of unanswered) {
        emit("beckon-frame", { type: "error", id, code: "offline", message: "The connection dropped before the server answered." });
      }
      state.textContent = "Reconnecting…";
      state.className = "live-state down";
      if (event.code === 4401) { location.href = "/app/login"; return; }
      setTimeout(connect, delay * (0.5 + Math.random() / 2));
      delay = Math.min(delay * 1.5, 30000);
    });
  }
  refreshSoundButton();
  connect();
})();
