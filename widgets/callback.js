// Beckon callback widget: a floating call button, a "call me back" form and, once sent, the live
// status of the callback as the server reports it (ringing, claimed, missed, scheduled, done).
// The status is kept in localStorage after a submit so it survives reloads and other pages;
// while the panel is closed it shows as a small chip beside the button.

const STYLE = '.fab{transition:transform .2s}' +
  '.fab:hover{transform:scale(1.06)}' +
  '.cw{position:fixed;bottom:30px;right:86px;z-index:2147483000;max-width:calc(100vw - 98px)}' +
  '.left .cw{right:auto;left:86px}' +
  '.chip{display:block;box-sizing:border-box;max-width:100%;padding:7px 14px;border:0;border-radius:18px;background:#fff;color:#111827;box-shadow:0 2px 10px rgba(0,0,0,.22);' +
  'font:inherit;font-size:14px;line-height:22px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;cursor:pointer;' +
  'font-variant-numeric:tabular-nums}' +
  '.chip::before{content:"";display:inline-block;width:8px;height:8px;margin-right:8px;border-radius:50%;background:var(--a);vertical-align:1px}' +
  '.panel{bottom:calc(88px + var(--kb,0px));width:340px;max-height:calc(var(--vh,100vh) - 108px);overflow:auto;padding:20px;' +
  'animation:in .18s ease-out}' +
  '.panel:focus,.msg:focus,.st:focus{outline:none}' +
  '.msg{margin:8px 0 4px;color:#111827;font-size:16px}' +
  '.st{margin:8px 0 4px;font-variant-numeric:tabular-nums}' +
  '.st p{margin:0 0 6px;color:#111827;font-size:16px}' +
  '.st .sh{font-weight:600}' +
  '.st .sn{color:#4b5563;font-size:14px}' +
  '.st p:empty{display:none}' +
  '.st:not([hidden])+a+form{margin-top:14px}' +
  '.again{font-size:14px;color:var(--a)}' +
  '.fe{margin:0 0 10px;padding:8px 10px;border-radius:8px;background:#fef2f2;font-size:14px}' +
  '.hp{position:absolute;left:-9999px;top:auto;width:1px;height:1px;overflow:hidden}' +
  '@media (max-width:480px){.panel{max-height:var(--vh,100vh);border-radius:14px 14px 0 0}}';

const PHONE = 'M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25c1.1.37 2.3.57 3.6.57a1 1 0 0 1 1 1V20a1 1 0 0 1-1 1' +
  'A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1.02z';
const LIVE = /^(ringing|missed)$/, DONE_KEPT = 6e5, STALE = 36e5;

const put = (el, text) => { if (el.textContent != text) el.textContent = text };

export default function callback(rt, config) {
  const { h } = rt, K = 'callback', D = document, L = rt.lang(), J = JSON.stringify;
  const T = (k, vars) => rt.t(K + '.' + k, vars, config.texts);
  const SK = 'beckon:' + rt.key() + ':' + K;
  const { host, root } = rt.mount(K, ':host{--a:' + rt.accent(config.color) + '}' + rt.UI + STYLE);
  const on = (el, ev, fn) => el.addEventListener(ev, rt.G(K, fn));

  // ---- times, in the visitor's time zone and language
  const fmts = {}, fmt = o => fmts[J(o)] ||= new Intl.DateTimeFormat(L, o), F = (o, ms) => fmt(o).format(ms);
  const HM = { hour: 'numeric', minute: '2-digit' };
  const hm = ms => F(HM, ms), wk = ms => F({ weekday: 'short', ...HM }, ms);
  const day = ms => { // "Mon 24 Nov" in either language
    const p = {};
    fmt({ weekday: 'short', day: 'numeric', month: 'short' }).formatToParts(ms).forEach(x => p[x.type] = x.value);
    return p.weekday + ' ' + p.day + ' ' + p.month;
  };
  const by = ms => new Date(ms).toDateString() == new Date().toDateString() ? hm(ms) : wk(ms);

  // ---- working hours: outside them the form books a slot instead of promising seconds
  const H = config.hours || {}, closed = H.open === false;
  const slots = closed && Array.isArray(H.slots) ? H.slots.filter(s => s && s.end > s.start) : [];
  const goText = slots.length ? T('book') : T('submit');

  const fab = h('button', {
    type: 'button', class: 'fab', part: 'button', 'aria-label': T('button'),
    'aria-haspopup': 'dialog', 'aria-expanded': 'false',
  }, rt.icon(PHONE));
  const chip = h('button', { type: 'button', class: 'chip', part: 'chip', 'aria-haspopup': 'dialog' });
  const chipBox = h('div', { class: 'cw', role: 'status', 'aria-live': 'polite', hidden: '' }, chip);

  const field = (name, attrs, tag, text = T(name)) => rt.field('bk-' + name, { name, ...attrs }, text, tag);
  const phone = field('phone', { type: 'tel', autocomplete: 'tel', inputmode: 'tel', required: '' });
  const name = field('name', { type: 'text', autocomplete: 'name' });
  const slot = slots.length && field('slot', { required: '' }, 'select');
  const consent = config.require_consent &&
    field('consent', { type: 'checkbox', required: '' }, 'input', String(config.consent_text || T('consent')));
  const fields = [phone, name, slot, consent].filter(Boolean);
  // Honeypot: invisible to people and assistive tech; bots that fill it get a fake success.
  const trap = h('input', { id: 'bk-website', name: 'website', type: 'text', tabindex: '-1', autocomplete: 'off' });
  const formErr = h('div', { class: 'err fe', role: 'alert' });
  const go = h('button', { type: 'submit', class: 'go' }, goText);
  const form = h('form', { novalidate: '' }, ...fields.map(f => f.row),
    h('div', { class: 'hp', 'aria-hidden': 'true' }, h('label', { for: 'bk-website' }, T('website')), trap), formErr, go);
  const intro = h('p', {}, !closed ? T('intro') : !slots.length ? T('closed_later')
    : H.next_open ? T('closed_back', { when: wk(H.next_open) }) : T('closed'));
  const msg = h('p', { class: 'msg', role: 'status', tabindex: '-1', hidden: '' });
  // Live status: headline, line (the countdown lives here), note; a link to start over once it is done.
  const sh = h('p', { class: 'sh' }), sl = h('p', { class: 'sl' }), sn = h('p', { class: 'sn' });
  const again = h('a', { href: '#', class: 'again', hidden: '' }, T('again'));
  const stat = h('div', { class: 'st', role: 'status', 'aria-live': 'polite', tabindex: '-1', hidden: '' }, sh, sl, sn);
  const close = rt.closer(config.texts);
  const panel = h('div', {
    class: 'panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'bk-title', tabindex: '-1', hidden: '',
  }, close, h('h2', { id: 'bk-title' }, T('title')), intro, stat, again, form, msg);
  const backdrop = h('div', { class: 'bd', hidden: '' });
  root.append(h('div', { class: 'w ' + (config.position == 'left' ? 'left' : 'right') }, fab, chipBox, backdrop, panel));

  // step: 'form' | 'queued' (saved offline) | 'thanks' (acked, no status yet) | 'status'
  // cur: { f: last status frame, at: local time it arrived } of the callback being followed.
  let isOpen = false, prev = null, step = 'form', cur = null, timer = 0, gone = null;

  // ---- status: storage, freshness, what to say
  const skew = v => v.f.server_time ? v.f.server_time - v.at : 0; // server clock minus ours
  const fresh = v => {
    const f = v.f, now = Date.now();
    if (f.state == 'done') return now - v.at < DONE_KEPT;
    // A state the server never moved on from (lead deleted, server replaced): forget it after an hour.
    return now < Math.max(v.at, Math.max(f.due_at || 0, f.window_end || 0, f.scheduled_for || 0) - skew(v)) + STALE;
  };
  const read = () => {
    const v = rt.kept(K);
    return v && v.f && v.f.state && fresh(v) ? v : null;
  };
  const save = () => rt.keep(K, cur);
  const done = () => cur && cur.f.state == 'done';
  const wrong = () => done() && cur.f.outcome == 'wrong_number';
  const left = () => Math.max(0, Math.ceil((cur.f.due_at - skew(cur) - Date.now()) / 1e3));

  // [headline, line, note, chip] for the current status.
  function says() {
    const f = cur.f, n = f.due_at && left(), at = f.due_at && by(f.due_at - skew(cur));
    const soon = n <= 120, chipDue = !f.due_at ? '' : soon ? T('chip_in', { n }) : T('chip_by', { time: at });
    const start = f.scheduled_for;
    switch (f.state) {
      case 'ringing':
        return [T('finding'), !f.due_at ? '' : soon ? T('within', { n }) : T('by', { time: at }), '', chipDue || T('finding')];
      case 'claimed': {
        const s = T('calling', { manager: f.manager || T('someone') });
        return [s, '', T('keep'), s];
      }
      case 'missed': return ['', T('missed', { promise: f.promise_seconds || config.promise_seconds || 30, time: at }), '', chipDue || T('finding')];
      case 'scheduled': {
        if (!start) break;
        const w = f.window_end ? T('between', { day: day(start), from: hm(start), to: hm(f.window_end) })
          : T('at', { day: day(start), from: hm(start) });
        return [T('sched', { when: w }), '', '', T('chip_booked', { when: wk(start) })];
      }
      case 'done': {
        const o = f.outcome, s = T(o == 'connected' ? 'connected' : o == 'no_answer' ? 'no_answer' : o == 'wrong_number' ? 'wrong' : 'thank');
        return [s, '', '', o == 'no_answer' ? T('chip_no_answer') : o == 'wrong_number' ? T('chip_wrong') : s];
      }
    }
    return [T('thank'), '', '', T('thank')];
  }

  // Redraws what can be seen: the panel when open, else only the chip (nothing else on the host
  // page changes while a countdown runs). `tick` marks a countdown step: screen readers are told
  // about changes of state, not about every second.
  function render(tick) {
    const x = cur ? says() : [];
    for (const el of [stat, chipBox]) {
      if (el.hasAttribute('aria-busy') != !!tick) tick ? el.setAttribute('aria-busy', 'true') : el.removeAttribute('aria-busy');
    }
    chipBox.hidden = isOpen || !cur;
    if (!isOpen) return cur && put(chip, x[3]);
    const s = step == 'status' && cur;
    if (!tick) {
      intro.hidden = step != 'form';
      stat.hidden = !s;
      form.hidden = !(step == 'form' || s && wrong());
      msg.hidden = step != 'queued' && step != 'thanks';
      again.hidden = !s || !done() || wrong();
    }
    if (s) { put(sh, x[0]); put(sl, x[1]); put(sn, x[2]) }
  }

  // One timer, only while a countdown is shown; it wakes on the next whole second of it.
  function clock() {
    clearTimeout(timer);
    timer = 0;
    if (!cur || !LIVE.test(cur.f.state) || !cur.f.due_at) return;
    const ms = cur.f.due_at - skew(cur) - Date.now();
    if (ms > 0) timer = setTimeout(() => rt.guard(K, () => { render(1); clock() }), ms % 1e3 + 20);
  }

  const target = () => step == 'form' ? phone.input : step == 'status' ? stat : msg;
  // Shows the step; moves focus only if it was on something that just disappeared.
  function show(s, text) {
    const was = step;
    step = s;
    if (text != null) msg.textContent = text;
    render();
    clock();
    rt.busy(K, go.disabled || (cur ? !done() : s == 'thanks' || s == 'queued'));
    if (isOpen) {
      const a = root.activeElement;
      if (was != s || !a || !a.getClientRects().length) target().focus();
    }
  }

  // A status frame (pushed, from an ack, or from another tab). `own`: the ack of our own request.
  function take(f, own) {
    if (!f || typeof f != 'object' || !f.state || f.lead && f.lead == gone) return;
    const c = cur && cur.f, same = c && f.lead == c.lead;
    if (same) {
      if (f.server_time < c.server_time) return; // an older frame arriving late
      // After 'done' only a correction of the outcome or a booked retry ("we'll call you Mon 9:00") counts.
      if (c.state == 'done' && f.state != 'done' && f.state != 'scheduled') return;
    } else if (!own && (f.state == 'done' || c && c.state != 'done')) {
      // Not ours to show: the end of a callback we weren't following (the server repeats those for
      // ten minutes), or another callback while this one is in progress.
      return;
    }
    const keep = same && c.state == 'done' && f.state == 'done' && c.outcome == f.outcome; // keep its 10 minutes
    cur = { f, at: keep ? cur.at : Date.now() };
    save();
    show('status');
  }

  // The server refused to store the request for now: say so at once, in its words, not "Sending…".
  rt.onStatus(rt.G(K, s => go.disabled && s.held && msg.textContent != s.held && show('queued', s.held)));
  rt.onFrame('callback_status', f => rt.guard(K, () => take(f)));
  // A request left by an earlier page view (e.g. offline) is acked here: its status rides on the ack.
  rt.onFrame('ack', (a, fr) => rt.guard(K, () => {
    if (fr.type == 'lead' && fr.kind == K && a.callback) take({ lead: a.lead, ...a.callback }, 1);
  }));
  on(window, 'storage', e => {
    if (e.key != SK) return;
    const v = read();
    if (v) { cur = v; show('status') }
    else if (cur) { cur = null; show('form') }
  });

  const fit = rt.aboveKeyboard(panel, () => isOpen);

  function open() {
    if (isOpen) return target().focus();
    isOpen = true;
    prev = rt.deepActive();
    const I = rt.identity();
    if (!phone.input.value && I.phone) phone.input.value = I.phone;
    if (!name.input.value && I.name) name.input.value = I.name;
    if (slot) { // slots that have passed while the page stayed open are no longer offered
      const v = slot.input.value;
      slot.input.replaceChildren(h('option', { value: '' }, T('slot_pick')), ...slots.filter(s => s.end > Date.now())
        .map(s => h('option', { value: s.start + '-' + s.end }, day(s.start) + ', ' + hm(s.start) + ' – ' + hm(s.end))));
      slot.input.value = v;
      if (slot.input.selectedIndex < 0) slot.input.selectedIndex = 0;
    }
    panel.hidden = backdrop.hidden = false;
    fab.setAttribute('aria-expanded', 'true');
    render();
    fit();
    target().focus();
    rt.emit('open', { kind: K });
    rt.track(K + '_opened');
  }

  function shut() {
    if (!isOpen) return;
    isOpen = false;
    panel.hidden = backdrop.hidden = true;
    fab.setAttribute('aria-expanded', 'false');
    render();
    const to = prev && prev.isConnected && prev != D.body ? prev : cur ? chip : fab;
    prev = null;
    try { to.focus() } catch (e) {}
    rt.emit('close', { kind: K });
  }

  on(fab, 'click', () => (isOpen ? shut() : open()));
  on(chip, 'click', open);
  on(close, 'click', shut);
  on(backdrop, 'click', shut);
  on(again, 'click', e => {
    e.preventDefault();
    gone = cur && cur.f.lead;
    cur = null;
    save();
    show('form');
  });
  rt.trap(K, panel, shut);

  const invalid = rt.invalid;
  const clear = () => {
    formErr.textContent = '';
    fields.forEach(rt.valid);
  };
  const sending = on => {
    if (on && root.activeElement == go) panel.focus(); // a disabled button would drop focus out of the dialog
    go.disabled = on;
    go.textContent = on ? rt.t('sending', null, config.texts) : goText;
    form.setAttribute('aria-busy', String(on));
  };

  on(form, 'submit', e => {
    e.preventDefault();
    if (go.disabled || step != 'form' && !wrong()) return;
    clear();
    if (trap.value) return show('thanks', T('thanks'));
    const number = phone.input.value.trim();
    if ((number.match(/\d/g) || []).length < 6) return invalid(phone, T('phone_short'));
    const [from, to] = slot ? slot.input.value.split('-').map(Number) : [];
    if (slot && !to) return invalid(slot, T('slot_err'));
    if (consent && !consent.input.checked) return invalid(consent, T('consent_err'));
    sending(true);
    rt.busy(K, true); // a callback in progress: other widgets must not interrupt
    const I = rt.identity(), schedule = to ? { start: from, end: to } : undefined;
    // Not answered soon (or no network): tell the visitor it is saved and will be sent; if the
    // server itself could not store it, in the server's words (the visitor is not offline).
    const slow = setTimeout(() => rt.guard(K, () => show('queued', rt.status().held || rt.t('offline', null, config.texts))),
      navigator.onLine === false ? 0 : 3e3);
    rt.send({
      type: 'lead', kind: K, phone: number, name: name.input.value.trim() || null,
      email: I.email || null, consent: true, context: rt.context(), schedule,
    }).then(
      a => rt.guard(K, () => {
        clearTimeout(slow);
        sending(false);
        gone = null;
        // The ack carries the first status; without one, a booked slot is still known to us.
        const f = a.callback ? { lead: a.lead, ...a.callback }
          : schedule && { lead: a.lead, state: 'scheduled', scheduled_for: from, window_end: to, server_time: 0 };
        if (f) take(f, 1);
        else show('thanks', T(closed && !slot ? 'thanks_later' : 'thanks'));
      }),
      err => rt.guard(K, () => {
        clearTimeout(slow);
        sending(false);
        show(wrong() ? 'status' : 'form');
        // Server messages are written for visitors: shown as they are, as text.
        const text = err && err.type == 'error' && err.message || rt.t('error', null, config.texts);
        const fld = err && err.code != 'rate_limited' && fields.find(f => f.input.name == (err.field == 'schedule' ? 'slot' : err.field));
        if (fld) invalid(fld, text, isOpen);
        else { formErr.textContent = text; if (isOpen) go.focus() }
      }),
    );
  });

  // A callback followed on an earlier page view: show it at once, then ask the server for news
  // (it pushes the current status right after the socket's welcome). Not on the critical path.
  cur = read();
  if (cur) {
    show('status');
    rt.idle(rt.connect);
  } else rt.keep(K);

  return { open, close: shut, host };
}
