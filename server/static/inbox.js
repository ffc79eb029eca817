// Chat for managers. On every dashboard page: the unread count on the top bar's "Inbox" link and
// the chat alerts (chime, desktop notification, tab title). On /app/inbox: the conversation list,
// the conversation and what we know about the visitor.
// It shares app.js's /ws/manager socket through events on `document` (described at the top of
// app.js) and opens no socket of its own. Everything people typed is shown with textContent only.
import { dayFormat, el, newId, timeFormat } from "./dom.js";

(() => {
  "use strict";
  const byId = (id) => document.getElementById(id);
  if (!byId("live-state")) return; // signed out: no socket, nothing to do

  const TYPING_EVERY_MS = 3000; // "I'm typing" at most this often
  const TYPING_IDLE_MS = 4000; // ... and "stopped" after this long without a key
  const TYPING_SHOWN_MS = 8000; // the visitor's indicator goes away if their "stopped" got lost
  const REMIND_EVERY_MS = 30000; // chime again while a chat waits for me, unanswered and unread
  const MESSAGE_ALERT_WAIT_MS = 400; // a conversation frame announced a message: wait for the message itself
  const PREVIEW_CHARS = 80;
  const MAX_FRAME_CHARS = 4000; // the server keeps chat messages to 4000 characters

  // -- small helpers -----------------------------------------------------------------------
  const str = (v) => (v === undefined || v === null ? "" : String(v));
  const obj = (v) => (v && typeof v === "object" && !Array.isArray(v) ? v : {});
  const arr = (v) => (Array.isArray(v) ? v : []);
  const seconds = (t) => (typeof t === "number" && Number.isFinite(t) ? (t > 1e12 ? t / 1000 : t) : null);
  const fullFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });
  // style "short": "10:02" today, else "Mon 24 Nov"; "full": always "Mon 24 Nov 10:02";
  // default: "10:02" today, else "Mon 24 Nov 10:02".
  function timeEl(t, className, style) {
    const s = seconds(t);
    const node = el("time", className || "");
    if (s === null) return node;
    const date = new Date(s * 1000);
    const today = date.toDateString() === new Date().toDateString();
    const day = dayFormat.format(date).replace(",", "");
    const clock = timeFormat.format(date);
    node.dateTime = date.toISOString();
    node.title = fullFormat.format(date);
    if (style === "short") node.textContent = today ? clock : day;
    else node.textContent = today && style !== "full" ? clock : `${day} ${clock}`;
    return node;
  }
  // Only http(s) becomes a link; anything else stays text.
  function safeLink(url, label) {
    let parsed;
    try { parsed = new URL(str(url)); } catch { return null; }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
    const a = el("a", "", label || parsed.href);
    a.href = parsed.href;
    a.rel = "noopener noreferrer nofollow";
    a.target = "_blank";
    return a;
  }
  const URLS = /\bhttps?:\/\/[^\s<>"']+/gi;
  function linkified(text) {
    const frag = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(URLS)) {
      let url = match[0].replace(/[.,;:!?\]}'"]+$/, "");
      // "(see https://x.example/a)" ends before the ")", "https://x.example/a_(b)" keeps it.
      while (url.endsWith(")") && (url.match(/\(/g) || []).length < (url.match(/\)/g) || []).length) {
        url = url.slice(0, -1).replace(/[.,;:!?]+$/, "");
      }
      const link = safeLink(url, url);
      if (!link) continue;
      frag.append(text.slice(last, match.index), link);
      last = match.index + url.length;
    }
    frag.append(text.slice(last));
    return frag;
  }

  // -- the socket, through app.js ----------------------------------------------------------
  const emit = (name, detail) => document.dispatchEvent(new CustomEvent(name, { detail }));
  const waiting = new Map(); // frame id -> { ok(frame), fail(frame) }
  let live = false;
  function request(frame, handlers, id) {
    frame.id = id || newId();
    waiting.set(frame.id, handlers);
    emit("beckon-send", frame);
    return frame.id;
  }
  // Typing and read marks are only worth sending now; stale ones are not queued.
  function tell(frame) {
    if (live) emit("beckon-send", frame);
    return live;
  }

  // -- state -------------------------------------------------------------------------------
  const me = { id: null, name: "", available: true };
  const convs = new Map(); // ref -> conversation (see conv())
  let snapshot = true; // the conversations sent right after the first welcome are not news
  let awaitingPong = false;
  let lastChimeAt = 0;

  function conv(ref) {
    let c = convs.get(ref);
    if (!c) {
      c = {
        ref,
        known: false, // a conversation frame has arrived
        data: { conversation: ref, state: "open" },
        msgs: new Map(), // seq -> { seq, author, name, text, at, el }
        outgoing: [], // my replies without a seq yet: { id, text, at, state: sending|sent|failed, error, el }
        loaded: false,
        syncing: null,
        lastSeq: 0,
        unread: 0,
        readTo: 0, // what I told the server I have read
        visitorRead: 0, // what the visitor has read
        alertedTo: 0, // visitor messages up to here have been announced (or were old news)
        alertTimer: null,
        waitingSince: 0,
        confirmed: true,
        typing: false,
        typingTimer: null,
        page: null,
        trail: [], // from the server's cards
        moves: [], // pages seen live (visitor_page) since this page loaded
        context: {},
        managers: [],
        error: "",
        done: "",
        busy: false,
        li: null,
      };
      convs.set(ref, c);
    }
    return c;
  }

  const nameOf = (c) => str(obj(c.data.visitor).name).trim() || "Visitor";
  const isOpen = (c) => c.data.state !== "closed";
  const assignee = (c) => (c.data.assignee && typeof c.data.assignee === "object" ? c.data.assignee : null);
  const isMine = (c) => me.id !== null && !!assignee(c) && assignee(c).id === me.id;
  // Waits for me: open, and mine, or nobody's and offered to me (or to nobody in particular).
  function forMe(c) {
    if (!c.known || !isOpen(c) || me.id === null) return false;
    if (isMine(c)) return true;
    if (assignee(c)) return false;
    const offered = arr(c.data.offered_to);
    return offered.length === 0 || offered.includes(me.id);
  }
  const unreadOf = (c) => (c.readTo >= c.lastSeq ? 0 : Math.max(0, c.unread));
  function maxSeq(c) {
    let m = 0;
    for (const seq of c.msgs.keys()) if (seq > m) m = seq;
    return m;
  }
  function contiguous(c) {
    let n = 0;
    while (c.msgs.has(n + 1)) n += 1;
    return n;
  }
  function setUnread(c, n) {
    const before = unreadOf(c);
    c.unread = n;
    if (!before && unreadOf(c)) c.waitingSince = Date.now();
  }

  // -- alerts ------------------------------------------------------------------------------
  const canNotify = "Notification" in window;
  function notify(title, body, c) {
    if (!canNotify || Notification.permission !== "granted") return;
    try {
      const note = new Notification(title, { body, tag: `chat-${c.ref}`, renotify: true });
      note.addEventListener("click", () => {
        window.focus();
        note.close();
        openFromElsewhere(c.ref);
      });
    } catch {
      // e.g. Android Chrome only notifies from a service worker
    }
  }
  function alertMe(c, title, body) {
    lastChimeAt = Date.now();
    // Looking right at it: the chime is enough.
    if (viewing(c) && document.hasFocus()) {
      emit("beckon-chime", null);
      return;
    }
    emit("beckon-alert", null); // chime + "(n) New message" in the title until the tab is seen
    notify(title, body, c);
  }
  function alertNewChat(c) {
    c.alertedTo = Math.max(c.alertedTo, c.lastSeq);
    alertMe(c, `New chat: ${nameOf(c)}`, [str(c.data.preview).slice(0, PREVIEW_CHARS), str(c.data.site)].filter(Boolean).join(" · "));
  }
  function alertMessage(c, text) {
    clearTimeout(c.alertTimer);
    c.alertTimer = null;
    alertMe(c, `${nameOf(c)}: ${str(text).slice(0, PREVIEW_CHARS)}`, str(c.data.site));
  }
  // Chats that keep waiting for me chime again, focused tab or not, until someone reads them.
  setInterval(() => {
    if (snapshot || Date.now() - lastChimeAt < REMIND_EVERY_MS) return;
    const due = [...convs.values()].some((c) => forMe(c) && unreadOf(c) > 0 && !viewing(c) &&
      (isMine(c) || me.available) && Date.now() - c.waitingSince >= REMIND_EVERY_MS);
    if (due) {
      lastChimeAt = Date.now();
      emit("beckon-chime", null);
    }
  }, 5000);

  // -- the top bar's Inbox link --------------------------------------------------------------
  const inboxLink = byId("inbox-link");
  const inboxUnread = byId("inbox-unread");
  function refreshBadge() {
    let total = 0;
    for (const c of convs.values()) if (forMe(c)) total += unreadOf(c);
    if (inboxUnread) {
      inboxUnread.textContent = total ? String(total) : "";
      inboxUnread.hidden = !total;
    }
    if (inboxLink) {
      if (total) inboxLink.setAttribute("aria-label", `Inbox, ${total} unread`);
      else inboxLink.removeAttribute("aria-label");
    }
  }

  // -- frames --------------------------------------------------------------------------------
  function onConversation(f) {
    if (typeof f.conversation !== "string" || !f.conversation) return;
    const c = conv(f.conversation);
    const fresh = !c.known;
    const before = { assignee: assignee(c), unread: unreadOf(c) };
    c.known = true;
    c.confirmed = true;
    c.data = { ...c.data, ...f };
    if (f.context && typeof f.context === "object") {
      c.context = obj(f.context);
      if (Array.isArray(f.context.trail)) c.trail = f.context.trail.slice();
      if (f.context.page) c.page = obj(f.context.page);
    }
    if (f.page && typeof f.page === "object") c.page = f.page;
    if (Array.isArray(f.managers)) c.managers = f.managers;
    if (typeof f.visitor_read_seq === "number") c.visitorRead = Math.max(c.visitorRead, f.visitor_read_seq);
    if (typeof f.last_seq === "number") c.lastSeq = Math.max(c.lastSeq, f.last_seq);
    if (typeof f.unread === "number") setUnread(c, f.unread);
    if (!isOpen(c)) c.typing = false;

    if (fresh) {
      c.alertedTo = c.lastSeq;
      c.waitingSince = Date.now();
      if (!snapshot && forMe(c)) alertNewChat(c);
    } else if (!snapshot) {
      const now = assignee(c);
      if (isMine(c) && before.assignee && before.assignee.id !== me.id && isOpen(c)) {
        c.alertedTo = Math.max(c.alertedTo, c.lastSeq);
        alertMe(c, `Chat transferred to you: ${nameOf(c)}`, str(c.data.note || c.data.preview).slice(0, PREVIEW_CHARS));
      } else if (isMine(c) && now && c.lastSeq > c.alertedTo && unreadOf(c) > before.unread && !c.alertTimer) {
        // The message itself usually follows; if it does not, announce it from the preview.
        c.alertTimer = setTimeout(() => {
          c.alertTimer = null;
          if (c.lastSeq > c.alertedTo && isMine(c) && unreadOf(c) > 0) {
            c.alertedTo = c.lastSeq;
            alertMessage(c, c.data.preview);
          }
        }, MESSAGE_ALERT_WAIT_MS);
      }
    }
    if (c.lastSeq > c.alertedTo && !isMine(c)) c.alertedTo = c.lastSeq;
    changed(c);
    if (wanted === c.ref) select(c.ref);
  }

  function onMessage(f) {
    if (typeof f.conversation !== "string" || !f.conversation) return;
    const seq = f.seq;
    if (!Number.isInteger(seq) || seq < 1) return;
    const c = conv(f.conversation);
    if (c.msgs.has(seq)) return; // seen it: replays and broadcasts overlap
    const author = ["visitor", "manager", "system"].includes(f.author) ? f.author : "system";
    const msg = { seq, author, name: str(f.name), text: str(f.text), at: seconds(f.at), el: null, mine: false };
    // (the server names managers by their first name)
    if (author === "manager" && (!msg.name || msg.name === me.name || msg.name === me.name.split(/\s+/)[0])) {
      // My own reply, arriving before its ack: it takes the place of the pending copy.
      const mine = c.outgoing.find((o) => o.seq === undefined && o.text === msg.text);
      if (mine) {
        c.outgoing.splice(c.outgoing.indexOf(mine), 1);
        msg.el = mine.el;
        msg.at = msg.at || mine.at;
        msg.mine = true;
      }
    }
    c.msgs.set(seq, msg);
    if (seq > c.lastSeq) {
      c.lastSeq = seq;
      c.data.preview = msg.text;
      if (msg.at) c.data.updated_at = Math.max(seconds(c.data.updated_at) || 0, msg.at);
      if (author === "visitor") setUnread(c, unreadOf(c) + 1);
    }
    if (author === "visitor") {
      c.typing = false;
      if (seq > c.alertedTo) {
        c.alertedTo = seq;
        if (!snapshot && isMine(c)) alertMessage(c, msg.text);
      }
    } else if (seq === c.alertedTo + 1) {
      c.alertedTo = seq; // replies and system lines are nothing to be alerted about
    }
    // A hole in what we hold (e.g. frames lost in a reconnect): ask for it.
    if (c.loaded && seq > contiguous(c) + 1) sync(c);
    changed(c);
  }

  function onTyping(f) {
    const c = convs.get(f.conversation);
    if (!c) return;
    c.typing = f.on === true;
    clearTimeout(c.typingTimer);
    if (c.typing) c.typingTimer = setTimeout(() => { c.typing = false; changed(c); }, TYPING_SHOWN_MS);
    changed(c);
  }

  function onRead(f) {
    const c = convs.get(f.conversation);
    if (!c || !Number.isInteger(f.seq)) return;
    if (f.seq > c.visitorRead) {
      c.visitorRead = f.seq;
      changed(c);
    }
  }

  function onPage(f) {
    const c = convs.get(f.conversation);
    if (!c) return;
    const page = { url: str(f.url), title: str(f.title) };
    c.page = page;
    const last = c.moves[c.moves.length - 1];
    if (!last || last.url !== page.url) c.moves.push({ url: page.url, title: page.title, at: Date.now() / 1000 });
    changed(c);
  }

  document.addEventListener("beckon-frame", (event) => {
    const f = event.detail;
    if (!f || typeof f !== "object") return;
    switch (f.type) {
      case "conversation": onConversation(f); break;
      case "chat_message": onMessage(f); break;
      case "chat_typing": onTyping(f); break;
      case "chat_read": onRead(f); break;
      case "visitor_page": onPage(f); break;
      case "ack":
      case "error": {
        const handlers = f.id != null ? waiting.get(f.id) : null;
        if (handlers) {
          waiting.delete(f.id);
          if (f.type === "ack") handlers.ok(f);
          else handlers.fail(f);
        }
        break;
      }
      case "pong":
        if (awaitingPong) {
          awaitingPong = false;
          snapshot = false;
          // Open conversations not sent again after a reconnect were closed meanwhile.
          for (const c of convs.values()) {
            if (!c.confirmed && c.known && isOpen(c)) {
              c.data = { ...c.data, state: "closed" };
              changed(c);
            }
          }
        }
        break;
      case "me":
        if (typeof f.available === "boolean") me.available = f.available;
        break;
      default:
    }
  });

  document.addEventListener("beckon-welcome", (event) => {
    const d = obj(event.detail);
    me.id = d.user_id === undefined ? null : d.user_id;
    me.name = str(d.user);
    if (typeof d.available === "boolean") me.available = d.available;
    live = true;
    awaitingPong = true;
    const again = !snapshot;
    for (const c of convs.values()) c.confirmed = !again;
    // After a reconnect: fill the gaps of what we hold, and send again what the drop interrupted
    // (same frame id: the server answers a repeat with the first answer and stores nothing twice).
    for (const c of convs.values()) {
      if (c.loaded || c.ref === selected) { c.syncing = null; sync(c); }
      for (const o of c.outgoing) if (o.state === "failed" && o.offline) sendReply(c, o);
    }
    changed(null); // "mine" may mean someone else now
    const c = convs.get(selected);
    if (c) changed(c);
  });

  document.addEventListener("beckon-offline", () => {
    live = false;
    typing.on = false;
    clearTimeout(typing.idle);
  });

  // -- requests ------------------------------------------------------------------------------
  function sync(c) {
    if (c.syncing) return;
    const since = contiguous(c);
    c.syncing = request({ type: "chat_sync", conversation: c.ref, since }, {
      ok: () => {
        c.syncing = null;
        c.loaded = true;
        // The server answers a page at a time: ask for the next while the last one brought some.
        if (contiguous(c) > since && contiguous(c) < c.lastSeq) sync(c);
        changed(c);
        markRead(c);
      },
      fail: (f) => {
        c.syncing = null;
        if (f.code !== "offline") c.error = `Could not load the messages: ${f.message || f.code || "error"}`;
        changed(c);
      },
    });
  }

  function sendReply(c, o) {
    o.state = "sending";
    o.error = "";
    o.offline = false;
    c.error = "";
    if (JSON.stringify({ type: "chat_reply", id: o.id, conversation: c.ref, text: o.text }).length > MAX_FRAME_CHARS) {
      o.state = "failed";
      o.error = "This reply is too long.";
      c.error = "Not sent: this reply is too long. Split it into shorter messages.";
      return;
    }
    request({ type: "chat_reply", conversation: c.ref, text: o.text }, {
      ok: (f) => {
        const i = c.outgoing.indexOf(o);
        if (i < 0) return; // its message frame came first and took its place
        if (Number.isInteger(f.seq) && f.seq > 0) {
          c.outgoing.splice(i, 1);
          if (!c.msgs.has(f.seq)) {
            c.msgs.set(f.seq, { seq: f.seq, author: "manager", name: me.name, text: o.text, at: o.at, el: o.el, mine: true });
            if (f.seq > c.lastSeq) {
              c.lastSeq = f.seq;
              c.data.preview = o.text;
              c.data.updated_at = o.at;
            }
          } else {
            // Its broadcast came first under another name match: it is still mine.
            const held = c.msgs.get(f.seq);
            if (held.author === "manager") held.mine = true;
          }
        } else {
          o.state = "sent";
        }
        changed(c);
      },
      fail: (f) => {
        o.state = "failed";
        o.offline = f.code === "offline";
        o.error = f.message || "Not sent.";
        c.error = o.offline
          ? "Your reply was not confirmed before the connection dropped. It will be sent again when the dashboard is live."
          : `Not sent: ${o.error}`;
        changed(c);
      },
    }, o.id);
  }

  function reply(c, text) {
    const o = { id: newId(), text, at: Date.now() / 1000, state: "sending", error: "", el: null };
    c.outgoing.push(o);
    sendReply(c, o);
    changed(c, { scroll: true });
  }

  function act(c, type, extra, done) {
    c.busy = true;
    c.error = "";
    c.done = "";
    changed(c);
    request({ type, conversation: c.ref, ...extra }, {
      ok: (f) => {
        c.busy = false;
        if (done) done(f);
        changed(c);
      },
      fail: (f) => {
        c.busy = false;
        c.error = f.message || "That did not work. Try again.";
        changed(c);
      },
    });
  }

  // -- typing and read marks -------------------------------------------------------------------
  const typing = { on: false, ref: null, sentAt: 0, idle: null };
  function typed(ref) {
    const now = Date.now();
    if (typing.on && typing.ref !== ref) stopTyping();
    if (!typing.on || now - typing.sentAt >= TYPING_EVERY_MS) {
      if (tell({ type: "chat_typing", conversation: ref, on: true })) {
        typing.on = true;
        typing.ref = ref;
        typing.sentAt = now;
      }
    }
    clearTimeout(typing.idle);
    typing.idle = setTimeout(stopTyping, TYPING_IDLE_MS);
  }
  function stopTyping() {
    clearTimeout(typing.idle);
    if (typing.on) tell({ type: "chat_typing", conversation: typing.ref, on: false });
    typing.on = false;
  }

  function markRead(c) {
    if (!c.loaded || !viewing(c)) return;
    const seq = maxSeq(c);
    // My own replies are no news: a read mark only for what someone else wrote.
    if (![...c.msgs.values()].some((m) => m.seq > c.readTo && !m.mine)) return;
    if (!tell({ type: "chat_read", conversation: c.ref, seq })) return;
    c.readTo = seq;
    if (seq >= c.lastSeq) c.unread = 0;
    changed(c);
  }

  // -- the inbox page ----------------------------------------------------------------------------
  const root = byId("inbox");
  let selected = null;
  let wanted = null; // asked for (address, notification) before its conversation frame arrived
  const narrow = window.matchMedia("(max-width: 800px)");
  function viewing(c) {
    return !!root && selected === c.ref && document.visibilityState === "visible" &&
      (!narrow.matches || root.dataset.view === "chat");
  }
  function openFromElsewhere(ref) {
    const hash = `#chat=${encodeURIComponent(ref)}`;
    if (root) {
      if (location.hash !== hash) location.hash = hash;
      else select(ref);
    } else {
      location.href = `/app/inbox${hash}`;
    }
  }

  // Something about a conversation changed: the open conversation is redrawn at once; the list and
  // the badge a moment later, once for a burst of frames (hundreds arrive after a welcome).
  const dirty = new Set();
  let everything = false;
  let flushTimer = null;
  let paintList = () => {};
  let paintChat = () => {};
  let select = () => {};
  function flush() {
    flushTimer = null;
    const items = everything ? [...convs.values()] : [...dirty];
    everything = false;
    dirty.clear();
    refreshBadge();
    paintList(items);
  }
  function changed(c, opts) {
    if (c) dirty.add(c);
    else everything = true;
    if (!flushTimer) flushTimer = setTimeout(flush, 16);
    if (c && root && selected === c.ref) {
      paintChat(c, opts);
      if (!(opts && opts.noRead)) markRead(c);
    }
  }

  if (root) {
    const list = byId("conv-list");
    const empty = byId("inbox-empty");
    const filters = [...root.querySelectorAll("[data-filter]")];
    const none = byId("chat-none");
    const view = byId("chat-view");
    const title = byId("chat-title");
    const stateText = byId("chat-state");
    const assigneeText = byId("chat-assignee");
    const closeButton = byId("chat-close");
    const reopenButton = byId("chat-reopen");
    const transferForm = byId("chat-transfer");
    const transferTo = byId("transfer-to");
    const transferNote = byId("transfer-note");
    const transferSubmit = byId("transfer-submit");
    const doneText = byId("chat-done");
    const log = byId("chat-log");
    const typingText = byId("chat-typing");
    const errorText = byId("chat-error");
    const replyForm = byId("chat-reply");
    const replyBox = byId("reply");
    const hint = byId("reply-hint");
    const hintDefault = hint.textContent;
    function setHint(text) {
      if (hint.textContent !== (text || hintDefault)) hint.textContent = text || hintDefault;
      hint.classList.toggle("hint-canned", !!text);
    }
    const closedNote = byId("chat-closed-note");
    const cannedSelect = byId("canned-select");
    const aside = byId("visitor-context");
    const asideBody = byId("context-body");
    const drafts = new Map();
    let filter = (filters.find((b) => b.getAttribute("aria-pressed") === "true") || { dataset: { filter: "all" } }).dataset.filter;

    // Canned replies, from the page (a JSON block: no inline script runs).
    let canned = [];
    try {
      const block = byId("canned");
      canned = arr(JSON.parse(block ? block.textContent : "[]"))
        .map((x) => ({ shortcut: str(obj(x).shortcut).replace(/^\/+/, "").trim(), text: str(obj(x).text) }))
        .filter((x) => x.text);
    } catch {
      canned = [];
    }
    if (cannedSelect) {
      const first = el("option", "", canned.length ? "Insert a canned reply…" : "No canned replies");
      first.value = "";
      cannedSelect.append(first);
      canned.forEach((x, i) => {
        const option = el("option", "", `${x.shortcut ? `/${x.shortcut} — ` : ""}${x.text.length > 60 ? `${x.text.slice(0, 60)}…` : x.text}`);
        option.value = String(i);
        cannedSelect.append(option);
      });
      cannedSelect.disabled = !canned.length;
    }

    const matches = (c) => (filter === "unassigned" ? c.known && isOpen(c) && !assignee(c)
      : filter === "mine" ? c.known && isMine(c) : c.known);
    const activity = (c) => seconds(c.data.updated_at) || 0;

    function listItem(c) {
      const li = c.li || (c.li = el("li", "conv-item"));
      li.dataset.ref = c.ref;
      const a = li.firstElementChild || li.appendChild(el("a", "conv"));
      a.href = `#chat=${encodeURIComponent(c.ref)}`;
      if (selected === c.ref) a.setAttribute("aria-current", "true");
      else a.removeAttribute("aria-current");
      const unread = unreadOf(c);
      a.className = `conv${unread ? " conv-has-unread" : ""}${isOpen(c) ? "" : " conv-closed"}${forMe(c) && !assignee(c) ? " conv-waiting" : ""}`;
      const top = el("span", "conv-top");
      top.append(el("span", "conv-name", nameOf(c)), " ", timeEl(c.data.updated_at, "conv-time", "short"));
      const who = assignee(c);
      const facts = [str(c.data.site), !isOpen(c) ? "Closed" : who ? (isMine(c) ? "You" : str(who.name)) : "Unassigned"].filter(Boolean);
      const parts = [top, " ", el("span", "conv-site", facts.join(" · ")), " ", el("span", "conv-preview", str(c.data.preview).slice(0, 140) || "—")];
      if (unread) {
        const badge = el("span", "conv-unread", String(unread));
        badge.append(el("span", "visually-hidden", " unread"));
        parts.push(" ", badge);
      }
      a.replaceChildren(...parts);
      return li;
    }

    function renderList(items) {
      for (const c of items || []) if (c.known) listItem(c);
      const all = [...convs.values()].filter((c) => c.known);
      all.sort((x, y) => activity(y) - activity(x) || (x.ref < y.ref ? -1 : 1));
      all.forEach((c, i) => {
        const li = c.li || listItem(c);
        li.hidden = !matches(c);
        if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
      });
      const counts = {
        unassigned: all.filter((c) => isOpen(c) && !assignee(c)).length,
        mine: all.filter((c) => isMine(c)).length,
        all: all.length,
      };
      for (const span of root.querySelectorAll("[data-count]")) span.textContent = String(counts[span.dataset.count] || 0);
      const shown = all.filter(matches).length;
      empty.hidden = shown > 0;
      empty.textContent = all.length ? (filter === "mine" ? "No conversations assigned to you." : "No unassigned conversations.") : "No conversations yet.";
    }

    for (const b of filters) {
      b.addEventListener("click", () => {
        filter = b.dataset.filter;
        for (const x of filters) x.setAttribute("aria-pressed", x === b ? "true" : "false");
        renderList();
      });
    }

    // One message, as an element that stays the same across renders.
    function messageEl(c, m, outgoing) {
      const author = outgoing ? "manager" : m.author;
      if (!m.el) {
        m.el = el("div", `msg msg-${author}`);
        m.el.append(el("p", "msg-text"), el("p", "msg-meta"));
        m.el.firstChild.append(linkified(m.text));
      }
      m.el.className = `msg msg-${author}${outgoing ? ` msg-${m.state}` : ""}`;
      if (m.seq) m.el.dataset.seq = String(m.seq);
      const meta = m.el.lastChild;
      const bits = [];
      if (author !== "system") {
        const who = outgoing || m.mine || (author === "manager" && myFirstName(c, m.name)) ? "You"
          : author === "visitor" ? m.name || nameOf(c) : m.name || "Manager";
        bits.push(el("span", "msg-name", who), " · ");
      }
      bits.push(timeEl(m.at, "msg-time"));
      return { node: m.el, meta, bits };
    }

    // Messages from before this page loaded carry only a first name: mine if no colleague shares it.
    function myFirstName(c, name) {
      const first = (n) => str(n).trim().split(/\s+/)[0];
      if (!name || name !== first(me.name)) return false;
      return arr(c.managers).filter((x) => first(obj(x).name) === name).length <= 1;
    }

    function renderLog(c, scroll) {
      const stick = scroll || log.scrollHeight - log.scrollTop - log.clientHeight < 60;
      const ordered = [...c.msgs.values()].sort((x, y) => x.seq - y.seq);
      const nodes = [];
      for (const m of ordered) {
        const { node, meta, bits } = messageEl(c, m, false);
        if (m.author === "manager") {
          const read = m.seq <= c.visitorRead;
          bits.push(" ", el("span", `msg-status${read ? " msg-read" : ""}`, read ? "Read" : "Sent"));
        }
        meta.replaceChildren(...bits);
        nodes.push(node);
      }
      for (const o of c.outgoing) {
        const { node, meta, bits } = messageEl(c, o, true);
        const label = o.state === "failed" ? "Not sent" : o.state === "sent" ? "Sent" : live ? "Sending…" : "Waiting for the connection…";
        bits.push(" ", el("span", "msg-status", label));
        if (o.state === "failed") {
          const retry = el("button", "msg-retry", "Retry");
          retry.type = "button";
          retry.addEventListener("click", () => { sendReply(c, o); changed(c); });
          bits.push(" ", retry);
        }
        meta.replaceChildren(...bits);
        nodes.push(node);
      }
      if (!nodes.length) {
        const quiet = el("p", "chat-quiet muted", c.syncing || !c.loaded ? "Loading messages…" : "No messages yet.");
        nodes.push(quiet);
      }
      // Move only what is out of place (a moved node would lose the focus, e.g. on "Retry").
      nodes.forEach((node, i) => {
        if (log.children[i] !== node) log.insertBefore(node, log.children[i] || null);
      });
      while (log.children.length > nodes.length) log.lastElementChild.remove();
      if (stick) log.scrollTop = log.scrollHeight;
    }

    function section(heading) {
      const s = el("section", "ctx-section");
      s.append(el("h3", "", heading));
      asideBody.append(s);
      return s;
    }
    function facts(pairs) {
      const dl = el("dl", "ctx-facts");
      for (const [label, value] of pairs) {
        dl.append(el("dt", "", label));
        const dd = el("dd", "wrap");
        if (value instanceof Node) dd.append(value);
        else dd.textContent = str(value) || "—";
        dl.append(dd);
      }
      return dl;
    }
    function pageLine(p) {
      const page = obj(p);
      const url = str(page.url);
      const label = str(page.title).trim() || url || "—";
      return safeLink(url, label) || el("span", "", label);
    }
    function valueText(v) {
      if (Array.isArray(v)) return v.map(valueText).join(", ");
      if (v && typeof v === "object") return Object.entries(v).map(([k, x]) => `${k}: ${valueText(x)}`).join(", ");
      return str(v);
    }

    function renderContext(c) {
      // Redrawn only when what it shows changed (a redraw would drop the focus from its links).
      const key = JSON.stringify([c.ref, c.data.visitor, c.data.site, c.data.lead, c.data.rating, c.context, c.page, c.data.page, c.trail, c.moves]);
      if (asideBody.dataset.key === key) return;
      asideBody.dataset.key = key;
      asideBody.replaceChildren();
      const ctx = obj(c.context);
      const visitor = obj(c.data.visitor);
      const contact = [["Name", str(visitor.name) || "—"]];
      const email = str(visitor.email);
      if (/^[^\s@<>"]+@[^\s@<>"]+$/.test(email)) {
        const a = el("a", "", email);
        a.href = `mailto:${email}`;
        contact.push(["Email", a]);
      } else contact.push(["Email", email || "—"]);
      const phone = str(visitor.phone);
      if (/^\+?[\d\s().-]{5,}$/.test(phone)) {
        const a = el("a", "", phone);
        a.href = `tel:${phone.replace(/[^\d+]/g, "")}`;
        contact.push(["Phone", a]);
      } else contact.push(["Phone", phone || "—"]);
      if (c.data.site) contact.push(["Site", str(c.data.site)]);
      if (typeof c.data.lead === "string" && c.data.lead) {
        const a = el("a", "", "Open the lead");
        a.href = `/app/leads/${encodeURIComponent(c.data.lead)}`;
        contact.push(["Lead", a]);
      }
      if (typeof c.data.rating === "number") contact.push(["Rating", `${c.data.rating} of 5`]);
      section("Contact").append(facts(contact));

      const now = section("Current page");
      const current = el("p", "ctx-current wrap");
      current.append(pageLine(c.page || ctx.page || c.data.page));
      const url = str(obj(c.page || ctx.page || c.data.page).url);
      now.append(current);
      if (url && str(obj(c.page || ctx.page || c.data.page).title)) now.append(el("p", "muted wrap ctx-url", url));

      // The server's trail, then the moves seen live that it does not have yet.
      const trail = arr(c.trail).slice();
      for (const move of c.moves) {
        const known = trail.some((t) => str(obj(t).url) === move.url && Math.abs((seconds(obj(t).at) || 0) - move.at) < 120);
        if (!known && str(obj(trail[trail.length - 1]).url) !== move.url) trail.push(move);
      }
      if (trail.length) {
        const s = section("Pages visited");
        const ol = el("ol", "ctx-trail");
        ol.reversed = true; // the latest page first
        for (const step of trail.slice(-20).reverse()) {
          const li = el("li", "wrap");
          li.append(pageLine(step));
          if (seconds(obj(step).at)) li.append(" ", timeEl(step.at, "muted"));
          ol.append(li);
        }
        s.append(ol);
      }

      const utm = Object.entries(obj(ctx.utm)).filter(([, v]) => v);
      if (ctx.source || utm.length) {
        const pairs = [];
        if (ctx.source) pairs.push(["Source", valueText(ctx.source)]);
        for (const [k, v] of utm) pairs.push([k, valueText(v)]);
        section("Source").append(facts(pairs));
      }
      if (ctx.device) section("Device").append(el("p", "wrap ctx-device", valueText(ctx.device)));

      const answers = Object.entries(obj(ctx.answers));
      if (answers.length) section("Quiz answers").append(facts(answers.map(([k, v]) => [k, valueText(v)])));

      const previous = arr(ctx.previous);
      const prev = section("Previous requests");
      if (previous.length) {
        const ul = el("ul", "ctx-previous");
        for (const p of previous.map(obj)) {
          const li = el("li");
          const label = [str(p.kind) || "request", p.created_at ? timeEl(p.created_at, "", "full").textContent : ""].filter(Boolean).join(" · ");
          if (p.ref) {
            const a = el("a", "", label);
            a.href = `/app/leads/${encodeURIComponent(str(p.ref))}`;
            li.append(a);
          } else li.append(label);
          if (p.status) li.append(` · ${str(p.status)}`);
          ul.append(li);
        }
        prev.append(ul);
      } else {
        prev.append(el("p", "muted", "First contact from this visitor."));
      }
    }

    function renderTransfer(c) {
      const keep = transferTo.value;
      const who = assignee(c);
      const others = arr(c.managers).map(obj).filter((m) => m.id !== undefined && m.id !== me.id && !(who && m.id === who.id));
      const key = JSON.stringify([c.ref, others]);
      if (transferTo.dataset.key !== key) {
        transferTo.dataset.key = key;
        transferTo.replaceChildren();
        const first = el("option", "", others.length ? "Choose a manager" : "No other manager on this site");
        first.value = "";
        transferTo.append(first);
        for (const m of others) {
          const option = el("option", "", str(m.name) || `Manager ${m.id}`);
          option.value = String(m.id);
          transferTo.append(option);
        }
        if (others.some((m) => String(m.id) === keep)) transferTo.value = keep;
      }
      transferTo.disabled = !others.length || c.busy;
      transferNote.disabled = !others.length || c.busy;
      transferSubmit.disabled = !others.length || c.busy || !isOpen(c);
    }

    function renderChat(c, opts) {
      const who = assignee(c);
      title.textContent = nameOf(c);
      stateText.textContent = isOpen(c) ? "Open" : "Closed";
      stateText.className = `chat-state ${isOpen(c) ? "chat-open" : "chat-closed"}`;
      assigneeText.textContent = who
        ? (isMine(c) ? "Assigned to you" : `Assigned to ${str(who.name) || "another manager"}`)
        : isOpen(c) ? "Unassigned: your first reply takes it" : "Unassigned";
      closeButton.hidden = !isOpen(c);
      reopenButton.hidden = isOpen(c);
      closeButton.disabled = reopenButton.disabled = c.busy;
      closedNote.hidden = isOpen(c);
      renderTransfer(c);
      doneText.textContent = c.done;
      typingText.hidden = !(c.typing && isOpen(c));
      errorText.hidden = !c.error;
      errorText.textContent = c.error;
      renderLog(c, opts && opts.scroll);
      renderContext(c);
    }

    paintList = renderList;
    paintChat = renderChat;

    function showView(which) {
      root.dataset.view = which;
    }

    select = (ref) => {
      const c = ref ? convs.get(ref) : null;
      if (!c || !c.known) {
        wanted = ref || null;
        if (selected) leave();
        none.hidden = false;
        view.hidden = true;
        aside.hidden = true;
        showView("list");
        return;
      }
      wanted = null;
      const switching = selected !== ref;
      if (switching) {
        if (selected) leave();
        selected = ref;
        log.replaceChildren();
        replyBox.value = drafts.get(ref) || "";
        c.done = "";
        transferNote.value = "";
        setHint("");
      }
      none.hidden = true;
      view.hidden = false;
      aside.hidden = false;
      showView("chat");
      sync(c); // every (re)opening asks for what we may have missed
      changed(c, { scroll: switching });
      if (switching && !narrow.matches) replyBox.focus({ preventScroll: true });
    };

    function leave() {
      const c = convs.get(selected);
      if (c) drafts.set(c.ref, replyBox.value);
      stopTyping();
      selected = null;
      if (c) changed(c); // its list item loses aria-current
    }

    function fromAddress() {
      const m = /^#chat=(.+)$/.exec(location.hash);
      let ref = null;
      if (m) {
        try { ref = decodeURIComponent(m[1]); } catch { ref = null; }
      }
      if (ref !== selected || (ref && root.dataset.view !== "chat")) select(ref);
    }
    window.addEventListener("hashchange", fromAddress);
    fromAddress();

    byId("chat-back").addEventListener("click", () => {
      if (selected) leave();
      history.pushState(null, "", location.pathname + location.search);
      select(null);
      const a = list.querySelector("a[aria-current]") || list.querySelector("a.conv");
      if (a) a.focus();
    });

    // Replying.
    function submitReply() {
      const c = convs.get(selected);
      if (!c) return;
      const text = replyBox.value.trim();
      if (!text) return;
      replyBox.value = "";
      drafts.delete(c.ref);
      setHint("");
      stopTyping();
      reply(c, text);
    }
    replyForm.addEventListener("submit", (event) => {
      event.preventDefault();
      submitReply();
      replyBox.focus();
    });

    // "/shortcut" + Tab: the canned reply of that shortcut (or the only one it starts).
    function cannedAtCaret() {
      const end = replyBox.selectionStart;
      if (end !== replyBox.selectionEnd) return null;
      const m = /(?:^|\s)\/([^\s/]+)$/.exec(replyBox.value.slice(0, end));
      if (!m) return null;
      const typed = m[1].toLowerCase();
      const exact = canned.find((x) => x.shortcut.toLowerCase() === typed);
      const starts = canned.filter((x) => x.shortcut.toLowerCase().startsWith(typed));
      const found = exact || (starts.length === 1 ? starts[0] : null);
      return { found, starts, start: end - typed.length - 1, end };
    }
    function insert(text, start, end) {
      replyBox.focus();
      replyBox.setRangeText(text, start, end, "end");
      if (selected) typed(selected);
    }
    replyBox.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey && !event.isComposing) {
        event.preventDefault();
        submitReply();
      } else if (event.key === "Tab" && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey) {
        const at = cannedAtCaret();
        if (at && at.found) {
          event.preventDefault();
          insert(at.found.text, at.start, at.end);
          setHint("");
        }
      }
    });
    replyBox.addEventListener("input", () => {
      const at = cannedAtCaret();
      if (at && at.starts.length) {
        setHint(`Tab inserts a canned reply: ${at.starts.slice(0, 4).map((x) => `/${x.shortcut}`).join(", ")}`);
      } else {
        setHint("");
      }
      if (!selected) return;
      if (replyBox.value) typed(selected);
      else stopTyping();
    });
    cannedSelect.addEventListener("change", () => {
      const x = canned[Number(cannedSelect.value)];
      cannedSelect.value = "";
      if (!x) return;
      insert(x.text, replyBox.selectionStart, replyBox.selectionEnd);
    });

    // Phones keep the transfer form behind "More actions" (it is always shown on wider screens).
    const moreButton = byId("chat-more");
    moreButton.addEventListener("click", () => {
      const open = moreButton.getAttribute("aria-expanded") !== "true";
      const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
      moreButton.setAttribute("aria-expanded", open ? "true" : "false");
      view.classList.toggle("more-open", open);
      if (atBottom) log.scrollTop = log.scrollHeight;
      if (open) transferTo.focus();
    });

    // Close, reopen, transfer.
    closeButton.addEventListener("click", () => {
      const c = convs.get(selected);
      if (c) act(c, "chat_close", {}, () => { c.data = { ...c.data, state: "closed" }; c.done = "Conversation closed."; });
    });
    reopenButton.addEventListener("click", () => {
      const c = convs.get(selected);
      if (c) act(c, "chat_reopen", {}, () => { c.data = { ...c.data, state: "open" }; c.done = "Conversation reopened."; });
    });
    transferForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const c = convs.get(selected);
      if (!c) return;
      if (!transferTo.value) {
        c.error = "Choose a manager to transfer the conversation to.";
        changed(c);
        transferTo.focus();
        return;
      }
      const target = arr(c.managers).map(obj).find((m) => String(m.id) === transferTo.value);
      const to = target ? target.id : transferTo.value;
      const name = target ? str(target.name) : "";
      act(c, "chat_transfer", { to, note: transferNote.value.trim() }, () => {
        transferNote.value = "";
        c.done = `Transferred to ${name || "another manager"}.`;
      });
    });

    // The aside and the log follow the window: read marks only while it is really seen.
    document.addEventListener("visibilitychange", () => {
      const c = convs.get(selected);
      if (c) markRead(c);
    });
    window.addEventListener("focus", () => {
      const c = convs.get(selected);
      if (c) markRead(c);
    });
    narrow.addEventListener("change", () => {
      const c = convs.get(selected);
      if (c) markRead(c);
    });
    // Times in the list ("10:02" → "Mon 24 Nov") and the reconnecting state of pending replies.
    document.addEventListener("beckon-offline", () => {
      const c = convs.get(selected);
      if (c) changed(c, { noRead: true });
    });
    setInterval(() => changed(null), 60000); // "10:02" becomes "Mon 24 Nov" at midnight
    renderList([]);
  }
})();
