// Proactive greeting: a line from a manager who is online to answer, at most once per session,
// within the page's interruption budget. Rules come from the chat widget's settings.

const CSS = '.g{position:fixed;bottom:160px;right:20px;z-index:2147482999;max-width:300px;box-sizing:border-box;padding:14px 16px;' +
  'background:#fff;color:#111827;border-radius:14px;box-shadow:0 8px 30px #0003;' +
  'font:14px/1.45 system-ui,sans-serif}' +
  '.left{right:auto;left:20px}' +
  '.who{display:flex;align-items:center;gap:8px;margin:0 32px 6px 0;font-weight:600}' +
  '.av{width:32px;height:32px;border-radius:50%;object-fit:cover;background:var(--a);color:#fff;display:grid;place-items:center}' +
  'p{margin:0 0 10px;color:inherit}' +
  '.r{padding:8px 14px;border:0;border-radius:8px;background:var(--a);color:#fff;font:inherit;font-weight:600;cursor:pointer}' +
  '.x{top:4px;right:4px}'; // beside the runtime's (rt.UI: close button, focus ring)

// "/regex/" or a plain part of the path: "/demo/kitchens" matches /demo/kitchens.html?x=1.
function matches(pattern) {
  const here = location.pathname + location.search;
  if (!pattern) return true;
  if (pattern.length > 2 && pattern[0] == '/' && pattern.endsWith('/')) {
    try { return new RegExp(pattern.slice(1, -1)).test(here) } catch (e) { return false }
  }
  return here.includes(pattern);
}

function scrolled() {
  const d = document.documentElement, room = d.scrollHeight - innerHeight;
  return room <= 0 ? 100 : Math.round(scrollY / room * 100);
}

export default function greeter(rt, config) {
  const who = config.greeter, rule = (config.greetings || []).find(r => matches(r.url));
  const flag = 'beckon:' + rt.key() + ':greeted', start = Date.now();
  let shown, timer, box;
  const once = () => { try { return sessionStorage.getItem(flag) } catch (e) { return 1 } };
  const safe = () => rt.guard('greeter', check);
  const stop = () => { clearInterval(timer); removeEventListener('scroll', safe) };
  const remove = () => { box && box.host.remove(); box = 0 };

  function show() {
    if (shown || once() || !rt.mayInterrupt()) return;
    shown = 1;
    stop();
    try { sessionStorage.setItem(flag, '1') } catch (e) {}
    box = rt.mount('greeter', rt.UI + CSS);
    box.host.style.setProperty('--a', rt.accent(config.color));
    const h = rt.h, name = who.name || '', src = rt.photo(who.photo);
    const photo = src ? h('img', { class: 'av', src, alt: '' }) : h('span', { class: 'av', 'aria-hidden': 'true' }, name[0] || '?');
    const reply = h('button', { class: 'r', type: 'button' }, rt.t('greeter.reply', null, config.texts));
    const close = rt.closer();
    const card = h('div', { class: 'g' + (config.position == 'left' ? ' left' : ''), role: 'dialog', 'aria-label': rt.t('greeter.label', { name }, config.texts) },
      h('div', { class: 'who' }, photo, name), h('p', {}, String(rule.text || '').replace('{name}', name)), reply, close);
    box.root.append(card);
    // Under the guard like every listener: a bug here disables the greeting, never the page.
    reply.addEventListener('click', rt.G('greeter', () => {
      remove();
      rt.track('chat_greeting_replied', { rule: rule.id || '' });
      window.Beckon('open', 'chat');
    }));
    close.addEventListener('click', rt.G('greeter', remove));
    rt.track('chat_greeting_shown', { rule: rule.id || '' });
  }

  function check() {
    if ((Date.now() - start) / 1e3 >= (rule.seconds || 0) && scrolled() >= (rule.scroll || 0)) show();
  }

  // Only while a manager is there to answer, and never twice in a browsing session.
  if (who && rule && !once()) {
    timer = setInterval(safe, 1e3);
    addEventListener('scroll', safe, { passive: true });
  }
  return { open() {}, close: remove };
}
