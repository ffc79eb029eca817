/* Beckon loader (/embed.js). Budget: 2 KB gzipped. Runs async; must never throw into
   or block the host page, and adds nothing to window but Beckon. */
(function (w, d) {
  'use strict';
  var B = w.Beckon, s = d.currentScript || d.querySelector('script[data-site][src*="embed.js"]');
  // A second copy of the snippet must not start a second loader.
  if (B && B.b || !s || !s.dataset.site) return;
  let key = s.dataset.site, base = s.src.replace(/\/embed\.js([?#].*)?$/, ''),
    Q = B && B.q || [], E = {}, I = {}, H = {}, Z = {}, P = [], W, R, dead;

  let emit = (n, x) => {
    (E[n] || []).forEach(f => { try { f(x) } catch (e) { console.error(e) } });
    try { w.dispatchEvent(new CustomEvent('beckon:' + n, { detail: x })) } catch (e) {}
  };

  let run = a => {
    let [c, x, y] = a;
    // `on` and `identify` need no widget, so they apply at once: early handlers see every later event.
    if (c == 'on') typeof y == 'function' && (E[x] = E[x] || []).push(y);
    else if (c == 'identify') x && ['name', 'phone', 'email'].forEach(k => { if (x[k] != null) I[k] = String(x[k]) });
    else if (dead) ;
    else if (!R) P.push(a); // replayed in order once runtime and widgets are loaded
    else if (c == 'open') H[x] ? R.guard(x, () => H[x].open(y || {})) : Z[x] ? Z[x]().then(() => run(a), e => console.warn('Beckon:', x, e)) : console.warn('Beckon: no widget', x);
    else if (c == 'close') Object.keys(H).forEach(k => R.guard(k, () => H[k].close()));
    else if (c == 'track') R.send({ type: 'track', name: String(x), props: y || {} }).catch(() => {});
  };
  let call = a => { try { run(a) } catch (e) { console.warn('Beckon:', e) } };

  (w.Beckon = (...a) => call(a)).b = 1;
  Array.from(Q).forEach(call);

  d.addEventListener('click', e => {
    try {
      // data-beckon-open="kind" or "kind:id" (e.g. quiz:kitchen-cost)
      let t = e.target.closest('[data-beckon-open]'), [k, id] = t ? t.dataset.beckonOpen.split(':') : [];
      // Once loaded, a kind that isn't enabled leaves the element's default action alone.
      if (k && !dead && (!R || H[k] || Z[k])) { t.closest('a') && e.preventDefault(); call(['open', k, id && { id }]) }
    } catch (_) {}
  });

  let add = (k, m) => { let h = m && R.guard(k, () => m.default(R, W[k] || {})); if (h) H[k] = h };
  let off = e => { dead = 1; P = []; console.warn('Beckon: inactive', e) };
  // data-config: the dashboard's live preview points the loader at a draft instead.
  let boot = () => fetch(s.dataset.config || base + '/api/v1/sites/' + encodeURIComponent(key) + '/config', { credentials: 'omit' })
    .then(r => { if (!r.ok) throw r.status; return r.json() })
    .then(c => {
      let C = c.chunks || {}, L = c.lazy || {}, ks = Object.keys(W = c.widgets || {}).filter(k => C[k]),
        // A lazy widget not on this page loads when first opened (a quiz from a button, say).
        now = ks.filter(k => !L[k] || d.querySelector(L[k]));
      ks.forEach(k => now.includes(k) || (Z[k] = () => import(C[k]).then(m => { delete Z[k]; add(k, m) })));
      // A chunk that fails to load only loses its own widget.
      return Promise.all([import(C.runtime), ...now.map(k => import(C[k]).catch(e => console.warn('Beckon:', k, e)))])
        .then(([rt, ...ms]) => [rt, ms, c, now]);
    })
    .then(([rt, ms, c, now]) => {
      rt.start({ key, base, site: c.site || {}, emit, identity: I });
      R = rt;
      now.forEach((k, i) => add(k, ms[i]));
      emit('ready', { widgets: [...Object.keys(H), ...Object.keys(Z)] });
      P.splice(0).forEach(call);
    }, e => {
      off(e);
      // Lost network (not a refusal like 403/404): try once more when the browser is back online.
      e instanceof TypeError && w.addEventListener('online', () => { dead = 0; boot() }, { once: true });
    })
    .catch(off);
  boot();
})(window, document);
