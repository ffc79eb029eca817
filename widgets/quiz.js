// Beckon quiz (docs/quiz.md): one question at a time, inline in [data-beckon-quiz=slug] and as a dialog.
// Every answer sends the path's answers (partial capture); the result is the server's, from its ack.

// Beside the runtime's dialog and form styles (rt.UI): the quiz's own panel, progress, options and result.
const STYLE = '.q{font-size:16px}' +
  '.in{max-width:640px;margin:auto;padding:20px;border:1px solid #e5e7eb;border-radius:14px;background:#fff}' +
  '.pn{position:fixed;left:50%;top:50%;transform:translate(-50%,-50%);z-index:2147483002;width:min(560px,100vw - 32px);' +
  'max-height:calc(var(--vh,100vh) - 40px);overflow:auto;padding:20px 24px;background:#fff;border-radius:14px;box-shadow:0 12px 40px #0005}' +
  'h3{margin:18px 0 12px;font-size:17px}' +
  '.bar{height:6px;margin:8px 0 14px;background:#e5e7eb}' +
  '.bar i{display:block;height:100%;background:var(--a);transition:width .3s}' +
  '.g{display:grid;gap:8px}' +
  '.im{grid-template-columns:repeat(auto-fill,minmax(130px,1fr))}' +
  '.o{display:flex;align-items:center;gap:10px;width:100%;margin:0;padding:12px 14px;border:1px solid #d1d5db;border-radius:10px;background:#fff;color:inherit;text-align:left;font-weight:400}' +
  '.o[aria-pressed=true],.o:has(:checked){border-color:var(--a);box-shadow:inset 0 0 0 1px var(--a)}' +
  '.im .o{flex-direction:column;padding:8px}' +
  '.o img{width:100%;aspect-ratio:4/3;object-fit:contain}' +
  '*{box-sizing:border-box}' +
  'input,textarea,button{max-width:100%;font:inherit;accent-color:var(--a);cursor:pointer}' +
  '.t,textarea{width:100%;padding:10px 12px;border:1px solid #d1d5db;border-radius:8px;cursor:auto}' +
  '.o [type=checkbox]{width:20px;height:20px;flex:none;margin:0}' +
  '.num{display:flex;flex-wrap:wrap;gap:12px;align-items:center}' +
  '[type=range]{flex:1 1 180px}' +
  '.num .t{width:110px;margin-right:6px}' +
  '.nav{display:flex;gap:8px;justify-content:flex-end;margin-top:18px}' +
  '.nav button{padding:11px 18px;border:1px solid #d1d5db;border-radius:8px;background:#fff;font-weight:600}' +
  '.bk{margin-right:auto}' +
  '.nav .go{width:auto;border-color:var(--a);background:var(--a);color:#fff}' +
  '.sm{margin-top:14px;color:#6b7280;font-size:13px}' +
  '.big{font-size:22px;color:#111827}' +
  '.big b,a{color:var(--a)}' +
  '.qq:focus,.pn:focus{outline:none}' +
  '@media (max-width:480px){.pn{inset:auto 0 var(--kb,0px);transform:none;width:auto;max-height:var(--vh,100vh);border-radius:14px 14px 0 0}}';

const KEEP = 30 * 864e5, CF = /^(phone|email|name|consent)$/;
const RES = 'result', M = Math, NO = {};

// Branch conditions as in server/quiz/formula.py, parsed into closures (no eval); a failure throws: not taken.
const no = () => { throw 0 };
const PW = { or: 1, and: 2, '==': 3, '!=': 3, '<': 4, '<=': 4, '>': 4, '>=': 4, '+': 5, '-': 5, '*': 6, '/': 6, '%': 6 };
const FN = {
  round: a => { const f = 10 ** M.trunc(a[1] ? a[1]() : 0); return M.floor(a[0]() * f + .5) / f },
  if: a => a[0]() ? a[1]() : a[2](),
};
for (const k of ['min', 'max', 'abs', 'floor', 'ceil']) FN[k] = a => M[k](...a.map(f => f()));

export function calc(src, V) {
  const t = String(src).match(/\d+(\.\d+)?|[A-Za-z_]\w*|[<>=!]=|\S/g) || [];
  let i = 0;
  const un = () => {
    const k = t[i++] || no(), a = [];
    let x;
    if (k == '-') return x = ex(7), () => -x();
    if (k == 'not') return x = ex(3), () => x() ? 0 : 1;
    if (k == '(') return x = ex(0), t[i++] == ')' ? x : no();
    if (/^\d/.test(k)) return () => +k;
    if (!/^[a-z_]/i.test(k) || PW[k]) no();
    if (t[i] != '(') return () => +V[k] || 0;
    const f = FN[k] || no();
    if (t[++i] == ')') i++;
    else { do a.push(ex(0)); while (t[i++] == ','); t[i - 1] == ')' || no() }
    return () => f(a);
  };
  const ex = m => {
    let a = un(), q;
    while (PW[q = t[i]] >= m) {
      const l = a, o = q, p = PW[o], r = (i++, ex(p + 1));
      a = () => {
        const x = l();
        if (p < 3) return (p < 2 ? x || r() : x && r()) ? 1 : 0;
        const y = r(), v = o == '+' ? x + y : o == '-' ? x - y : o == '*' ? x * y
          : o == '/' ? y ? x / y : no() : o == '%' ? y ? x - y * M.floor(x / y) : no()
          : o == '==' ? x == y : o == '!=' ? x != y : o == '<' ? x < y : o == '<=' ? x <= y : o == '>' ? x > y : x >= y;
        return isFinite(v) ? +v : no();
      };
    }
    return a;
  };
  const e = ex(0);
  return i < t.length ? no() : e();
}

export default function quiz(rt, config) {
  const K = 'quiz', D = document, I = config.items || {}, { h } = rt;
  const G = fn => rt.G(K, fn), on = (el, ev, fn) => el.addEventListener(ev, G(fn));
  const C = {}, seen = new WeakSet(), ctl = slug => C[slug] ||= make(slug);
  const color = it => rt.accent(it.color || config.color);

  // A quiz: state shared by its views (inline, dialog), and drawing.
  function make(slug) {
    const it = I[slug], steps = it.steps || [], by = {}, views = new Set(), SK = K + ':' + slug;
    steps.forEach(s => by[s.id] = s);
    const cs = steps.find(s => s.type == 'contact') || {};
    const own = { ...config.texts, ...it.texts }, T = (k, v) => rt.t(K + '.' + k, v, own);
    const oid = (o, i) => String(o.id ?? i + 1), picked = s => [].concat(S.a[s.id] ?? []);
    const chosen = s => s.options?.filter((o, i) => picked(s).includes(oid(o, i))) || [];
    const follow = id => (steps[steps.indexOf(by[id]) + 1] || { id: RES }).id;
    const vars = V => {
      for (const id of S.h) {
        const s = by[id] || {};
        if (s.type == 'number' && S.a[id] != null) V[s.var ?? id] = S.a[id];
        chosen(s).forEach(o => Object.entries(o.add || {}).forEach(([k, x]) => V[k] = (V[k] || 0) + x));
      }
      return V;
    };
    const nextOf = (s, V) => {
      for (const b of s.branches || []) try { if (calc(b.if, V)) return b.next } catch (e) {}
      return chosen(s).find(o => o.next)?.next || s.next || follow(s.id);
    };
    // Steps on the longest way left: progress grows with every step.
    const far = (id, m, s = by[id]) => !s ? 0 : m[id] ??= 1 + M.max(...[...s.branches || [], ...s.options || [], { next: s.next || follow(id) }]
      .map(x => far(x.next, m)));

    // S: r run, n frames sent, k frames answered, a answers (kept on going back), h path (ending in the current step
    // or 'result'), x step reached after frame n, res result, ct contact, cb callback, le lead emitted, e error.
    let S, tm, slow;
    const fresh = () => ({ h: [steps[0].id], a: {} });
    S = rt.kept(SK);
    if (!(S?.at > Date.now() - KEEP && S.h?.every(x => by[x] || x == RES))) S = fresh();
    const save = () => { S.at = Date.now(); rt.keep(SK, { ...S, e: 0 }) };
    const cur = () => S.h.at(-1);
    // The server's own words while it cannot store this run's answers (store full or down), else ''.
    const held = () => S.n > (S.k || 0) && rt.status().held || '';
    const answered = f => { S.k = M.max(S.k || 0, f.n) };
    const redraw = () => views.forEach(b => b.isConnected ? draw(b) : views.delete(b)), commit = () => { save(); redraw() };
    const go = to => {
      const i = S.h.indexOf(to);
      i < 0 ? S.h[S.h.length - 1] = to : S.h.length = i + 1;
    };

    function answer(v) {
      const s = by[cur()];
      S.a[s.id] = v;
      S.e = 0;
      S.h.push(nextOf(s, vars({})));
      if (s.type != 'info') {
        S.r ||= rt.uid();
        const n = S.n = (S.n || 0) + 1, past = S.h.slice(0, -1), f = { type: K, quiz: slug, run: S.r, n, answers: {} };
        past.forEach(id => /^(info|contact)$/.test(by[id].type) || (f.answers[id] = S.a[id] ?? null));
        if (past.includes(cs.id)) f.contact = S.ct;
        if (n < 2 || s == cs) f.context = rt.context();
        S.x = cur();
        rt.send(f).catch(G(e => refused(e, f)));
      }
      commit();
    }

    // The server has the last word (also on an earlier page's frames).
    function ack(a, f) {
      if (f.run != S.r) return;
      answered(f);
      const x = a.quiz || {}, to = x.complete ? RES : x.next;
      let moved, c = S.x;
      while (by[c]?.type == 'info') c = nextOf(by[c], vars({})); // skipped by the server's next
      if (a.callback) S.cb = { ...a.callback, t: Date.now() };
      if (f.contact && !S.le) rt.emit('lead', { kind: K, lead: a.lead, id: f.id }, S.le = 1);
      if (f.n == S.n && cur() == S.x && !S.res) {
        if (to && to != c) moved = go(to) || 1;
        if (x.complete) { S.res = x; delete S.ct; moved = 1 }
      }
      save();
      if (moved) redraw();
    }

    function refused(e, f) {
      if (f.run == S.r) answered(f);
      if (f.run != S.r || S.res) return;
      const k = e && e.field, to = by[k] ? k : CF.test(k) ? cs.id : cur() == RES && S.h.at(-2);
      if (to) go(to);
      S.e = { k, m: e && e.type == 'error' && e.message || T('error') };
      commit();
    }

    // Rebuilt on every change; focus follows only in the view acted in.
    function draw(box, focus) {
      const root = box.getRootNode(), id = cur(), s = by[id], E = S.e || {}, done = S.h.length - 1;
      const pct = id == RES ? 100 : M.round(100 * done / (done + far(id, {}))), bar = h('i');
      const btn = (cls, text, fn, type = 'button') => {
        const b = h('button', { type, class: cls }, text);
        fn && on(b, 'click', fn);
        return b;
      };
      const back = done ? btn('bk', T('back'), () => { S.h.pop(); S.e = 0; commit() }) : '';
      const err = box.e = h('div', { class: 'err', role: 'alert' }, by[E.k] || !CF.test(E.k) ? E.m || held() : '');
      const bad = (m, el = err) => { el.textContent = m; return NO };
      const kids = [h('h2', { id: 'bkq-t' }, it.title || ''),
        h('div', { class: 'bar', role: 'progressbar', 'aria-labelledby': 'bkq-t', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct }, bar)];
      let head, first;
      focus ||= box.contains(root.activeElement);
      bar.style.width = pct + '%';
      if (id != RES || S.res) { clearTimeout(tm); tm = slow = 0 }

      if (S.res) {
        const R = S.res, cb = S.cb || {}, n = cb.promise_seconds || 30, age = Date.now() - cb.t, a = h('a', { href: '#' }, T('again'));
        head = h('h3', { class: 'qq', tabindex: -1 }, T('result'));
        kids.push(head, ...(R.shown || []).map(x => h('p', { class: 'big' }, x.label, ' ', h('b', {}, x.value))),
          ...[...R.texts || [], ...(R.failed || []).map(x => T('failed', { label: x.label }))].map(x => h('p', {}, x)));
        if (R.bonus?.code) kids.push(...rt.bonus(K, R.bonus, own));
        kids.push(h('p', {}, cb.state == 'ringing' && age < n * 1e3 ? rt.t('callback.within', { n })
          : cb.state == 'scheduled' && age < 864e5 ? rt.t('callback.thanks_later') : ''));
        on(a, 'click', e => {
          e.preventDefault();
          S = fresh();
          commit();
        });
        kids.push(h('p', { class: 'sm' }, a));
      } else if (id == RES) { // slow or offline: say it is saved
        if (!tm) {
          slow = !navigator.onLine;
          tm = setTimeout(G(() => { slow = 1; cur() == RES && !S.res && redraw() }), 3e3);
        }
        head = h('p', { class: 'qq', role: 'status', tabindex: -1 }, held() || T(slow ? 'saved' : 'sending'));
        kids.push(head, err, h('div', { class: 'nav' }, back));
      } else {
        const t = s.type, opt = s.required === false, v = S.a[id], qid = 'bkq-q', nav = h('div', { class: 'nav' }, back);
        let body = '', get;
        head = h(t == 'info' ? 'p' : 'h3', { id: qid, class: 'qq', tabindex: -1 }, t == 'info' ? s.text
          : t == 'number' || t == 'text' ? h('label', { for: 'bkq-i' }, s.question) : s.question || (s == cs ? T('contact') : ''));
        const group = (cls, list) => h('div', { class: cls, role: 'group', 'aria-labelledby': qid }, ...list);
        if (t == 'single' || t == 'image') {
          body = group(t == 'image' ? 'g im' : 'g', s.options.map((o, i) => {
            const k = oid(o, i), b = btn('o', '', () => answer(k));
            b.setAttribute('aria-pressed', v == k);
            b.append(...t == 'image' ? [h('img', { src: o.image, alt: o.label }), h('span', { 'aria-hidden': 'true' }, o.label)] : [o.label]);
            return b;
          }));
        } else if (t == 'multiple') {
          const boxes = s.options.map((o, i) => h('input', { type: 'checkbox', value: oid(o, i) }));
          boxes.forEach(c => c.checked = picked(s).includes(c.value));
          body = group('g', boxes.map((c, i) => h('label', { class: 'o' }, c, s.options[i].label)));
          get = () => {
            const a = boxes.filter(c => c.checked).map(c => c.value);
            return a.length ? a : opt ? null : bad(T('pick'));
          };
        } else if (t == 'number') {
          const A = { min: s.min, max: s.max, step: s.step || 1 }, r = h('input', { type: 'range', ...A, 'aria-labelledby': qid });
          const n = first = h('input', { type: 'number', id: 'bkq-i', class: 't', ...A, inputmode: 'decimal' });
          r.value = n.value = v ?? s.default ?? s.min;
          on(r, 'input', () => n.value = r.value);
          on(n, 'input', () => n.value && (r.value = n.value));
          body = h('div', { class: 'num' }, r, h('span', {}, n, s.unit || ''));
          get = () => !n.value ? opt ? null : bad(T('required')) : n.checkValidity() ? n.valueAsNumber : bad(n.validationMessage);
        } else if (t == 'text') {
          body = first = h('textarea', { id: 'bkq-i', rows: 3, maxlength: 1000, placeholder: s.placeholder || '' });
          body.value = v || '';
          get = () => body.value.trim() || (opt ? null : bad(T('required')));
        } else if (s == cs) {
          const ks = s.fields || ['phone', 'name'], need = s.required || ks.filter(k => /^(phone|email)$/.test(k)).slice(0, 1);
          const ct = S.ct || rt.identity(), F = [...ks, ...it.consent ? ['consent'] : []].map(k => {
            const c = k == 'consent', f = rt.field('bkq-' + k, { type: c ? 'checkbox' : k == 'phone' ? 'tel' : k == 'email' ? k : 'text',
              autocomplete: k == 'phone' ? 'tel' : k }, c ? it.consent_text || rt.t('callback.consent') + '. ' + T('note') : T(k)), i = f.input;
            i.required = c || need.includes(k);
            c ? i.checked = !!ct.consent : i.value = ct[k] || '';
            c || i.required && f.row.firstChild.append(h('span', { 'aria-hidden': 'true' }, ' *'));
            if (E.k == k) rt.invalid(f, E.m, 0), first = i;
            return [k, f];
          });
          body = h('div', {}, ...F.map(x => x[1].row));
          get = () => {
            const o = {};
            for (const [k, f] of F) {
              const i = f.input, x = k == 'consent' ? i.checked : i.value.trim();
              const m = !x && i.required ? k == 'consent' ? rt.t('callback.consent_err') : T('required')
                : k == 'phone' && x && x.replace(/\D/g, '').length < 6 ? T('phone_bad')
                : k == 'email' && i.validity.typeMismatch ? T('email_bad') : '';
              o[k] = x || null;
              if (m) return rt.invalid(f, m), NO;
              rt.valid(f);
            }
            S.ct = o;
          };
        }
        if (opt && t != 'info' && s != cs) nav.append(btn('sk', T('skip'), () => answer(null)));
        if (!/^(single|image)$/.test(t)) nav.append(btn('go', T(s == cs ? 'submit' : 'next'), 0, 'submit'));
        const form = h('form', { novalidate: '' }, head, body, err, nav);
        on(form, 'submit', e => {
          e.preventDefault();
          const x = get && get();
          x !== NO && answer(x);
        });
        kids.push(...done ? [form] : [h('p', {}, it.intro || ''), form, h('p', { class: 'sm' }, T('note'))]);
      }
      box.replaceChildren(...kids);
      if (focus) (E.k && first || head).focus();
    }

    // The server could not store the answers yet (or now can): said where the visitor is, without
    // rebuilding a step they may be typing in.
    let said = '';
    const hold = (m = held()) => m == said || (said = m, cur() == RES && !S.res ? redraw()
      : S.e || views.forEach(b => b.e && (b.e.textContent = m)));

    return { views, draw, ack, hold };
  }

  // Inline quizzes, also those added later
  const show = (q, host, box, f) => {
    host.style.setProperty('--a', color(I[q]));
    ctl(q).views.add(box);
    ctl(q).draw(box, f);
  };
  const scan = () => D.querySelectorAll('[data-beckon-quiz]').forEach(el => {
    const q = el.dataset.beckonQuiz, m = I[q] && !seen.has(el) && rt.mount(K, rt.UI + STYLE, el);
    if (!m) return;
    const box = m.root.appendChild(h('div', { class: 'w q in' }));
    // An inline quiz is "opened" by the visitor's first click in it.
    box.addEventListener('click', G(() => rt.track(K + '_opened', { quiz: q })), { once: true });
    show(q, m.host, box, !seen.add(el));
  });
  scan();
  new MutationObserver(G(scan)).observe(D.documentElement, { childList: true, subtree: true });
  rt.onFrame('ack', G((a, f) => f.type == K && I[f.quiz] && ctl(f.quiz).ack(a, f)));
  rt.onStatus(G(() => Object.values(C).forEach(c => c.hold())));

  // ---- the dialog
  let P, prev;
  function open(o) {
    const slug = o && o.id || Object.keys(I)[0];
    if (!I[slug]) return console.warn('Beckon: no quiz', slug);
    if (!P) {
      const { host, root } = rt.mount(K, rt.UI + STYLE), box = h('div');
      const x = rt.closer(config.texts);
      const pn = h('div', { class: 'w q pn', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'bkq-t', tabindex: -1 }, x, box);
      const bd = h('div', { class: 'bd' }), w = h('div', { hidden: '' }, bd, pn); // :host{all:initial} beats host[hidden]
      root.append(w);
      P = { host, w, box, fit: rt.aboveKeyboard(pn, () => P.slug) };
      on(x, 'click', close);
      on(bd, 'click', close);
      rt.trap(K, pn, close);
    }
    if (P.slug == slug) return;
    if (P.slug) ctl(P.slug).views.delete(P.box);
    else prev = rt.deepActive();
    P.slug = slug;
    P.w.hidden = false;
    show(slug, P.host, P.box, 1);
    P.fit();
    rt.busy(K, true);
    rt.emit('open', { kind: K });
    rt.track(K + '_opened', { quiz: slug });
  }
  function close() {
    if (!P?.slug) return;
    ctl(P.slug).views.delete(P.box);
    P.slug = 0;
    P.w.hidden = true;
    rt.busy(K, false);
    prev?.focus();
    rt.emit('close', { kind: K });
  }

  return { open, close };
}
