// Beckon chat widget (wire: docs/chat-protocol.md). Messages are text only; the conversation is kept
// in localStorage once the visitor has written, and the server fills gaps by seq. Offline: a lead form.

const STYLE = '.w{--b:20px}' +
  '.fab{bottom:var(--b)}' +
  '.fab svg{width:28px;height:28px}' +
  '.n{position:absolute;top:-4px;right:-4px;min-width:20px;padding:0 5px;box-sizing:border-box;border-radius:10px;' +
  'background:#dc2626;font:600 12px/20px sans-serif}' +
  '.panel{bottom:calc(var(--b) + 68px + var(--kb,0px));display:flex;flex-direction:column;width:370px;' +
  'height:min(560px,calc(var(--vh,100vh) - var(--b) - 88px));overflow:hidden}' +
  '.hd{display:flex;align-items:center;padding:10px 8px 10px 16px;border-bottom:1px solid #e5e7eb}' +
  'h2{flex:1;margin:0;font-size:17px}' +
  '.hd .x{position:static}' +
  '.main{flex:1;overflow:auto;padding:8px 14px 12px;overscroll-behavior:contain}' +
  '.m{display:flex;flex-direction:column;align-items:flex-start;max-width:85%;margin:8px 0}' +
  '.v{margin-left:auto;align-items:flex-end}' +
  '.b{padding:8px 12px;border-radius:14px;background:#f3f4f6;white-space:pre-wrap;overflow-wrap:anywhere}' +
  '.v .b{background:var(--a);color:#fff}' +
  '.v a{color:inherit}' +
  '.q .b{opacity:.65}' +
  '.who{display:flex;align-items:center;gap:6px;margin-bottom:3px}' +
  '.av{width:26px;height:26px;border-radius:50%;background:#e5e7eb;font:600 11px/26px sans-serif;text-align:center;object-fit:cover}' +
  '.meta,.who,.ty{display:flex;gap:6px;font-size:12px;color:#6b7280}' +
  '.ty{padding:0 16px 6px}' +
  '.foot{border-top:1px solid #e5e7eb}' +
  '.ft{display:flex;gap:8px;align-items:flex-end;padding:10px 12px}' +
  '.ft textarea{flex:1;min-height:42px;max-height:120px;resize:none;field-sizing:content;box-sizing:border-box;padding:9px 12px;' +
  'border:1px solid #d1d5db;border-radius:8px;font:inherit;font-size:16px}' +
  'p{margin:10px 0;color:inherit}' +
  '.f{margin:0}' +
  'label{margin:10px 0 4px;font-weight:400;font-size:14px}' +
  '.foot .err{margin:6px 14px 0}' +
  '.ft .go{width:auto;padding:10px 16px}' +
  '.xb .go,.alt{width:100%;margin-top:12px}' +
  '.alt{padding:10px 16px;border:0;border-radius:8px;font:inherit;font-weight:600;cursor:pointer;background:none;color:var(--a);box-shadow:inset 0 0 0 1px}' +
  '.faces{display:flex;gap:6px}' +
  '.face{flex:1;height:46px;border:1px solid #d1d5db;border-radius:8px;background:none;color:#6b7280;cursor:pointer}' +
  '.face svg{width:30px;fill:none;stroke:currentColor;stroke-width:1.6;stroke-linecap:round}' +
  '.face[aria-pressed=true]{color:var(--a);box-shadow:inset 0 0 0 2px}' +
  'a{color:var(--a)}' +
  '.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}' +
  '.panel:focus,p:focus{outline:none}' +
  '@media (max-width:480px){.panel{height:var(--vh,100vh);border-radius:0}.open .fab{display:none}}';

const LINK = /(https?:\/\/[^\s<>"'`]*[^\s<>"'`.,;:!?)\]])/i, EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const KEEP = 30 * 864e5, E = Symbol(); // m[E]: its nodes (not stored)

export default function chat(rt, config) {
  const { h } = rt, K = 'chat', D = document, W = window, now = Date.now;
  const T = (k, vars) => rt.t(K + '.' + k, vars, config.texts);
  const SK = 'beckon:' + rt.key() + ':' + K;
  const { host, root } = rt.mount(K, ':host{--a:' + rt.accent(config.color) + '}' + rt.UI + STYLE);
  // Whatever runs later runs guarded: a bug disables this widget, never the page.
  const G = fn => rt.G(K, fn);
  const on = (el, ev, fn, o) => el.addEventListener(ev, G(fn), o);
  const later = (fn, ms) => setTimeout(G(fn), ms);
  const { icon } = rt;

  // A message: {id: own frame id, c: conversation, s: seq, w: author, n: name, t: text, at,
  // f: frame not acked yet, r: seen, k: read by the manager}. The last of convs is current.
  let msgs = [], convs = [], st = {}, rated, isOpen, prev, synced, paged, touched, ac, typAt = 0, typT, tyT;
  let readSent = 0, lead = 0, thanked, score, shown, avail = config.available !== false;
  const cur = () => convs[convs.length - 1];
  const adopt = c => c && !convs.includes(c) && convs.push(c);
  const top = (c, w) => msgs.reduce((n, m) => m.c == c && (!w || m.w == w) && m.s > n ? m.s : n, 0);
  const mine = () => msgs.some(m => m.w == 'visitor');

  // Unique by frame id or by conversation+seq (so our echo goes once acked).
  function up(m) {
    let o = m.id && msgs.find(x => x.id == m.id) || m.s && msgs.find(x => x.c == m.c && x.s == m.s);
    if (!o) msgs.push(o = m);
    else if (o != m) {
      if (m.s && !o.s) { o.c = m.c; o.s = m.s; delete o.f }
      o.id ||= m.id; o.r ||= m.r; o.k ||= m.k;
    }
    if (o.s) msgs = msgs.filter(x => x == o || x.c != o.c || x.s != o.s);
    const rank = x => x.s ? convs.indexOf(x.c) * 1e9 + x.s : 9e15 + x.at;
    msgs.sort((a, b) => rank(a) - rank(b));
    return o;
  }

  // Nothing is stored before the visitor has sent something.
  function load(first) {
    let v;
    v = rt.kept(K);
    const m = v && Array.isArray(v.m) ? v.m.filter(x => x && typeof x.t == 'string' && x.at > now() - KEEP) : [];
    if (!m.length) return first && save(1);
    (v.cs || []).forEach(adopt);
    if (first && v.st) st = v.st;
    rated ||= v.rc;
    m.forEach(up);
  }
  function save(drop) {
    if (drop) return rt.keep(K);
    if (!cur() && !mine()) return;
    msgs = msgs.filter(m => m.at > now() - KEEP || !m.s).slice(-200);
    convs = convs.filter(x => x == cur() || msgs.some(m => m.c == x));
    rt.keep(K, { cs: convs, st, rc: rated, m: msgs });
  }

  const badge = h('span', { class: 'n', 'aria-hidden': 'true' });
  const fab = h('button', { type: 'button', class: 'fab', part: 'button', 'aria-haspopup': 'dialog', 'aria-expanded': 'false' },
    icon('M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z'), badge);
  const close = rt.closer(config.texts);
  const log = h('div', { role: 'log', 'aria-live': 'polite' }), xb = h('div', { class: 'xb' });
  const main = h('div', { class: 'main' }, log, xb), ty = h('div', { class: 'ty', hidden: '' });
  const field = (name, tag, attrs) => rt.field('bkc-' + name, { name, ...attrs }, T(name), tag);
  const F = {
    name: field('name', 'input', { autocomplete: 'name' }),
    email: field('email', 'input', { type: 'email', autocomplete: 'email' }),
    phone: field('phone', 'input', { type: 'tel', autocomplete: 'tel' }),
    message: field('message', 'textarea', { rows: 3 }),
    comment: field('comment', 'textarea', { rows: 2 }),
  };
  const ta = h('textarea', { id: 'bkc-msg', rows: 1, placeholder: T('message') });
  const err = h('div', { class: 'err', role: 'alert' });
  const ft = h('form', { class: 'ft' }, h('label', { for: 'bkc-msg', class: 'sr' }, T('message')), ta,
    h('button', { type: 'submit', class: 'go' }, T('send')));
  const foot = h('div', { class: 'foot' }, ft);
  const panel = h('div', { class: 'panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'bkc-t', tabindex: -1, hidden: '' },
    h('div', { class: 'hd' }, h('h2', { id: 'bkc-t' }, T('title')), close), main, ty);
  const wrap = h('div', { class: 'w' + (config.position == 'left' ? ' left' : '') }, fab, panel);
  root.append(wrap);
  const hasCb = () => D.querySelector('[data-beckon-widget="callback"]');
  later(() => (config.stack || hasCb()) && wrap.style.setProperty('--b', '92px'));

  const offP = h('p', { tabindex: -1 }), leadGo = h('button', { type: 'submit', class: 'go' }, T('submit'));
  const offForm = h('form', { novalidate: '' }, F.name.row, F.email.row, F.phone.row, F.message.row, leadGo);
  const cb = h('button', { type: 'button', class: 'alt' }, T('callback'));
  const faces = [1, 2, 3, 4, 5].map(i => h('button', { type: 'button', class: 'face', 'aria-label': T('f' + i), 'aria-pressed': false },
    icon(`M2 12a10 10 0 1 0 20 0a10 10 0 1 0-20 0M9 9.5v.5M15 9.5v.5M7.5 ${15.5 + i / 5}Q12 ${11 + i * 1.8} 16.5 ${15.5 + i / 5}`)));
  const rateGo = h('button', { type: 'submit', class: 'go', disabled: '' }, T('rate_send'));
  const rateForm = h('form', { role: 'group', 'aria-labelledby': 'bkc-rq' },
    h('p', { id: 'bkc-rq' }, T('rate')), h('div', { class: 'faces' }, ...faces), F.comment.row, rateGo);
  const newChat = h('a', { href: '#' }, T('new')), ratedP = h('p', { tabindex: -1 }, T('rated')), preP = h('p', {}, T('prechat'));

  const pre = () => Array.isArray(config.prechat) && !cur() && !mine() ? config.prechat.filter(k => /^(name|email|phone)$/.test(k)) : [];
  // An open conversation goes on even while nobody is online: its messages are kept and answered later.
  const offline = () => !avail && !(st.state == 'open' && st.conversation == cur());
  const mode = () => offline() ? (lead ? 'thx' : 'off') : thanked ? 'rated'
    : st.state == 'closed' && st.rating == null && st.conversation == cur() && rated != cur() ? 'rate' : 'chat';
  const target = () => mode() == 'chat' ? pre().map(k => F[k].input).find(i => !i.value) || ta
    : xb.querySelector('button,input,a,[tabindex]');

  function view() {
    const m = mode(), p = m == 'chat' ? pre() : [], key = m + p + lead;
    if (key == shown) return;
    shown = key;
    const cbs = hasCb() ? cb : '';
    offP.textContent = m == 'off' ? T('away') : lead == 2 ? T('offline') : T('thanks');
    xb.replaceChildren(...{
      chat: p.length ? [preP, ...p.map(k => F[k].row)] : [],
      off: [offP, offForm, cbs],
      thx: [offP, cbs],
      rate: [rateForm, newChat],
      rated: [ratedP, newChat],
    }[m]);
    const [box, at] = m == 'off' ? [offForm, leadGo] : m == 'rate' ? [rateForm, rateGo] : [foot, ft];
    box.insertBefore(err, at);
    m == 'chat' ? panel.append(foot) : foot.remove();
    const a = root.activeElement;
    if (isOpen && !(a && a.getClientRects().length)) target().focus();
  }

  const linkify = s => s.split(LINK).map((x, i) => i % 2 ? h('a', { href: x, rel: 'noopener noreferrer nofollow', target: '_blank' }, x) : x);
  const photo = n => rt.photo(([st.manager, config.greeter].find(x => x && x.name == n) || {}).photo);
  const avatar = (n, p) => {
    const ini = h('span', { class: 'av', 'aria-hidden': 'true' }, ((n || '').match(/(?<!\S)\p{L}/gu) || []).slice(0, 2).join('').toUpperCase());
    if (!p) return ini;
    const img = h('img', { class: 'av', alt: '', src: p });
    on(img, 'error', () => img.replaceWith(ini));
    return img;
  };
  function line(m) {
    const x = m[E] = { mk: h('span', {}), av: avatar(m.n), u: '' };
    x.who = h('div', { class: 'who' }, x.av, m.n || '');
    x.el = h('div', { class: 'm ' + m.w[0] }, ...m.w == 'manager' ? [x.who] : [], h('div', { class: 'b' }, ...linkify(m.t)),
      h('div', { class: 'meta' }, new Date(m.at).toLocaleTimeString(rt.lang(), { timeStyle: 'short' }), x.mk));
    return x;
  }
  const greet = config.greeting && line({ w: 'manager', n: (config.greeter || rt.site()).name, t: String(config.greeting), at: now() }).el;

  function draw() {
    const unread = msgs.filter(m => m.w == 'manager' && !m.r).length;
    badge.textContent = unread || '';
    fab.setAttribute('aria-label', T(unread ? 'unread' : 'button', { n: unread }));
    if (!isOpen) return;
    view();
    const s = rt.status(), stick = main.scrollHeight - main.scrollTop - main.clientHeight < 80, kids = greet && !offline() ? [greet] : [];
    let p = {};
    for (const m of msgs) {
      if (m.w == 'visitor' && !m.id && msgs.some(x => x.f && x.t == m.t)) continue; // an echo before its ack
      const x = m[E] || line(m), u = photo(m.n);
      x.mk.textContent = m.w != 'visitor' ? '' : m.s ? T(m.k ? 'read' : 'sent')
        : s.held || T(s.online ? 'sending' : 'queued'); // held: the server's word that it could not save it yet
      x.el.classList.toggle('q', !m.s);
      x.who.hidden = p.w == m.w && p.n == m.n && p.c == m.c;
      if (x.u != u) x.av.replaceWith(x.av = avatar(m.n, x.u = u));
      kids.push(x.el);
      p = m;
    }
    kids.forEach((el, i) => log.children[i] != el && log.insertBefore(el, log.children[i] || null));
    while (log.children.length > kids.length) log.lastChild.remove();
    if (stick) main.scrollTop = main.scrollHeight;
    if (D.visibilityState == 'visible') {
      let seen = 0;
      msgs.forEach(m => { if (!m.r && m.w != 'visitor') seen = m.r = 1 });
      if (seen) { save(); draw() }
      const s = top(cur(), 'manager');
      if (s > readSent && rt.push({ type: 'chat_read', conversation: cur(), seq: top(cur()) })) readSent = s;
    }
  }

  const typing = on => {
    clearTimeout(typT);
    if (on && now() - typAt > 3e3) rt.push({ type: 'chat_typing', on: !!(typAt = now()) });
    if (on) typT = later(() => typing(), 4e3);
    else if (typAt) rt.push({ type: 'chat_typing', on: !!(typAt = 0) });
  };
  const hideTy = () => { clearTimeout(tyT); ty.hidden = true };

  // Chime only after the visitor has interacted with this page.
  for (const ev of ['pointerdown', 'keydown']) on(W, ev, () => { touched = 1 }, { capture: true, once: true });
  function chime() {
    if (!touched) return;
    try {
      ac ||= new (W.AudioContext || W.webkitAudioContext)();
      ac.resume();
      const o = ac.createOscillator(), g = ac.createGain(), t = ac.currentTime;
      o.frequency.value = 880;
      o.frequency.setValueAtTime(1320, t + .12);
      g.gain.value = .15;
      g.gain.exponentialRampToValueAtTime(1e-4, t + .45);
      o.connect(g).connect(ac.destination);
      o.start();
      o.stop(t + .5);
    } catch (e) {}
  }

  const { invalid } = rt;
  const clear = () => {
    err.textContent = '';
    Object.values(F).forEach(rt.valid);
  };
  const val = k => F[k].input.value.trim();
  const contact = (ks, need) => {
    const o = {};
    for (const k of ks) {
      const v = val(k);
      if (!v && need) return invalid(F[k], T('required'));
      if (v && (k == 'email' ? !EMAIL.test(v) : k == 'phone' && (v.match(/\d/g) || []).length < 6)) return invalid(F[k], T(k + '_bad'));
      o[k] = v || null;
    }
    return o;
  };
  const refused = e => {
    const text = e && e.type == 'error' && e.message || T('error'), f = e && F[e.field == 'answers' ? 'message' : e.field];
    f && f.row.isConnected ? invalid(f, text) : err.textContent = text;
  };
  const post = m => rt.send(m.f).catch(G(e => {
    msgs = msgs.filter(x => x != m);
    ta.value ||= m.t;
    save();
    draw();
    refused(e);
  }));

  on(ft, 'submit', e => {
    e.preventDefault();
    const text = ta.value.trim(), p = pre();
    if (!text) return;
    clear();
    const o = p.length ? contact(p, 1) : {};
    if (!o) return;
    const id = rt.uid(), m = up({ id, w: 'visitor', t: text, at: now(), f: { type: 'chat_message', id, text, ...o } });
    ta.value = '';
    typing();
    thanked = 0;
    save();
    post(m);
    rt.connect();
    draw();
    main.scrollTop = main.scrollHeight;
  });
  on(ta, 'keydown', e => {
    if (e.key == 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); ft.requestSubmit() }
  });
  on(ta, 'input', () => typing(ta.value.trim()));

  on(offForm, 'submit', e => {
    e.preventDefault();
    if (leadGo.disabled) return;
    clear();
    if (!val('email') && !val('phone')) return invalid(F.email, T('contact'));
    const o = contact(['email', 'phone']), text = val('message');
    if (!o) return;
    if (!text) return invalid(F.message, T('required'));
    leadGo.disabled = true;
    const slow = later(() => { lead = 2; draw() }, navigator.onLine === false ? 0 : 3e3);
    const end = ok => { clearTimeout(slow); leadGo.disabled = false; lead = ok; draw() };
    rt.send({ type: 'lead', kind: K, name: val('name') || null, ...o, answers: { message: text } })
      .then(G(() => end(1)), G(e => { end(0); refused(e) }));
  });
  on(cb, 'click', () => { shut(); W.Beckon('open', 'callback') });

  faces.forEach((b, i) => on(b, 'click', () => {
    score = i + 1;
    faces.forEach(x => x.setAttribute('aria-pressed', x == b));
    rateGo.disabled = false;
  }));
  on(rateForm, 'submit', e => {
    e.preventDefault();
    clear();
    rt.send({ type: 'chat_rating', conversation: rated = cur(), score, comment: val('comment') || undefined })
      .catch(G(e => { thanked = rated = 0; draw(); refused(e) }));
    thanked = 1;
    save();
    draw();
  });
  on(newChat, 'click', e => {
    e.preventDefault();
    thanked = 0;
    rated = cur();
    save();
    draw();
    ta.focus();
  });

  const here = () => cur() && paged != cur() && (paged = rt.push({ type: 'page', url: location.href, title: D.title }) && cur());
  rt.onFrame('welcome', G(() => { synced = paged = 0; here() }));
  rt.onFrame('ack', G((a, fr) => {
    if (fr.type != 'chat_message' || !a.conversation || !(a.seq > 0)) return;
    adopt(a.conversation);
    up({ id: fr.id, c: a.conversation, s: a.seq, w: 'visitor', t: fr.text, at: now() });
    here();
    save();
    draw();
  }));
  rt.onFrame('chat_state', G(f => {
    if (typeof f.available == 'boolean') avail = f.available;
    if (f.conversation) {
      adopt(f.conversation);
      st = { conversation: f.conversation, state: f.state, manager: f.manager, rating: f.rating };
      msgs.forEach(m => { if (m.c == f.conversation && m.s <= f.read_seq) m.k = 1 });
      synced ||= rt.push({ type: 'chat_sync', conversation: f.conversation, since: top(f.conversation) });
      save();
    }
    draw();
  }));
  rt.onFrame('chat_message', G(f => {
    const c = f.conversation, s = f.seq;
    if (!c || !(s > 0) || msgs.some(m => m.c == c && m.s == s)) return;
    if (convs.includes(c) && top(c) + 1 < s) rt.push({ type: 'chat_sync', conversation: c, since: top(c) });
    adopt(c);
    const m = up({ c, s, w: f.author || 'system', n: f.name || '', t: String(f.text ?? ''), at: f.at || now() });
    if (m.w == 'manager') {
      hideTy();
      rt.emit('message', { kind: K, author: f.author, name: f.name, text: m.t });
      if (!isOpen || D.hidden) chime();
    }
    save();
    draw();
  }));
  rt.onFrame('chat_typing', G(f => {
    hideTy();
    ty.textContent = T('typing', { name: f.name || st.manager && st.manager.name || T('someone') });
    ty.hidden = !f.on;
    tyT = later(hideTy, 6e3);
  }));
  rt.onFrame('chat_read', G(f => {
    msgs.forEach(m => { if (m.c == f.conversation && m.s <= f.seq) m.k = 1 });
    save();
    draw();
  }));
  rt.onStatus(G(draw));
  on(W, 'storage', e => e.key == SK && e.newValue && (load(), draw()));
  on(D, 'visibilitychange', draw);

  const fit = rt.aboveKeyboard(panel, () => isOpen);
  function open() {
    if (isOpen) return target().focus();
    isOpen = 1;
    prev = rt.deepActive();
    const I = rt.identity();
    for (const k of ['name', 'email', 'phone']) F[k].input.value ||= I[k] || '';
    panel.hidden = shown = false;
    wrap.classList.add('open');
    fab.setAttribute('aria-expanded', true);
    rt.busy(K, true);
    fit();
    draw();
    main.scrollTop = main.scrollHeight;
    const t = target();
    t.focus();
    t.scrollIntoView({ block: 'nearest' }); // focused already by draw(): what it says is in view
    rt.emit('open', { kind: K });
    rt.track(K + '_opened');
  }
  function shut() {
    if (!isOpen) return;
    isOpen = 0;
    panel.hidden = true;
    wrap.classList.remove('open');
    fab.setAttribute('aria-expanded', false);
    rt.busy(K, false);
    typing();
    try { (prev && prev.isConnected && prev != D.body ? prev : fab).focus() } catch (e) {}
    rt.emit('close', { kind: K });
  }
  on(fab, 'click', () => isOpen ? shut() : open());
  on(close, 'click', shut);
  rt.trap(K, panel, shut);

  load(1);
  draw();
  if (cur() || msgs.length) {
    rt.idle(G(() => {
      msgs.forEach(m => m.f && post(m));
      rt.connect();
    }));
  }

  return { open, close: shut, host };
}
