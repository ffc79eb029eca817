// Beckon popups (docs/popup.md): offers that open themselves when their triggers fire, where and as
// often as their rules allow, within the interruption budget. The exported rules are pure (no DOM).

const DAY = 864e5, WD = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

// A URL rule on path+query; "exact" also accepts the bare path when the rule has no query.
export function urlMatch(rule, here) {
  const v = String(rule && rule.value || '');
  switch (rule && rule.match) {
    case 'exact': return here == v || !v.includes('?') && here.split('?')[0] == v;
    case 'contains': return here.includes(v);
    case 'prefix': return here.startsWith(v);
    case 'regex': try { return new RegExp(v).test(here) } catch (e) {}
  }
  return false;
}

const fmts = {};
// Date, weekday (1 = Monday) and HH:MM in a time zone (unknown: the visitor's).
export function zoned(ms, tz) {
  const o = { year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }, p = {};
  if (!fmts[tz]) try { fmts[tz] = new Intl.DateTimeFormat('en-US', { ...o, timeZone: tz }) } catch (e) { fmts[tz] = new Intl.DateTimeFormat('en-US', o) }
  fmts[tz].formatToParts(ms).forEach(x => p[x.type] = x.value);
  return { date: p.year + '-' + p.month + '-' + p.day, day: WD[p.weekday], time: p.hour + ':' + p.minute };
}

// env: {path (+query), mobile, returning, utm, referrer, now, timezone}
export function targeted(item, env) {
  const T = item.targeting || {}, S = T.schedule, low = s => String(s || '').toLowerCase();
  const any = rules => rules.some(r => urlMatch(r, env.path || '/'));
  if (T.include && T.include.length && !any(T.include) || T.exclude && any(T.exclude)) return false;
  if (T.device && T.device != 'any' && T.device != (env.mobile ? 'mobile' : 'desktop')) return false;
  if (T.visitor && T.visitor != 'any' && T.visitor != (env.returning ? 'returning' : 'new')) return false;
  for (const k in T.utm) if (low((env.utm || {})[k]) != low(T.utm[k])) return false;
  if (T.referrer && !low(env.referrer).includes(low(T.referrer))) return false;
  if (S) {
    const z = zoned(env.now, item.timezone || env.timezone), [a, b] = S.hours || [];
    if (S.from && z.date < S.from || S.to && z.date > S.to || S.days && S.days.length && !S.days.includes(z.day)) return false;
    if (a && b && (a <= b ? z.time < a || z.time >= b : z.time < a && z.time >= b)) return false; // b < a: overnight
  }
  return true;
}

// memory: {shown, closed, converted} (ms), session: shown in this session.
export function allowed(item, memory, now) {
  const F = item.frequency || {}, m = memory || {};
  if (m.converted || m.closed && now - m.closed < (F.after_close_days ?? 7) * DAY) return false;
  if (F.show == 'always' || F.show == 'until_converted') return true;
  return F.show == 'days' ? !m.shown || now - m.shown >= (F.days || 1) * DAY : !m.session;
}

// tree: {any: []} | {all: []} | a trigger; facts: {elapsed, onSite, scroll, idle, exit, clicked: Set, pages}
export function due(tree, facts, depth = 0) {
  if (!tree || typeof tree != 'object' || depth > 9) return false;
  const f = facts, n = +tree.seconds || 0, list = tree.any || tree.all, one = t => due(t, f, depth + 1);
  if (Array.isArray(list)) return list.length > 0 && (tree.any ? list.some(one) : list.every(one));
  switch (tree.type) {
    case 'delay': return f.elapsed >= n;
    case 'time_on_site': return f.onSite >= n;
    case 'exit_intent': return !!f.exit;
    case 'scroll': return f.scroll >= (+tree.percent || 0);
    case 'inactivity': return f.idle >= n;
    case 'click': return !!(f.clicked && f.clicked.has(tree.selector));
    case 'pages': return f.pages >= (+tree.count || 1);
  }
  return false;
}

// Highest priority, then the first slug. items: {slug: item} or [[slug, item]].
export function pick(items) {
  let best, bp;
  for (const [s, it] of Array.isArray(items) ? items : Object.entries(items || {})) {
    const p = +(it && it.priority) || 0;
    if (!best || p > bp || p == bp && s < best) { best = s; bp = p }
  }
  return best;
}

const clicks = (t, out) => {
  if (t && typeof t == 'object') {
    if (t.type == 'click' && t.selector) out.push(t.selector);
    [].concat(t.any || [], t.all || []).forEach(x => clicks(x, out));
  }
  return out;
};

const STYLE = '.bd{z-index:2147483003;background:#0f172a73}' +
  '.p{position:fixed;z-index:2147483004;box-sizing:border-box;padding:24px;background:#fff;overflow:auto;' +
  'box-shadow:0 12px 40px #0004;border-radius:14px;animation:in .2s}' +
  '.p:focus,.ok:focus{outline:none}' +
  '.modal .p{inset:0;margin:auto;width:440px;height:fit-content;max-height:calc(var(--vh,100vh) - 32px)}' +
  '.slide .p{left:20px;bottom:20px;width:340px;max-height:calc(100vh - 40px)}' +
  '.p{max-width:calc(100vw - 32px)}' +
  '.bar .p{left:0;right:0;max-width:none;display:flex;flex-wrap:wrap;align-items:center;gap:8px 16px;padding:12px 56px 12px 20px;border-radius:0}' +
  '.bar-top .p{top:0}.bar-bottom .p{bottom:0}' +
  '.bar *{margin:0!important}.bar .im{display:none}.bar form{display:flex;flex-wrap:wrap;align-items:end;gap:8px}.bar .go{width:auto}' +
  '.im{display:block;width:100%;max-height:180px;object-fit:contain;margin:0 0 14px}' +
  'h2{font-size:20px}' +
  '@media (max-width:480px){.modal .p,.slide .p{inset:auto 0 var(--kb,0px);margin:0;width:auto;max-width:none;height:auto;' +
  'max-height:var(--vh,100vh);border-radius:16px 16px 0 0}.bar form,.bar .f{flex:1 1 100%}}';

const GRACE = 3e3; // no exit intent in the first seconds after load

export default function popup(rt, config) {
  const K = 'popup', W = window, D = document, now = () => Date.now(), items = config.items || {};
  const G = fn => rt.G(K, fn), on = (el, ev, fn, o) => el.addEventListener(ev, G(fn), o);
  const track = (name, popup) => rt.track(name, { popup });
  const SK = 'beckon:' + rt.key() + ':' + K;

  // memory: {slug: {shown, closed, converted}} in localStorage; {r: returning, s: [shown]} per session
  const read = s => rt.kept(K, s) || {}, write = (s, v) => rt.keep(K, v, s);
  const sess = read('session');
  if (!sess.s) { // returning: Beckon stored something in an earlier session
    try { sess.r = !!(localStorage.getItem(SK) || localStorage.getItem('beckon:' + rt.key() + ':vid')) } catch (e) {}
    sess.s = [];
    write('session', sess);
  }
  const remember = (slug, what) => {
    const m = read('local');
    m[slug] = { ...m[slug], [what]: now() };
    write('local', m);
    if (what == 'shown' && !sess.s.includes(slug)) sess.s.push(slug), write('session', sess);
  };

  const mobile = !!(W.matchMedia && matchMedia('(hover:none) and (pointer:coarse)').matches);
  const ctx = rt.context(), trail = ctx.trail || [], loaded = now(), began = (trail[0] || {}).at || loaded;
  let depth = 0, active = loaded, entered = 0, lastY = scrollY, upFrom = 0, upAt = 0, hidden = 0, tick = 0, soon = 0, cur = null;
  const candidates = () => Object.entries(items).filter(([s, it]) => it && it.triggers && targeted(it, {
    path: location.pathname + location.search, mobile, returning: sess.r, utm: ctx.utm, referrer: ctx.referrer,
    now: now(), timezone: config.timezone,
  }) && allowed(it, { ...read('local')[s], session: sess.s.includes(s) }, now()));

  // moment: 'exit' or the Set of clicked selectors, true only during this check.
  function check(moment) {
    if (cur || !tick) return;
    const t = now(), facts = {
      elapsed: (t - loaded) / 1e3, onSite: (t - began) / 1e3, scroll: depth, idle: (t - active) / 1e3,
      pages: trail.length, exit: moment == 'exit', clicked: moment instanceof Set && moment,
    };
    const slug = pick(candidates().filter(([, it]) => due(it.triggers, facts)));
    if (slug && rt.mayInterrupt()) { // the one widget that opens itself on this page view
      clearInterval(tick);
      tick = 0;
      show(slug, 1);
    }
  }

  function show(slug, auto) {
    const item = items[slug];
    if (!item) return console.warn('Beckon: no popup', slug);
    if (cur) { if (cur.slug == slug) return cur.panel.focus(); shut() }
    const own = { ...config.texts, ...item.texts }, { h } = rt;
    const T = k => rt.t(K + '.' + k, null, own);
    const layout = /^(slide|bar-top|bar-bottom)$/.test(item.layout) ? item.layout : 'modal', modal = layout == 'modal';
    const { host, root } = rt.mount(K, ':host{--a:' + rt.accent(item.color || config.color) + '}' + rt.UI + STYLE);
    const x = rt.closer(own), kids = [x];
    item.image && kids.push(h('img', { class: 'im', src: String(item.image), alt: '' }));
    kids.push(h('h2', { id: 'bk-pt' }, String(item.title || T('title'))));
    item.text && kids.push(h('p', {}, String(item.text)));
    // The offer's deadline, drawn here by the countdown widget.
    if (item.countdown) { const d = h('div'); kids.push(d); W.Beckon('open', 'countdown', { id: String(item.countdown), el: d }) }

    const names = [...new Set(Array.isArray(item.fields) ? item.fields : [])].filter(n => /^(phone|email|name)$/.test(n)).slice(0, 3);
    const B = !names.length && item.button, I = rt.identity();
    const ok = h('div', { class: 'ok', role: 'status', tabindex: '-1', hidden: '' });
    let form, first, hold;
    if (names.length) {
      const fields = names.map(n => [n, { type: n == 'phone' ? 'tel' : n == 'name' ? 'text' : n, autocomplete: n == 'phone' ? 'tel' : n }, T(n)]), err = h('div', { class: 'err', role: 'alert' });
      if (item.consent) fields.push(['consent', { type: 'checkbox' }, String(item.consent_text || T('consent'))]);
      const F = {}, label = String(item.submit || T('submit')), go = h('button', { type: 'submit', class: 'go' }, label);
      form = h('form', { novalidate: '' }, ...fields.map(([name, attrs, text]) => {
        const f = F[name] = rt.field('bk-p-' + name, { name, ...attrs }, text);
        f.input.value = I[name] || '';
        return f.row;
      }), err, go);
      kids.push(form, ok);
      first = F[names[0]].input;
      const bad = rt.invalid;
      hold = m => go.disabled && (err.textContent = m); // the server refused to store it for now: say so at once
      const busy = b => {
        if (b && root.activeElement == go) panel.focus(); // a disabled button would drop focus out of the dialog
        go.disabled = b;
        go.textContent = b ? T('sending') : label;
      };
      on(form, 'submit', e => {
        e.preventDefault();
        if (go.disabled) return;
        const v = {}, me = cur;
        err.textContent = '';
        for (const n in F) {
          const { input } = F[n];
          v[n] = input.type == 'checkbox' ? input.checked : input.value.trim() || null;
          rt.valid(F[n]);
        }
        if (!v.phone && !v.email) return F.phone || F.email ? bad(F.phone || F.email, T('contact')) : err.textContent = T('contact');
        if (item.consent && !v.consent) return bad(F.consent, T('consent_err'));
        busy(true);
        // Not answered soon: saved and sent later, in the server's words if it is the one that cannot store it.
        const slow = setTimeout(G(() => { if (me == cur) err.textContent = rt.status().held || T('offline') }), navigator.onLine === false ? 0 : 4e3);
        rt.send({
          type: 'lead', kind: K, widget: slug, phone: v.phone, email: v.email, name: v.name,
          consent: item.consent ? v.consent : undefined, context: rt.context(),
        }).then(G(a => {
          clearTimeout(slow);
          remember(slug, 'converted');
          if (me == cur) busy(false), err.textContent = '', thank(a.bonus);
        }), G(e => {
          clearTimeout(slow);
          if (me != cur) return;
          busy(false);
          // Server messages are written for visitors (shown as text); rate limits at the form.
          const text = e && e.type == 'error' && e.message || T('error'), f = e && e.code != 'rate_limited' && F[e.field];
          f ? bad(f, text) : (err.textContent = text, go.focus());
        }));
      });
    } else if (B && B.label) {
      first = h('button', { type: 'button', class: 'go' }, String(B.label));
      kids.push(first);
      on(first, 'click', () => {
        const [kind, id] = String(B.open || '').split(':');
        track('popup_converted', slug);
        remember(slug, 'converted');
        shut(); // it closes by itself: not the visitor's close
        if (kind && W.Beckon) W.Beckon('open', kind, id ? { id } : {});
      });
    }

    // The ack's bonus code, large and copyable, or the thanks.
    const thank = bonus => {
      const code = bonus && bonus.code;
      cur.done = 1;
      ok.replaceChildren(h('p', {}, code ? String(item.thanks || T('code')) : !item.has_bonus && item.thanks || T('thanks')));
      if (code) ok.append(...rt.bonus(K, bonus, own));
      form.hidden = true;
      ok.hidden = false;
      ok.focus();
    };

    const panel = h('div', { class: 'p', role: 'dialog', 'aria-labelledby': 'bk-pt', tabindex: '-1', ...modal && { 'aria-modal': 'true' } }, ...kids);
    const back = modal ? [h('div', { class: 'bd' })] : [];
    root.append(h('div', { class: 'w ' + layout + (layout[0] == 'b' ? ' bar' : '') }, ...back, panel));
    const prev = rt.deepActive(), typing = prev && (prev.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(prev.tagName));
    cur = { slug, host, panel, prev, done: 0, hold };
    if (modal) rt.aboveKeyboard(panel, () => cur && cur.panel == panel)();
    // Never takes the keys from someone typing, unless modal.
    if (modal || !auto || !typing) (auto ? panel : first || panel).focus();
    on(x, 'click', () => shut(1));
    back.forEach(b => on(b, 'click', () => shut(1)));
    rt.trap(K, panel, () => shut(1));
    rt.busy(K, true);
    remember(slug, 'shown');
    track('popup_shown', slug);
    rt.emit('open', { kind: K, id: slug });
  }

  // byVisitor: counted and remembered; not a close after a conversion or asked for by the page.
  function shut(byVisitor) {
    if (!cur) return;
    const { slug, host, prev, done } = cur;
    cur = null;
    host.remove();
    rt.busy(K, false);
    if (byVisitor && !done) remember(slug, 'closed'), track('popup_closed', slug);
    try { prev && prev.isConnected && prev != D.body && prev.focus() } catch (e) {}
    rt.emit('close', { kind: K, id: slug });
  }

  rt.onStatus(G(s => s.held && cur && cur.hold && cur.hold(s.held)));
  // A submit queued offline on an earlier page converts once acked.
  rt.onFrame('ack', G((a, fr) => fr.type == 'lead' && fr.kind == K && fr.widget && remember(fr.widget, 'converted')));

  // ---- triggers, watched only when a popup may open itself here
  const live = candidates();
  if (live.length) {
    const sels = live.flatMap(([, it]) => clicks(it.triggers, [])), act = () => { active = now() };
    ['pointerdown', 'keydown', 'touchstart', 'wheel'].forEach(ev => on(D, ev, act, { passive: true, capture: true }));
    on(D, 'mousemove', () => { act(); entered ||= now() }, { passive: true });
    on(W, 'scroll', () => {
      const y = scrollY, room = D.documentElement.scrollHeight - innerHeight, t = now();
      act();
      depth = Math.max(depth, room > 0 ? Math.min(100, Math.round(y / room * 100)) : 0);
      // Phones: a flick back up (a third of a screen within 0.4 s).
      if (y >= lastY) upAt = 0;
      else {
        if (!upAt || t - upAt > 400) upFrom = lastY, upAt = t;
        if (mobile && upFrom > innerHeight / 2 && upFrom - y > innerHeight / 3 && t - loaded > GRACE) upAt = 0, check('exit');
      }
      lastY = y;
      soon ||= setTimeout(G(() => { soon = 0; check() }), 150);
    }, { passive: true });
    // Desktop: the pointer leaves through the top after 1 s or more in the page (not a quick pass).
    on(D, 'mouseout', e => {
      if (e.relatedTarget) return;
      const t = now(), was = entered;
      entered = 0;
      if (!mobile && e.clientY <= 0 && was && t - was >= 1e3 && t - loaded >= GRACE) check('exit');
    });
    // Phones: coming back to the tab after leaving it.
    on(D, 'visibilitychange', () => {
      if (D.hidden) hidden = 1;
      else if (hidden && mobile && now() - loaded >= GRACE) hidden = 0, check('exit');
    });
    if (sels.length) on(D, 'click', e => {
      const hit = new Set(sels.filter(s => { try { return e.target.closest(s) } catch (_) {} }));
      if (hit.size) check(hit);
    }, true);
    tick = setInterval(G(() => check()), 1e3);
  }

  return { open: o => show(o && o.id || pick(items)), close: () => shut() };
}
