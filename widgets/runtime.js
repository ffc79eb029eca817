// Beckon widget runtime: mounting, texts, page context, error isolation and the one
// transport every widget shares. Chunks receive this module namespace as `rt`.
//
// Transport: every state-changing frame goes into a localStorage outbox first and leaves
// it only when the server answers for it, so nothing typed by a visitor is lost to a
// dropped socket, a closed tab or a dead network. Re-sending an id is safe (server dedups).

const D = document, N = navigator, J = JSON.stringify;
const UTM = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'];
const VID = /^[\w-]{8,64}$/;
const BASE = ':host{all:initial!important}[hidden]{display:none!important}' +
  '@media (prefers-reduced-motion:reduce){*,*::before,*::after{transition:none!important;animation:none!important}}';

let X = { key: '', site: {}, identity: {}, emit() {} };
let wsUrl, collectUrl, vid, ws, live, sent, timer, pinger, posting, want = 0, fails = 0, delay = 1e3, final = 0;
let mem = [], selfOpened = 0, until = 0, probe, note, later;
// Frames the server refused as 'unavailable' (store full or down): none goes again before `until`
// (the last refusal's retry_after), then one at a time as a probe; the first ack sends all the others.
const wait = new Set();
const pend = new Map(), subs = {}, watchers = new Set(), broken = new Set(), busyKinds = new Set(), left = new Set();

// Storage may be missing or throw (privacy modes, sandboxed frames): degrade to memory.
function store(kind, k, v) {
  try {
    const s = self[kind + 'Storage'];
    k = 'beckon:' + X.key + ':' + k;
    return v === undefined ? s.getItem(k) : v === null ? s.removeItem(k) : s.setItem(k, v);
  } catch (e) {}
}
// JSON kept for this site under beckon:<key>:<name> in localStorage (kind 'session': sessionStorage);
// undefined when missing or unreadable. keep(name) without a value removes it.
export const kept = (name, kind = 'local') => { try { return JSON.parse(store(kind, name)) } catch (e) {} };
export const keep = (name, v, kind = 'local') => { store(kind, name, v == null ? null : J(v)) };
function outbox() {
  const v = store('local', 'outbox');
  if (v === undefined) return mem;
  try { return JSON.parse(v) || [] } catch (e) { return [] }
}
// At most 50 frames: analytics ('track', the host page can call it in a loop) go first, oldest
// first; what a visitor typed (leads, chat, quiz) is never pushed out by them, only past 200 of its own.
function setOutbox(a) {
  let n = a.length - 50, m = a.length - 200;
  mem = a = a.filter(f => f.type == 'track' ? n-- <= 0 : m-- <= 0);
  store('local', 'outbox', a.length ? J(a) : null);
}

export const uid = () => crypto.randomUUID ? crypto.randomUUID()
  : Array.from(crypto.getRandomValues(new Uint8Array(16)), b => (b + 256).toString(16).slice(1)).join('');

// The visitor id is read if present but only created when a frame must really go out.
const visitor = () => vid || (vid = VID.test(store('local', 'vid')) && store('local', 'vid'));
const needVisitor = () => visitor() || (store('local', 'vid', vid = uid()), vid);

export function start(ctx) {
  X = ctx;
  X.site = X.site || {};
  const k = encodeURIComponent(ctx.key);
  wsUrl = ctx.base.replace(/^http/, 'ws') + '/ws/visitor?site=' + k;
  collectUrl = ctx.base + '/api/v1/collect?site=' + k;
  record();
  const o = outbox();
  o.forEach(f => left.add(f.id));
  // Frames left by an earlier page view go out once the page is idle, never on its critical path.
  if (o.length) idle(flush);
  const bye = () => outbox().length && beacon(batch());
  addEventListener('pagehide', bye);
  D.addEventListener('visibilitychange', () => D.visibilityState == 'hidden' && bye());
  addEventListener('online', () => { delay = 1e3; fails = 0; clearTimeout(timer); flush(); notify() });
  addEventListener('offline', notify);
}

// Later, once the page is idle (at most 2 s away): never on the host page's critical path.
export const idle = f => (self.requestIdleCallback || (g => setTimeout(g, 2e3)))(() => f(), { timeout: 2e3 });
export const emit = (name, detail) => X.emit(name, detail);
export const key = () => X.key;
export const identity = () => X.identity || {};
export const site = () => X.site;
// The language of the site's texts, chosen by the server (the site's, else the visitor's browser's).
export const lang = () => X.site.lang || 'en';

// Lookup order: widget config texts (full or short key), then site texts: the site's own over the
// built-in ones of one language, which the server sends (server/widget_texts.py), full or short key.
export function t(key, vars, own) {
  own = own || {};
  const short = key.replace(/^.*\./, ''), st = X.site.texts || {};
  const s = own[key] ?? own[short] ?? st[key] ?? (short != key ? t(short) : key);
  return String(s).replace(/\{(\w+)\}/g, (m, v) => vars && vars[v] != null ? vars[v] : m);
}

// Builds an element; strings become text nodes: visitor and config text is never parsed as HTML.
export function h(tag, attrs, ...kids) {
  const el = D.createElement(tag);
  for (const k in attrs) el.setAttribute(k, attrs[k]);
  el.append(...kids);
  return el;
}

// Focus may sit inside another shadow root; find the real element to return to.
export function deepActive() {
  let a = D.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  return a;
}

let baseSheet;
// parent: the element to render into (an inline widget); default: the end of <body>.
export function mount(kind, css, parent) {
  const host = D.createElement('div');
  host.dataset.beckonWidget = kind;
  const root = host.attachShadow({ mode: 'open' });
  try {
    if (!baseSheet) (baseSheet = new CSSStyleSheet()).replaceSync(BASE);
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [baseSheet, sheet];
  } catch (e) {
    const el = D.createElement('style');
    el.textContent = BASE + css;
    root.append(el);
  }
  (parent || D.body || D.documentElement).append(host);
  return { host, root };
}

// ---- what the dialogs and forms of the widgets share: one copy here, not one per chunk.
// Styles for a widget's dialog, form fields, errors, buttons and close button; --a is its accent.
export const UI = '.w{font:15px/1.45 system-ui,sans-serif;color:#111827}' +
  '.bd{position:fixed;inset:0;z-index:2147483001;background:#0f172a4d}' +
  '.x{position:absolute;top:10px;right:10px;width:36px;height:36px;border:0;border-radius:8px;background:none;color:#6b7280;' +
  'font:inherit;font-size:24px;line-height:1;cursor:pointer}' +
  '.x:hover{background:#f3f4f6}' +
  'h2{margin:0 40px 6px 0;font-size:18px;line-height:1.3;font-weight:600}' +
  'p{margin:0 0 14px;color:#4b5563}' +
  '.f{margin:0 0 12px}' +
  'label{display:block;margin:0 0 4px;font-weight:500}' +
  '.f input,.f select,.f textarea{display:block;box-sizing:border-box;width:100%;margin:0;padding:10px 12px;border:1px solid #d1d5db;' +
  'border-radius:8px;background:#fff;color:#111827;font:inherit;font-size:16px;line-height:1.3}' +
  '.ck{display:flex;gap:8px;align-items:flex-start;flex-wrap:wrap}' +
  '.f.ck input{width:20px;height:20px;flex:none;margin:1px 0 0;accent-color:var(--a)}' +
  '.ck label{flex:1;margin:0;font-weight:400;font-size:14px}' +
  '.ck .err{flex-basis:100%}' +
  '.f [aria-invalid=true]{border-color:#b91c1c}' +
  '.err{margin:4px 0;color:#b91c1c;font-size:13px}' +
  '.err:empty{display:none}' +
  '.go{display:block;width:100%;padding:12px 16px;border:0;border-radius:8px;background:var(--a);color:#fff;font:inherit;font-size:16px;' +
  'font-weight:600;cursor:pointer}' +
  '.go:disabled{opacity:.7;cursor:progress}' +
  ':focus-visible{outline:3px solid var(--a);outline-offset:2px}' +
  '@keyframes in{from{opacity:0;transform:translateY(8px)}}' +
  '.fab{position:fixed;bottom:20px;right:20px;z-index:2147483000;width:56px;height:56px;padding:0;border:0;border-radius:50%;' +
  'background:var(--a);color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25);cursor:pointer;display:flex;align-items:center;justify-content:center}' +
  '.fab svg{width:26px;height:26px;fill:currentColor}' +
  '.panel{position:fixed;right:20px;z-index:2147483002;box-sizing:border-box;max-width:calc(100vw - 40px);background:#fff;' +
  'border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.25)}' +
  '.left .fab,.left .panel{right:auto;left:20px}' +
  '.code{margin:6px 0 10px;padding:10px;border:2px dashed var(--a);border-radius:10px;text-align:center;' +
  'font:700 30px/1.2 ui-monospace,monospace;color:#111827;user-select:all;word-break:break-all}' +
  '@media (max-width:480px){.w .panel{left:0;right:0;bottom:var(--kb,0px);width:auto;max-width:none}}';

// A promo code the server gave (a popup's thanks, a quiz's result): large and selectable, its text,
// and a button that copies it. Texts <kind>.copy and <kind>.copied (else copy, copied).
export function bonus(kind, b, own) {
  const code = String(b.code), box = h('div', { class: 'code' }, code), cp = h('button', { type: 'button', class: 'go' }, t(kind + '.copy', null, own));
  cp.addEventListener('click', G(kind, () => {
    getSelection().selectAllChildren(box);
    N.clipboard?.writeText(code).then(G(kind, () => { cp.textContent = t(kind + '.copied', null, own) }), () => {});
  }));
  return [box, ...b.text ? [h('p', {}, String(b.text))] : [], cp];
}

// A person's photo as the chat and the greeter show it: a web address (an upload served by Beckon may
// be plain http on a local install) or an inline image; '' for anything else (javascript:, relative).
export const photo = p => /^(https?:\/\/|data:image\/)/i.test(p = String(p || '')) ? p : '';

// The owner's colour, if it is one (it goes into CSS text), else Beckon's teal.
export const accent = c => /^[#\w(),.%\s\/-]{1,60}$/.test(c = String(c || '')) && CSS.supports('color', c) ? c : '#0f766e';

// fn, run under the widget's guard: a bug in it disables the widget, never the page.
export const G = (kind, fn) => (...a) => guard(kind, () => fn(...a));

// A 24×24 SVG icon from one path, hidden from assistive tech (its button carries the name).
export function icon(d) {
  const n = 'http://www.w3.org/2000/svg', svg = D.createElementNS(n, 'svg'), p = D.createElementNS(n, 'path');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  p.setAttribute('d', d);
  svg.append(p);
  return svg;
}

export const closer = own => h('button', { type: 'button', class: 'x', 'aria-label': t('close', null, own) }, '×');

// Escape closes the dialog; Tab and Shift-Tab cycle inside it (focus trap).
export function trap(kind, panel, shut) {
  panel.addEventListener('keydown', G(kind, e => {
    if (e.key == 'Escape') { e.stopPropagation(); shut() }
    else if (e.key == 'Tab') {
      const a = panel.getRootNode().activeElement, f = [...panel.querySelectorAll('button,input,select,textarea,a[href],[tabindex="0"]')]
        .filter(x => !x.disabled && x.tabIndex >= 0 && x.getClientRects().length), i = f.indexOf(a);
      // From a heading (tabindex -1) inside, Tab goes on as usual; from outside, to the first.
      if (e.shiftKey ? i <= 0 : i == f.length - 1 || i < 0 && !panel.contains(a)) { e.preventDefault(); f.length && f.at(e.shiftKey ? -1 : 0).focus() }
    }
  }));
}

// A labelled field with its error line (a checkbox before its label): {row, input, err}.
export function field(id, attrs, text, tag = 'input') {
  const ck = attrs.type == 'checkbox', err = h('div', { class: 'err', id: id + '-e' });
  const input = h(tag, { id, ...attrs }), label = h('label', { for: id }, text);
  return { row: h('div', { class: ck ? 'f ck' : 'f' }, ...ck ? [input, label] : [label, input], err), input, err };
}
export function invalid(f, text, focus = 1) {
  f.err.textContent = text;
  f.input.setAttribute('aria-invalid', 'true');
  f.input.setAttribute('aria-describedby', f.err.id);
  focus && f.input.focus();
}
export function valid(f) {
  f.err.textContent = '';
  f.input.removeAttribute('aria-invalid');
  f.input.removeAttribute('aria-describedby');
}

// Keep a panel above the on-screen keyboard: the visual viewport shrinks, the layout one doesn't.
export function aboveKeyboard(panel, isOpen) {
  const V = self.visualViewport, fit = () => {
    if (!V || !isOpen()) return;
    panel.style.setProperty('--kb', Math.max(0, innerHeight - V.height - V.offsetTop) + 'px');
    panel.style.setProperty('--vh', V.height + 'px');
  };
  if (V) { V.addEventListener('resize', fit); V.addEventListener('scroll', fit) }
  return fit;
}

// A widget that throws is removed and reported; the others and the host page carry on.
export function guard(kind, fn) {
  if (broken.has(kind)) return;
  try {
    const r = fn();
    if (r && typeof r.catch == 'function') r.catch(e => fail(kind, e));
    return r;
  } catch (e) { fail(kind, e) }
}
export function fail(kind, err) {
  if (broken.has(kind)) return;
  broken.add(kind);
  busyKinds.delete(kind);
  console.warn('Beckon: widget disabled:', kind, err);
  try {
    D.querySelectorAll('[data-beckon-widget="' + CSS.escape(kind) + '"]').forEach(h => h.remove());
    const r = { type: 'report', widget: kind, message: String(err).slice(0, 500) };
    live ? live.send(J(r)) : beacon([r]);
  } catch (e) {}
}

// One interruption budget: at most one widget opens itself per page view, none while another is busy.
export const busy = (kind, on) => { on ? busyKinds.add(kind) : busyKinds.delete(kind) };
export const mayInterrupt = () => !selfOpened && !busyKinds.size && (selfOpened = 1) == 1;

// ---- page context: landing page, first referrer, UTM and trail of this browsing session
function record() {
  let s;
  try { s = JSON.parse(store('session', 'session')) || {} } catch (e) { s = {} }
  if (!s.landing) { s.landing = location.href; s.referrer = D.referrer }
  if (!s.utm || !Object.keys(s.utm).length) {
    const q = new URLSearchParams(location.search);
    s.utm = {};
    UTM.forEach(k => { if (q.get(k)) s.utm[k] = q.get(k).slice(0, 200) });
  }
  const trail = s.trail || [], last = trail[trail.length - 1];
  if (!last || last.url != location.href) trail.push({ url: location.href, title: D.title, at: Date.now() });
  s.trail = trail.slice(-20);
  store('session', 'session', J(s));
  return s;
}
// The offer (a countdown's slug) the visitor acted on in this page view: every lead carries it.
let deal;
export const offer = v => { deal = v };
export function context() {
  const s = record(); // also catches single-page-app navigations since start()
  return { url: location.href, title: D.title, referrer: s.referrer || '', landing: s.landing, utm: s.utm, trail: s.trail, offer: deal };
}

// ---- transport
export function send(frame) {
  return new Promise((resolve, reject) => {
    const f = { ...frame, id: frame.id || uid() };
    if (f.type == 'lead') {
      const I = identity();
      for (const k of ['name', 'phone', 'email']) if (f[k] == null && I[k]) f[k] = I[k];
      f.context = f.context || context();
    }
    pend.set(f.id, { f, resolve, reject });
    setOutbox(outbox().filter(x => x.id != f.id).concat(f));
    needVisitor();
    flush();
    notify();
  });
}

// An analytics event (opens, shown, clicked): durable like any frame; failures are not the page's business.
export const track = (name, props) => send({ type: 'track', name, props: props || {} }).catch(() => {});

export function connect(on = true) {
  want = on ? 1 : 0;
  if (on) flush();
}

// A frame that is neither stored nor answered (typing, read marks, current page): sent over the
// open socket or dropped. Returns whether it went out.
export function push(frame) {
  try { return live ? (live.send(J(frame)), true) : false } catch (e) { return false }
}

// Server frames by type; also 'welcome' on every (re)connect, and 'ack', called as fn(ack, frame) for
// every acked frame, including frames left in the outbox by an earlier page view (their promise is
// gone with that page).
export function onFrame(type, fn) {
  (subs[type] = subs[type] || new Set()).add(fn);
  return () => subs[type].delete(fn);
}

// online: the server is reachable as far as we know; held: the server's own words while it cannot
// store what was sent (online, but not saved yet).
export const status = () => ({ online: N.onLine !== false && (!!live || fails < 2), held: wait.size && note });
export function onStatus(fn) {
  watchers.add(fn);
  return () => watchers.delete(fn);
}
// Calls every fn of a set; one that throws is logged and does not stop the others.
const each = (fns, ...a) => (fns || []).forEach(fn => { try { fn(...a) } catch (e) { console.error(e) } });
const notify = () => each(watchers, status());

// The frames that may go now: all but the refused ones, and of those, once due, one probe (a
// visitor's own frame before analytics).
function ready(o) {
  const w = o.filter(f => wait.has(f.id)), p = !probe && Date.now() >= until && (w.find(f => f.type != 'track') || w[0]);
  if (p) probe = p.id;
  return o.filter(f => !wait.has(f.id) || f == p);
}

function flush() {
  const o = outbox();
  if (live) {
    for (const f of ready(o.filter(f => !sent.has(f.id)))) { sent.add(f.id); live.send(J(f)) }
  } else if (o.length || want) {
    if (fails > 1 || !self.WebSocket) post();
    open();
  }
}

function open() {
  if (ws || final || !self.WebSocket || !(want || outbox().length)) return;
  clearTimeout(timer);
  let ok = 0, s;
  try { s = ws = new WebSocket(wsUrl) } catch (e) { ws = 0; fails++; return retry() }
  s.onopen = () => s.send(J({ type: 'hello', visitor: needVisitor() }));
  s.onmessage = e => {
    let f;
    try { f = JSON.parse(e.data) } catch (_) { return }
    if (!f || typeof f != 'object') return;
    if (f.type == 'welcome') {
      ok = 1; fails = 0; delay = 1e3; live = s; sent = new Set();
      clearInterval(pinger);
      pinger = setInterval(() => live && live.send('{"type":"ping"}'), 25e3);
      flush();
      notify();
      fire('welcome', f);
    } else if (f.type == 'ack' || f.type == 'error') result(f);
    else if (f.type != 'pong') fire(f.type, f);
  };
  s.onclose = e => {
    if (ws != s) return;
    ws = live = probe = 0;
    clearInterval(pinger);
    if (!ok) fails++;
    if (e.code == 4403 || e.code == 4404) { // origin not allowed / unknown site: retrying cannot help
      final = 1;
      console.warn('Beckon: server refused this page', e.code, e.reason);
    } else {
      if (fails > 1) post();
      retry();
    }
    notify();
  };
}

function retry() {
  clearTimeout(timer);
  if (final || !(want || outbox().length)) return;
  timer = setTimeout(open, delay * (0.5 + Math.random() / 2));
  delay = Math.min(delay * 1.5, 3e4);
}

// At most 20 frames and ~60 KB per HTTP request (server and keepalive/beacon limits).
function batch() {
  let n = 0;
  return outbox().filter((f, i) => i < 20 && (n += J(f).length) < 6e4);
}

async function post() {
  if (posting) return;
  const frames = ready(batch());
  if (!frames.length) return;
  posting = 1;
  try {
    const r = await fetch(collectUrl, {
      method: 'POST', body: J({ visitor: needVisitor(), frames }),
      headers: { 'Content-Type': 'text/plain' }, credentials: 'omit', keepalive: true,
    });
    const j = await r.json();
    (j.results || []).forEach((x, i) => x && result(x, x.id || frames[i] && frames[i].id));
  } catch (e) { probe = 0 }
  posting = 0;
  notify();
}

// The beacon's answer is unreadable, so its frames stay in the outbox for the next page view.
function beacon(frames) {
  const v = visitor();
  if (!v || !frames.length || !N.sendBeacon) return; // the frames wait in the outbox for the next page view
  try { N.sendBeacon(collectUrl, new Blob([J({ visitor: v, frames })], { type: 'text/plain' })) } catch (e) {}
}

const fire = (type, ...a) => each(subs[type], ...a);

function result(f, id = f.id) {
  if (!id) { // connection-level error, e.g. frame flood: resend what is unanswered later
    if (f.code == 'rate_limited' && sent) { sent.clear(); setTimeout(flush, (f.retry_after || 10) * 1e3) }
    return console.warn('Beckon:', f.code, f.message);
  }
  if (id == probe) probe = 0;
  if (f.type == 'error' && f.code == 'unavailable') { // stays in the outbox and is retried, once, later
    if (sent) sent.delete(id);
    wait.add(id);
    note = f.message;
    const ms = Math.min(f.retry_after || 5, 60) * 1e3;
    until = Date.now() + ms;
    clearTimeout(later);
    later = setTimeout(flush, ms);
    return notify();
  }
  wait.delete(id);
  // Stored: the server can write again, so what waited goes now (once this answer is dealt with).
  if (f.type == 'ack' && wait.size) { wait.clear(); setTimeout(flush) }
  const p = pend.get(id), fr = p ? p.f : outbox().find(x => x.id == id);
  pend.delete(id);
  setOutbox(outbox().filter(x => x.id != id));
  if (f.type == 'ack') {
    if (fr && fr.type == 'lead' && (p || left.has(id))) emit('lead', { kind: fr.kind, lead: f.lead, id });
    if (p) p.resolve(f);
    if (fr) fire('ack', f, fr);
  } else if (p) p.reject(f);
  left.delete(id);
  notify();
}
