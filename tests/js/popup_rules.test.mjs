// The popup's rules without a browser: targeting, frequency, trigger trees and priority.
// Run with `node --test tests/js/` (Node's own runner, no packages).

import test from 'node:test';
import assert from 'node:assert/strict';
// BECKON_WIDGETS=dist: the same rules on what is served (terser's build, names renamed).
const { allowed, due, pick, targeted, urlMatch } = await import(`../../widgets/${process.env.BECKON_WIDGETS == 'dist' ? 'dist/' : ''}popup.js`);

const DAY = 864e5;
const NOW = Date.UTC(2026, 10, 23, 12, 0); // Monday 23 November 2026, 12:00 UTC
const env = (over = {}) => ({ path: '/', mobile: false, returning: false, utm: {}, referrer: '', now: NOW, ...over });
const only = targeting => ({ targeting });

test('exact matches the path+query, or the bare path when the rule has no query', () => {
  const rule = { match: 'exact', value: '/kitchens.html' };
  assert.equal(urlMatch(rule, '/kitchens.html'), true);
  assert.equal(urlMatch(rule, '/kitchens.html?utm_source=ads'), true);
  assert.equal(urlMatch(rule, '/kitchens.html/more'), false);
  assert.equal(urlMatch(rule, '/demo/kitchens.html'), false);
  const withQuery = { match: 'exact', value: '/search?q=oak' };
  assert.equal(urlMatch(withQuery, '/search?q=oak'), true);
  assert.equal(urlMatch(withQuery, '/search?q=pine'), false);
  assert.equal(urlMatch(withQuery, '/search'), false);
});

test('contains, prefix and regex look at the path and the query', () => {
  assert.equal(urlMatch({ match: 'contains', value: 'kitchen' }, '/demo/kitchens.html'), true);
  assert.equal(urlMatch({ match: 'contains', value: 'sale=1' }, '/shop?sale=1'), true);
  assert.equal(urlMatch({ match: 'contains', value: 'wardrobe' }, '/demo/kitchens.html'), false);
  assert.equal(urlMatch({ match: 'prefix', value: '/kitchens' }, '/kitchens/oak'), true);
  assert.equal(urlMatch({ match: 'prefix', value: '/kitchens' }, '/demo/kitchens'), false);
  assert.equal(urlMatch({ match: 'regex', value: '^/(kitchens|wardrobes)/\\d+$' }, '/wardrobes/42'), true);
  assert.equal(urlMatch({ match: 'regex', value: '^/(kitchens|wardrobes)/\\d+$' }, '/wardrobes/x'), false);
  assert.equal(urlMatch({ match: 'regex', value: 'ref=mail' }, '/?ref=mail'), true);
});

test('a broken regex or an unknown kind of match never throws, it just does not match', () => {
  assert.equal(urlMatch({ match: 'regex', value: '(unclosed' }, '/(unclosed'), false);
  assert.equal(urlMatch({ match: 'regex', value: '[' }, '/'), false);
  assert.equal(urlMatch({ match: 'glob', value: '/*' }, '/'), false);
  assert.equal(urlMatch(null, '/'), false);
  assert.equal(targeted(only({ include: [{ match: 'regex', value: '*oops' }] }), env()), false);
  assert.equal(targeted(only({ exclude: [{ match: 'regex', value: '*oops' }] }), env()), true);
});

test('include needs one match, exclude vetoes', () => {
  const item = only({
    include: [{ match: 'prefix', value: '/kitchens' }, { match: 'contains', value: 'oak' }],
    exclude: [{ match: 'contains', value: '/checkout' }],
  });
  assert.equal(targeted(item, env({ path: '/kitchens/white' })), true);
  assert.equal(targeted(item, env({ path: '/tables/oak' })), true);
  assert.equal(targeted(item, env({ path: '/tables/pine' })), false);
  assert.equal(targeted(item, env({ path: '/kitchens/checkout' })), false);
  assert.equal(targeted(only({ include: [] }), env({ path: '/anything' })), true);
  assert.equal(targeted({}, env()), true);
});

test('device', () => {
  for (const [device, mobile, want] of [
    ['any', true, true], ['any', false, true], [undefined, true, true],
    ['mobile', true, true], ['mobile', false, false],
    ['desktop', false, true], ['desktop', true, false],
  ]) assert.equal(targeted(only({ device }), env({ mobile })), want, `${device} on ${mobile ? 'a phone' : 'a desktop'}`);
});

test('new and returning visitors', () => {
  assert.equal(targeted(only({ visitor: 'new' }), env({ returning: false })), true);
  assert.equal(targeted(only({ visitor: 'new' }), env({ returning: true })), false);
  assert.equal(targeted(only({ visitor: 'returning' }), env({ returning: true })), true);
  assert.equal(targeted(only({ visitor: 'returning' }), env({ returning: false })), false);
  assert.equal(targeted(only({ visitor: 'any' }), env({ returning: true })), true);
});

test('every given UTM key must match; the referrer is a substring of the first referrer', () => {
  const ads = only({ utm: { utm_source: 'ads', utm_campaign: 'autumn' } });
  assert.equal(targeted(ads, env({ utm: { utm_source: 'ads', utm_campaign: 'autumn', utm_medium: 'cpc' } })), true);
  assert.equal(targeted(ads, env({ utm: { utm_source: 'ADS', utm_campaign: 'Autumn' } })), true);
  assert.equal(targeted(ads, env({ utm: { utm_source: 'ads' } })), false);
  assert.equal(targeted(ads, env({ utm: {} })), false);
  assert.equal(targeted(ads, env({ utm: undefined })), false);
  const google = only({ referrer: 'google.' });
  assert.equal(targeted(google, env({ referrer: 'https://www.google.com/search?q=oak' })), true);
  assert.equal(targeted(google, env({ referrer: 'https://duckduckgo.com/' })), false);
  assert.equal(targeted(google, env({ referrer: '' })), false);
});

test('schedule: dates, weekdays and hours in the site timezone, across a date line', () => {
  // 23:30 UTC on Monday 23 Nov is 08:30 on Tuesday 24 Nov in Tokyo and 15:30 on Monday in Los Angeles.
  const now = Date.UTC(2026, 10, 23, 23, 30);
  const tuesday = { targeting: { schedule: { days: [2] } } };
  assert.equal(targeted({ ...tuesday, timezone: 'Asia/Tokyo' }, env({ now })), true);
  assert.equal(targeted({ ...tuesday, timezone: 'America/Los_Angeles' }, env({ now })), false);
  assert.equal(targeted({ ...tuesday, timezone: 'UTC' }, env({ now })), false);

  const office = { targeting: { schedule: { hours: ['09:00', '18:00'] } } };
  assert.equal(targeted({ ...office, timezone: 'Asia/Tokyo' }, env({ now })), false); // 08:30
  assert.equal(targeted({ ...office, timezone: 'America/Los_Angeles' }, env({ now })), true); // 15:30
  assert.equal(targeted({ ...office, timezone: 'Asia/Tokyo' }, env({ now: now + 30 * 60e3 })), true); // 09:00
  assert.equal(targeted({ ...office, timezone: 'America/Los_Angeles' }, env({ now: now + 150 * 60e3 })), false); // 18:00

  const night = { targeting: { schedule: { hours: ['22:00', '06:00'] } }, timezone: 'UTC' };
  assert.equal(targeted(night, env({ now })), true); // 23:30
  assert.equal(targeted(night, env({ now: now + 6 * 3600e3 })), true); // 05:30
  assert.equal(targeted(night, env({ now: now + 7 * 3600e3 })), false); // 06:30

  const november = { targeting: { schedule: { from: '2026-11-01', to: '2026-11-23' } } };
  assert.equal(targeted({ ...november, timezone: 'America/Los_Angeles' }, env({ now })), true); // still the 23rd
  assert.equal(targeted({ ...november, timezone: 'Asia/Tokyo' }, env({ now })), false); // already the 24th
  assert.equal(targeted({ targeting: { schedule: { from: '2026-11-24' } }, timezone: 'Asia/Tokyo' }, env({ now })), true);
  // The site timezone may also come from the widget config; an unknown zone does not throw.
  assert.equal(targeted(tuesday, env({ now, timezone: 'Asia/Tokyo' })), true);
  assert.doesNotThrow(() => targeted({ ...tuesday, timezone: 'Mars/Olympus' }, env({ now })));
});

test('frequency: once per session (the default)', () => {
  for (const item of [{}, { frequency: { show: 'session' } }]) {
    assert.equal(allowed(item, {}, NOW), true);
    assert.equal(allowed(item, { shown: NOW - DAY, session: false }, NOW), true);
    assert.equal(allowed(item, { shown: NOW - 1000, session: true }, NOW), false);
  }
});

test('frequency: at most once per N days', () => {
  const item = { frequency: { show: 'days', days: 3 } };
  assert.equal(allowed(item, {}, NOW), true);
  assert.equal(allowed(item, { shown: NOW - 2 * DAY, session: false }, NOW), false);
  assert.equal(allowed(item, { shown: NOW - 3 * DAY }, NOW), true);
  assert.equal(allowed({ frequency: { show: 'days' } }, { shown: NOW - DAY / 2 }, NOW), false); // one day by default
  assert.equal(allowed({ frequency: { show: 'days' } }, { shown: NOW - DAY }, NOW), true);
});

test('frequency: until converted, and always', () => {
  for (const show of ['until_converted', 'always']) {
    const item = { frequency: { show } };
    assert.equal(allowed(item, { shown: NOW - 1000, session: true }, NOW), true, show);
    assert.equal(allowed(item, { shown: NOW - 1000, converted: NOW - 500 }, NOW), false, show);
  }
});

test('after a close: not again for after_close_days (7 by default), whatever the rule', () => {
  for (const show of ['session', 'days', 'until_converted', 'always']) {
    const item = { frequency: { show, days: 1 } };
    assert.equal(allowed(item, { shown: NOW - 6 * DAY, closed: NOW - 6 * DAY }, NOW), false, show);
    assert.equal(allowed(item, { shown: NOW - 7 * DAY, closed: NOW - 7 * DAY }, NOW), true, show);
  }
  const two = { frequency: { show: 'always', after_close_days: 2 } };
  assert.equal(allowed(two, { closed: NOW - DAY }, NOW), false);
  assert.equal(allowed(two, { closed: NOW - 2 * DAY }, NOW), true);
  const zero = { frequency: { show: 'always', after_close_days: 0 } };
  assert.equal(allowed(zero, { closed: NOW - 1 }, NOW), true);
});

test('never again after a conversion, whatever the rule', () => {
  for (const show of ['session', 'days', 'until_converted', 'always']) {
    const item = { frequency: { show, days: 1, after_close_days: 0 } };
    assert.equal(allowed(item, { shown: NOW - 365 * DAY, converted: NOW - 365 * DAY }, NOW), false, show);
  }
});

const facts = (over = {}) => ({ elapsed: 0, onSite: 0, scroll: 0, idle: 0, exit: false, clicked: new Set(), pages: 1, ...over });

test('each trigger against its fact', () => {
  assert.equal(due({ type: 'delay', seconds: 20 }, facts({ elapsed: 19.9 })), false);
  assert.equal(due({ type: 'delay', seconds: 20 }, facts({ elapsed: 20 })), true);
  assert.equal(due({ type: 'time_on_site', seconds: 60 }, facts({ onSite: 61 })), true);
  assert.equal(due({ type: 'time_on_site', seconds: 60 }, facts({ elapsed: 61, onSite: 30 })), false);
  assert.equal(due({ type: 'exit_intent' }, facts()), false);
  assert.equal(due({ type: 'exit_intent' }, facts({ exit: true })), true);
  assert.equal(due({ type: 'scroll', percent: 60 }, facts({ scroll: 59 })), false);
  assert.equal(due({ type: 'scroll', percent: 60 }, facts({ scroll: 60 })), true);
  assert.equal(due({ type: 'inactivity', seconds: 30 }, facts({ idle: 31 })), true);
  assert.equal(due({ type: 'inactivity', seconds: 30 }, facts({ idle: 3 })), false);
  assert.equal(due({ type: 'click', selector: '.price-link' }, facts({ clicked: new Set(['.price-link']) })), true);
  assert.equal(due({ type: 'click', selector: '.price-link' }, facts({ clicked: new Set(['.other']) })), false);
  assert.equal(due({ type: 'click', selector: '.price-link' }, facts({ clicked: false })), false);
  assert.equal(due({ type: 'pages', count: 3 }, facts({ pages: 2 })), false);
  assert.equal(due({ type: 'pages', count: 3 }, facts({ pages: 3 })), true);
  assert.equal(due({ type: 'telepathy' }, facts({ exit: true })), false);
});

test('AND/OR trees, nested', () => {
  const either = { any: [{ type: 'exit_intent' }, { type: 'delay', seconds: 20 }] };
  assert.equal(due(either, facts({ exit: true })), true);
  assert.equal(due(either, facts({ elapsed: 25 })), true);
  assert.equal(due(either, facts({ elapsed: 5 })), false);
  const both = { all: [{ type: 'scroll', percent: 50 }, { type: 'time_on_site', seconds: 30 }] };
  assert.equal(due(both, facts({ scroll: 80, onSite: 40 })), true);
  assert.equal(due(both, facts({ scroll: 80, onSite: 10 })), false);
  assert.equal(due(both, facts({ scroll: 10, onSite: 40 })), false);
  // (3 pages AND (exit OR 2 minutes idle)) OR a click on the price
  const nested = {
    any: [
      { all: [{ type: 'pages', count: 3 }, { any: [{ type: 'exit_intent' }, { type: 'inactivity', seconds: 120 }] }] },
      { type: 'click', selector: '.price' },
    ],
  };
  assert.equal(due(nested, facts({ pages: 3, exit: true })), true);
  assert.equal(due(nested, facts({ pages: 3, idle: 130 })), true);
  assert.equal(due(nested, facts({ pages: 2, exit: true })), false);
  assert.equal(due(nested, facts({ pages: 3 })), false);
  assert.equal(due(nested, facts({ clicked: new Set(['.price']) })), true);
});

test('no triggers, empty lists and junk are never due', () => {
  for (const tree of [undefined, null, {}, { any: [] }, { all: [] }, 'delay', 42, { any: 'x' }]) {
    assert.equal(due(tree, facts({ elapsed: 1e6, exit: true })), false, JSON.stringify(tree));
  }
  let deep = { type: 'delay', seconds: 0 };
  for (let i = 0; i < 50; i++) deep = { any: [deep] };
  assert.equal(due(deep, facts()), false); // absurd nesting is refused, not a stack overflow
});

test('pick: the highest priority wins, then the slug, whatever the order given', () => {
  const items = {
    'scroll-offer': { priority: 10 },
    'exit-offer': { priority: 20 },
    'b-offer': { priority: 5 },
  };
  assert.equal(pick(items), 'exit-offer');
  assert.equal(pick(Object.entries(items).reverse()), 'exit-offer');
  assert.equal(pick({ zeta: { priority: 1 }, alpha: { priority: 1 }, mid: {} }), 'alpha');
  assert.equal(pick([['zeta', { priority: 1 }], ['alpha', { priority: 1 }]]), 'alpha');
  assert.equal(pick({ none: {}, minus: { priority: -1 } }), 'none');
  assert.equal(pick({}), undefined);
  assert.equal(pick([]), undefined);
});

test('the module loads without a DOM', async () => {
  const mod = await import('../../widgets/popup.js');
  assert.equal(typeof mod.default, 'function');
});
