// Beckon callback widget: a floating call button and a small "call me back" form.
// The form is built as separate steps (form -> queued -> done) so live callback status
// can later replace the thank-you step without touching the rest.

const STYLE = `
.w{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827}
.fab{position:fixed;bottom:20px;right:20px;z-index:2147483000;width:56px;height:56px;padding:0;border:0;border-radius:50%;
 background:var(--bk-accent);color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25);cursor:pointer;display:flex;
 align-items:center;justify-content:center;transition:transform .2s}
.fab:hover{transform:scale(1.06)}
.fab svg{width:26px;height:26px;fill:currentColor}
.left .fab{right:auto;left:20px}
button:focus-visible,input:focus-visible{outline:3px solid var(--bk-accent);outline-offset:2px}
.bd{position:fixed;inset:0;z-index:2147483001;background:rgba(15,23,42,.3)}
.panel{position:fixed;right:20px;bottom:calc(88px + var(--kb,0px));z-index:2147483002;box-sizing:border-box;
 width:340px;max-width:calc(100vw - 40px);max-height:calc(var(--vh,100vh) - 108px);overflow:auto;padding:20px;
 background:#fff;border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.25);animation:in .18s ease-out}
.panel:focus{outline:none}
.left .panel{right:auto;left:20px}
@keyframes in{from{opacity:0;transform:translateY(8px)}}
h2{margin:0 40px 4px 0;font-size:18px;line-height:1.3;font-weight:600}
p{margin:0 0 14px;color:#4b5563}
.msg{margin:8px 0 4px;color:#111827;font-size:16px}
.msg:focus{outline:none}
.x{position:absolute;top:10px;right:10px;width:36px;height:36px;border:0;border-radius:8px;background:none;
 color:#6b7280;font:inherit;font-size:24px;line-height:1;cursor:pointer}
.x:hover{background:#f3f4f6}
.f{margin:0 0 12px}
label{display:block;margin:0 0 4px;font-weight:500}
input{display:block;box-sizing:border-box;width:100%;margin:0;padding:10px 12px;border:1px solid #d1d5db;border-radius:8px;
 background:#fff;color:#111827;font:inherit;font-size:16px;line-height:1.3}
input[aria-invalid=true]{border-color:#b91c1c}
.err{margin-top:4px;color:#b91c1c;font-size:13px}
.err:empty{display:none}
.hp{position:absolute;left:-9999px;top:auto;width:1px;height:1px;overflow:hidden}
.go{width:100%;margin-top:4px;padding:12px;border:0;border-radius:8px;background:var(--bk-accent);color:#fff;
 font:inherit;font-size:16px;font-weight:600;cursor:pointer}
.go:disabled{opacity:.7;cursor:progress}
@media (max-width:480px){.panel,.left .panel{left:0;right:0;bottom:var(--kb,0px);width:auto;max-width:none;
 max-height:var(--vh,100vh);border-radius:14px 14px 0 0}}
`;

const PHONE = 'M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25c1.1.37 2.3.57 3.6.57a1 1 0 0 1 1 1V20a1 1 0 0 1-1 1' +
  'A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1.02z';

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const k in attrs) el.setAttribute(k, attrs[k]);
  el.append(...kids); // strings become text nodes: visitor and config text is never parsed as HTML
  return el;
}

// Focus may sit inside another shadow root; find the real element to return to.
function deepActive() {
  let a = document.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  return a;
}

export default function callback(rt, config) {
  config = config || {};
  const K = 'callback', D = document, V = window.visualViewport;
  const T = (k, vars) => rt.t(K + '.' + k, vars, config.texts);
  const c = String(config.color || '');
  const accent = /^[#\w(),.%\s-]{1,60}$/.test(c) && CSS.supports('color', c) ? c : '#0f766e';
  const { host, root } = rt.mount(K, ':host{--bk-accent:' + accent + '}' + STYLE);
  // Every listener runs under the runtime's guard: a bug disables this widget, never the page.
  const on = (el, ev, fn) => el.addEventListener(ev, e => rt.guard(K, () => fn(e)));

  const svg = D.createElementNS('http://www.w3.org/2000/svg', 'svg');
  const path = D.createElementNS('http://www.w3.org/2000/svg', 'path');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  path.setAttribute('d', PHONE);
  svg.append(path);
  const fab = h('button', {
    type: 'button', class: 'fab', part: 'button', 'aria-label': T('button'),
    'aria-haspopup': 'dialog', 'aria-expanded': 'false',
  }, svg);

  const field = (name, attrs) => {
    const id = 'bk-' + name, err = h('div', { class: 'err', id: id + '-err' });
    const input = h('input', { id, name, ...attrs });
    return { row: h('div', { class: 'f' }, h('label', { for: id }, T(name)), input, err), input, err };
  };
  const phone = field('phone', { type: 'tel', autocomplete: 'tel', inputmode: 'tel', required: '' });
  const name = field('name', { type: 'text', autocomplete: 'name' });
  // Honeypot: invisible to people and assistive tech; bots that fill it get a fake success.
  const trap = h('input', { id: 'bk-website', name: 'website', type: 'text', tabindex: '-1', autocomplete: 'off' });
  const formErr = h('div', { class: 'err', role: 'alert' });
  const go = h('button', { type: 'submit', class: 'go' }, T('submit'));
  const form = h('form', { novalidate: '' }, phone.row, name.row,
    h('div', { class: 'hp', 'aria-hidden': 'true' }, h('label', { for: 'bk-website' }, T('website')), trap), formErr, go);
  const msg = h('p', { class: 'msg', role: 'status', tabindex: '-1', hidden: '' });
  const close = h('button', { type: 'button', class: 'x', 'aria-label': rt.t('close', null, config.texts) }, '×');
  const panel = h('div', {
    class: 'panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'bk-title', tabindex: '-1', hidden: '',
  }, close, h('h2', { id: 'bk-title' }, T('title')), h('p', {}, T('intro')), form, msg);
  const backdrop = h('div', { class: 'bd', hidden: '' });
  root.append(h('div', { class: 'w ' + (config.position == 'left' ? 'left' : 'right') }, fab, backdrop, panel));

  let isOpen = false, prev = null, step = 'form';

  // Keep the panel above the on-screen keyboard: the visual viewport shrinks, the layout one doesn't.
  const fit = () => {
    if (!V || !isOpen) return;
    panel.style.setProperty('--kb', Math.max(0, innerHeight - V.height - V.offsetTop) + 'px');
    panel.style.setProperty('--vh', V.height + 'px');
  };
  if (V) { on(V, 'resize', fit); on(V, 'scroll', fit) }

  function open() {
    if (isOpen) return (step == 'form' ? phone.input : msg).focus();
    isOpen = true;
    prev = deepActive();
    const I = rt.identity();
    if (!phone.input.value && I.phone) phone.input.value = I.phone;
    if (!name.input.value && I.name) name.input.value = I.name;
    panel.hidden = backdrop.hidden = false;
    fab.setAttribute('aria-expanded', 'true');
    fit();
    (step == 'form' ? phone.input : msg).focus();
    rt.emit('open', { kind: K });
  }

  function shut() {
    if (!isOpen) return;
    isOpen = false;
    panel.hidden = backdrop.hidden = true;
    fab.setAttribute('aria-expanded', 'false');
    const to = prev && prev.isConnected && prev != D.body ? prev : fab;
    prev = null;
    try { to.focus() } catch (e) {}
    rt.emit('close', { kind: K });
  }

  const focusables = () => [...panel.querySelectorAll('button,input,[tabindex="0"]')]
    .filter(el => !el.disabled && el.tabIndex >= 0 && el.getClientRects().length);

  on(fab, 'click', () => (isOpen ? shut() : open()));
  on(close, 'click', shut);
  on(backdrop, 'click', shut);
  on(panel, 'keydown', e => {
    if (e.key == 'Escape') { e.stopPropagation(); shut() }
    else if (e.key == 'Tab') { // focus trap: Tab / Shift-Tab cycle inside the dialog
      const f = focusables(), i = f.indexOf(root.activeElement);
      if (!f.length) return e.preventDefault();
      if (e.shiftKey ? i <= 0 : i < 0 || i == f.length - 1) {
        e.preventDefault();
        f[e.shiftKey ? f.length - 1 : 0].focus();
      }
    }
  });

  const invalid = (fld, text, focus = true) => {
    fld.err.textContent = text;
    fld.input.setAttribute('aria-invalid', 'true');
    fld.input.setAttribute('aria-describedby', fld.err.id);
    if (focus) fld.input.focus();
  };
  const clear = () => {
    formErr.textContent = '';
    for (const fld of [phone, name]) {
      fld.err.textContent = '';
      fld.input.removeAttribute('aria-invalid');
      fld.input.removeAttribute('aria-describedby');
    }
  };
  const sending = on => {
    if (on && root.activeElement == go) panel.focus(); // a disabled button would drop focus out of the dialog
    go.disabled = on;
    go.textContent = on ? rt.t('sending', null, config.texts) : T('submit');
    form.setAttribute('aria-busy', String(on));
  };
  // Steps after the form: 'queued' (saved, waiting for the network) and 'done'.
  const show = (s, text) => {
    step = s;
    form.hidden = s != 'form';
    msg.hidden = s == 'form';
    msg.textContent = text || '';
    if (s != 'form' && isOpen) msg.focus();
  };

  on(form, 'submit', e => {
    e.preventDefault();
    if (go.disabled || step != 'form') return;
    clear();
    if (trap.value) return show('done', T('thanks'));
    const number = phone.input.value.trim();
    if ((number.match(/\d/g) || []).length < 6) return invalid(phone, T('phone_short'));
    sending(true);
    rt.busy(K, true); // a callback in progress: other widgets must not interrupt
    const I = rt.identity();
    // Not answered soon (or no network): tell the visitor it is saved and will be sent.
    const slow = setTimeout(() => rt.guard(K, () => show('queued', rt.t('offline', null, config.texts))),
      navigator.onLine === false ? 0 : 3e3);
    rt.send({
      type: 'lead', kind: K, phone: number, name: name.input.value.trim() || null,
      email: I.email || null, consent: true, context: rt.context(),
    }).then(
      () => rt.guard(K, () => { clearTimeout(slow); show('done', T('thanks')) }),
      err => rt.guard(K, () => {
        clearTimeout(slow);
        rt.busy(K, false);
        sending(false);
        show('form');
        // Server messages are written for visitors: shown as they are, as text.
        const text = err && err.type == 'error' && err.message || rt.t('error', null, config.texts);
        const fld = err && (err.field == 'phone' ? phone : err.field == 'name' ? name : null);
        if (fld) invalid(fld, text, isOpen);
        else { formErr.textContent = text; if (isOpen) go.focus() }
      }),
    );
  });

  return { open, close: shut, host };
}
