// Beckon countdowns (docs/countdown.md): time left to a real deadline, worked out by the server and
// counted by the server's clock, in a slim bar on every page or inline in [data-beckon-countdown=slug].
// Daily ones roll over at their deadline; at the end the owner's expiry applies (hide, message,
// redirect once, switch to a follow-up). Nothing is shown before the server has answered: never a
// made-up deadline. Closing a bar only hides it for this session; it never ends the offer.

// Their texts (countdown.days …, from the server) hold plural forms, space-separated: one/other, one/few/many.
const UNITS = ['days', 'hours', 'min', 'sec'];

// [days, hours, minutes, seconds] in ms, whole seconds rounded up (0:00 only once it has ended).
export function split(ms) {
  const s = Math.max(0, Math.ceil(ms / 1e3));
  return [s / 86400 | 0, s / 3600 % 24 | 0, s / 60 % 60 | 0, s % 60];
}

const PR = {};
export const plural = lang => {
  const P = PR[lang] ||= new Intl.PluralRules(lang);
  return (forms, n) => {
    const f = String(forms).split(' '), c = P.select(n);
    return f[c == 'one' ? 0 : c == 'few' && f[2] ? 1 : f.length - 1];
  };
};

// What screen readers hear, to the minute: "2 days 4 hours 10 minutes left". T(key) gives a text.
export function spoken(ms, T, lang) {
  const [d, h, m] = split(ms), f = plural(lang);
  const p = [[d, 'days'], [h, 'hours'], [m, 'minutes']].filter(x => x[0]).map(([n, k]) => n + ' ' + f(T(k), n));
  return T('left').replace('{time}', p.join(' ') || T('soon'));
}

// An ack's countdown into a state {dl, next, skew, daily, x}; now: the visitor's clock at receipt.
export function merge(s, c, now) {
  s.skew = c.server_time - now; // the server's clock wins
  s.daily = c.mode == 'daily';
  if (!s.dl || c.deadline >= s.dl) { s.dl = c.deadline; s.next = c.next_deadline || 0; s.x = !!c.expired }
  // An answer from before our rollover (clocks a little apart): keep counting forward.
  else if (c.next_deadline > s.dl) s.next = c.next_deadline;
}

// ms left by the server's clock; a daily countdown rolls over to its next deadline (s.rolled).
export function left(s, now) {
  let ms = s.dl - now - s.skew;
  if (ms <= 0 && s.daily && s.next) { s.dl = s.next; s.next = 0; s.rolled = 1; ms = s.dl - now - s.skew }
  return s.x ? Math.min(ms, 0) : ms;
}

// Where an expiry redirect goes: '' for a page that is already there or not a web page.
export function target(url, here) {
  try {
    const u = new URL(url, here), a = new URL(here), k = x => x.origin + x.pathname + x.search;
    return /^https?:$/.test(u.protocol) && k(u) != k(a) ? u.href : '';
  } catch (e) { return '' }
}

// Beside the runtime's (rt.UI: font, close button, focus ring).
const STYLE = ':host{display:block!important}' +
  '.w{box-sizing:border-box;line-height:1.35}' +
  '.in{display:flex;flex-wrap:wrap;align-items:center;justify-content:center;gap:6px 14px}' +
  'p{margin:0;color:inherit}' +
  '.ti{font-weight:650}' +
  '.t{display:inline-flex;gap:6px;font-variant-numeric:tabular-nums}' +
  '.g{display:inline-flex;flex-direction:column;align-items:center;min-width:2.4em;padding:3px 5px;border-radius:6px;line-height:1.1}' +
  'b{font-weight:700;font-size:19px}' +
  'i{font-style:normal;font-size:11px;letter-spacing:.02em}' +
  'button{font:inherit;cursor:pointer}' +
  '.cta{padding:8px 16px;border:0;border-radius:8px;background:var(--a);color:var(--f);font-weight:650}' +
  '.bar{position:fixed;left:0;right:0;z-index:2147482999;padding:6px 52px;background:var(--a);color:var(--f);box-shadow:0 1px 8px #0003;animation:in .25s}' +
  '.top{top:0}.bottom{bottom:0;padding-right:88px}' +
  '.bar .g{background:color-mix(in srgb,var(--f) 16%,transparent)}' +
  '.bar .cta{padding:6px 14px;background:var(--f);color:var(--a)}' +
  '.bar :focus-visible{outline-color:var(--f)}' +
  '.bar .x{top:50%;right:8px;margin-top:-18px;color:inherit;background:none}' +
  '.bottom .x{right:auto;left:8px}' +
  '.inl{padding:16px;border:1px solid #e5e7eb;border-radius:12px;background:#fff;text-align:center}' +
  '.inl .in{flex-direction:column;gap:10px}' +
  '.inl .ti{font-size:18px}' +
  '.inl .t{gap:8px}' +
  '.inl .g{min-width:3.4em;padding:8px 6px;border-radius:10px;background:var(--a);color:var(--f)}' +
  '.inl b{font-size:28px}' +
  '.inl i{font-size:12px}' +
  '.msg{font-weight:500}' +
  '@keyframes in{from{opacity:0}}' + // a fade, not the runtime's slide: the bar never moves off its place
  '@media (max-width:600px){.bar{padding:5px 44px 5px 8px;font-size:14px}.bottom{padding:5px 76px 5px 44px}.bar .in{gap:4px 8px}' +
  '.bar .t{gap:4px}.bar .g{min-width:1.9em;padding:2px 3px}.bar b{font-size:15px}.bar i{font-size:10px}.bar .cta{padding:5px 10px;font-size:13px}' +
  '.inl{padding:12px}.inl b{font-size:22px}.inl .g{min-width:2.9em}}';

export default function countdown(rt, config) {
  const K = 'countdown', W = window, D = document, items = config.items || {}, { h } = rt, lang = rt.lang();
  const G = fn => rt.G(K, fn), on = (el, ev, fn) => el.addEventListener(ev, G(fn));
  const S = {}, seen = new WeakSet();
  let timer = 0, ready = 0;

  // localStorage: {ask: {slug: id of the ask not yet answered}, went: {slug: deadline redirected at}};
  // sessionStorage: {closed: {slug: 1}} for bars closed in this session.
  const get = st => rt.kept(K, st) || {};
  const put = (st, k, slug, v) => {
    const m = get(st);
    m[k] = { ...m[k], [slug]: v };
    if (v == null) delete m[k][slug];
    rt.keep(K, m, st);
  };
  const isBar = it => /^bar-(top|bottom)$/.test(it.display || 'bar-top');

  const state = slug => {
    if (!S[slug]) (S[slug] = { slug, it: items[slug], views: [], phase: 'wait' }), ready && ask(S[slug]);
    return S[slug];
  };

  // One ask per countdown at a time; an unanswered one (offline) is re-sent with the same id rather
  // than piling up in the outbox, and a new id is used once it has been answered.
  function ask(s) {
    if (s.asking || s.phase == 'gone') return;
    s.asking = 1;
    const id = (get('local').ask || {})[s.slug] || rt.uid();
    put('local', 'ask', s.slug, id);
    rt.send({ type: K, id, countdown: s.slug }).then(G(() => { s.asking = 0 }), G(e => {
      s.asking = 0;
      put('local', 'ask', s.slug, null);
      if (e && e.code == 'invalid_field') end(s); // unknown or switched off: show nothing
      else say(s, e && e.type == 'error' && e.message || '');
    }));
  }

  // While no deadline is known, the server's own words on why (it cannot store the ask just now), if any.
  const say = (s, m) => { if (s.phase == 'wait' && s.m != m) s.m = m, s.views.forEach(fill) };
  rt.onStatus(G(st => Object.values(S).forEach(s => s.asking && say(s, st.held || ''))));

  // Acks also come for asks left by an earlier page view (sent when the visitor is back online).
  rt.onFrame('ack', G((a, f) => {
    if (f.type != K) return;
    if ((get('local').ask || {})[f.countdown] == f.id) put('local', 'ask', f.countdown, null);
    const c = a.countdown, s = c && S[c.slug];
    if (!s || s.phase == 'gone' || s.phase == 'msg') return;
    merge(s, c, Date.now());
    s.m = '';
    if (s.phase == 'wait') s.phase = 'run', s.views.forEach(fill);
    tick();
  }));

  function tick() {
    const now = Date.now(), counting = s => s.phase == 'run' && s.views.length;
    for (const slug in S) {
      const s = S[slug];
      if (!counting(s)) continue; // a closed bar does nothing at the deadline
      const ms = left(s, now);
      if (s.rolled) s.rolled = 0, ask(s); // the one after next, in the background
      if (ms > 0) s.views.forEach(v => paint(v, ms));
      else if (s.daily) s.dl = 0, s.phase = 'wait', s.views.forEach(fill), ask(s); // no next known: ask
      else expire(s);
    }
    const any = Object.values(S).some(counting); // also a follow-up switched to just now
    if (any && !timer) timer = setInterval(G(tick), 1e3);
    if (!any && timer) clearInterval(timer), timer = 0;
  }

  function end(s) {
    s.phase = 'gone';
    [...s.views].forEach(drop);
  }

  function expire(s) {
    const e = s.it.expiry || {}, n = S[e.next];
    if (e.action == 'switch' && items[e.next] && !(n && n.phase == 'gone')) {
      const to = state(e.next);
      s.phase = 'gone';
      for (const v of [...s.views]) {
        // Where the follow-up is shown already, this one just goes.
        if (to.views.some(w => v.bar ? w.bar : w.el == v.el)) { drop(v); continue }
        s.views.splice(s.views.indexOf(v), 1);
        to.views.push(v);
        v.s = to;
        fill(v);
      }
      return;
    }
    if (e.action == 'redirect') {
      // Once per deadline, and never to the page we are on: no loops, no site made unusable.
      const url = target(String(e.url || ''), location.href);
      if (url && (get('local').went || {})[s.slug] != s.dl) { put('local', 'went', s.slug, s.dl); location.assign(url) }
    }
    if (e.action == 'message' && e.message != null) { s.phase = 'msg'; s.views.forEach(fill) }
    else end(s);
  }

  function drop(v) {
    v.host.remove();
    v.ro && v.ro.disconnect();
    v.bar && pad(v, 0);
    const a = v.s.views;
    a.splice(a.indexOf(v) >>> 0, 1);
  }

  const fg = c => { // readable text on the accent colour
    try {
      const x = D.createElement('canvas').getContext('2d');
      x.fillStyle = c;
      const L = x.fillStyle.slice(1).match(/../g).map(v => (v = parseInt(v, 16) / 255) <= .03928 ? v / 12.92 : ((v + .055) / 1.055) ** 2.4);
      return .2126 * L[0] + .7152 * L[1] + .0722 * L[2] > .179 ? '#111827' : '#fff';
    } catch (e) { return '#fff' }
  };

  // A place a countdown shows: the bar (no el) or an inline element. Empty until the server answers.
  function show(slug, el) {
    const s = state(slug);
    if (s.phase == 'gone') return;
    const { host, root } = rt.mount(K, rt.UI + STYLE, el), v = { s, host, el, bar: !el, box: h('div') };
    if (v.bar) {
      v.pos = edge(items[slug]);
      if (v.pos == 'top') (D.body || D.documentElement).prepend(host);
      // The bar is fixed; this placeholder in the page's flow keeps everything under it reachable.
      v.ph = h('div');
      root.append(v.ph);
      if (self.ResizeObserver) v.ro = new ResizeObserver(G(() => { pad(v, v.w ? v.w.offsetHeight : 0) }));
    }
    root.append(v.box);
    s.views.push(v);
    if (s.phase != 'wait') fill(v), tick();
  }

  // The bar's room: the placeholder's height, and scroll padding so that anchors and focused
  // elements land clear of it (added to the page's own).
  const pads = {};
  function pad(v, px) {
    const R = D.documentElement.style, k = v.pos == 'top' ? 'scrollPaddingTop' : 'scrollPaddingBottom';
    if (!pads[k]) pads[k] = [R[k], parseFloat(getComputedStyle(D.documentElement)[k]) || 0];
    v.ph.style.height = px + 'px';
    R[k] = px ? pads[k][1] + px + 'px' : pads[k][0];
  }

  function fill(v) {
    const s = v.s, it = s.it, own = { ...config.texts, ...it.texts };
    const T = v.T = k => rt.t(K + '.' + k, null, own), kids = [];
    v.w = v.t = null;
    if (s.phase == 'wait' && !s.m) return v.box.replaceChildren(), v.bar && pad(v, 0);
    it.title && kids.push(h('p', { class: 'ti' }, String(it.title)));
    if (s.phase != 'run') kids.push(h('p', { class: 'msg', role: 'status' }, s.m || String(it.expiry.message)));
    else {
      it.text && kids.push(h('span', { class: 'tx' }, String(it.text)));
      v.t = h('time', { role: 'timer', class: 't' });
      v.g = UNITS.map(() => {
        const b = h('b', {}), i = h('i', {}), el = h('span', { class: 'g', 'aria-hidden': 'true' }, b, i);
        v.t.append(el);
        return { b, i, el };
      });
      v.l = v.d = 0;
      kids.push(v.t);
      const C = it.cta;
      if (C && C.label) {
        const b = h('button', { type: 'button', class: 'cta' }, String(C.label)), slug = s.slug;
        on(b, 'click', () => {
          const [kind, id] = String(C.open || '').split(':');
          rt.offer && rt.offer(slug); // the lead that follows carries the offer
          rt.track(K + '_cta_clicked', { countdown: slug });
          W.Beckon && W.Beckon('open', kind, { ...id && { id }, offer: slug });
        });
        kids.push(b);
      }
    }
    const a = rt.accent(it.color);
    const w = v.w = h('div', { class: 'w ' + (v.bar ? 'bar ' + v.pos : 'inl'), role: 'region', 'aria-label': String(it.title || T('offer')) }, h('div', { class: 'in' }, ...kids));
    w.style.setProperty('--a', a);
    w.style.setProperty('--f', fg(a));
    if (v.bar) {
      const x = rt.closer(own);
      on(x, 'click', () => { put('session', 'closed', s.slug, 1); drop(v) });
      w.append(x);
      v.ro && (v.ro.disconnect(), v.ro.observe(w));
    }
    v.box.replaceChildren(w);
    if (s.phase == 'run') paint(v, left(s, Date.now()));
  }

  function paint(v, ms) {
    if (!v.t) return;
    const n = split(ms), f = plural(lang), s = v.s;
    v.g.forEach((g, i) => {
      g.b.textContent = i ? String(n[i]).padStart(2, '0') : n[0];
      g.i.textContent = f(v.T(UNITS[i]), n[i]);
    });
    v.g[0].el.hidden = !n[0];
    const l = spoken(ms, v.T, lang); // changes once a minute: screen readers aren't told every second
    if (l != v.l) v.t.setAttribute('aria-label', v.l = l);
    if (s.dl != v.d) v.t.setAttribute('datetime', new Date(v.d = s.dl).toISOString());
  }

  const edge = it => it.display == 'bar-bottom' ? 'bottom' : 'top';
  const barAt = pos => Object.values(S).some(s => s.views.some(v => v.bar && v.pos == pos));
  // One bar per edge of the window (the first by slug), none for an offer closed in this session.
  function scan() {
    const closed = get('session').closed || {};
    for (const slug in items) {
      const it = items[slug], s = S[slug];
      if (it && isBar(it) && !closed[slug] && !(s && s.phase == 'gone') && !barAt(edge(it))) show(slug);
    }
    D.querySelectorAll('[data-beckon-countdown]').forEach(el => {
      const slug = el.dataset.beckonCountdown;
      if (items[slug] && !seen.has(el)) seen.add(el), show(slug, el);
    });
  }

  scan();
  // The server is asked once the page is idle: never on the host page's critical path.
  (self.requestIdleCallback || setTimeout)(G(() => { ready = 1; Object.values(S).forEach(ask) }), { timeout: 2e3 });

  return {
    // Beckon('open', 'countdown', {id}): bring back a closed bar, show an inline one;
    // {id, el}: draw it into that element (a popup's spot for its offer's deadline).
    open(o) {
      const slug = o && o.id || Object.keys(items)[0], it = items[slug];
      if (!it) return console.warn('Beckon: no countdown', slug);
      if (o.el instanceof Element) return seen.has(o.el) || (seen.add(o.el), show(slug, o.el));
      put('session', 'closed', slug, null);
      scan();
      const s = S[slug], v = s && s.views.find(v => !v.bar);
      v && v.host.scrollIntoView({ block: 'center', behavior: matchMedia('(prefers-reduced-motion:reduce)').matches ? 'auto' : 'smooth' });
    },
    close() {},
  };
}
