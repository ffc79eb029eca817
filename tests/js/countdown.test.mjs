// The countdown's arithmetic without a browser: time left by the server's clock, daily rollover,
// what screen readers hear, where an expiry redirect may go. Run with `node --test tests/js/`.

import test from 'node:test';
import assert from 'node:assert/strict';
// BECKON_WIDGETS=dist: the same rules on what is served (terser's build, names renamed).
const { left, merge, plural, split, spoken, target } = await import(`../../widgets/${process.env.BECKON_WIDGETS == 'dist' ? 'dist/' : ''}countdown.js`);

const S = 1e3, M = 60 * S, H = 60 * M, D = 24 * H;
const EN = { left: '{time} left', soon: 'less than a minute', days: 'day days', hours: 'hour hours', minutes: 'minute minutes' };
const RU = { left: 'Осталось: {time}', soon: 'меньше минуты', days: 'день дня дней', hours: 'час часа часов', minutes: 'минута минуты минут' };

test('time left splits into days, hours, minutes and seconds, rounded up to the second', () => {
  assert.deepEqual(split(2 * D + 4 * H + 10 * M + 5 * S), [2, 4, 10, 5]);
  assert.deepEqual(split(4 * S + 1), [0, 0, 0, 5]);
  assert.deepEqual(split(1), [0, 0, 0, 1]);
  assert.deepEqual(split(0), [0, 0, 0, 0]);
  assert.deepEqual(split(-5 * S), [0, 0, 0, 0]);
  assert.deepEqual(split(59 * M + 59 * S + 1), [0, 1, 0, 0]);
});

test('plural forms: English one/other, Russian one/few/many', () => {
  const en = plural('en'), ru = plural('ru');
  assert.equal(en('day days', 1), 'day');
  assert.equal(en('day days', 2), 'days');
  assert.equal(en('day days', 0), 'days');
  assert.equal(en('min', 5), 'min');
  assert.deepEqual([1, 2, 5, 11, 21, 22, 25].map(n => ru('день дня дней', n)), ['день', 'дня', 'дней', 'дней', 'день', 'дня', 'дней']);
});

test('screen readers hear the time left to the minute, without empty parts', () => {
  const en = k => EN[k], ru = k => RU[k];
  assert.equal(spoken(2 * D + 4 * H + 10 * M + 30 * S, en, 'en'), '2 days 4 hours 10 minutes left');
  assert.equal(spoken(1 * D + 1 * M, en, 'en'), '1 day 1 minute left');
  assert.equal(spoken(3 * H, en, 'en'), '3 hours left');
  assert.equal(spoken(59 * S, en, 'en'), 'less than a minute left');
  assert.equal(spoken(2 * D + 1 * H + 5 * M, ru, 'ru'), 'Осталось: 2 дня 1 час 5 минут');
  assert.equal(spoken(30 * S, ru, 'ru'), 'Осталось: меньше минуты');
  // The label only changes when the minute does.
  assert.equal(spoken(10 * M + 59 * S, en, 'en'), spoken(10 * M + 1 * S, en, 'en'));
});

test("the server's clock wins over a visitor's clock set wrong", () => {
  const server = Date.UTC(2026, 10, 23, 12, 0), wrong = server + H; // the visitor's clock runs an hour fast
  const s = {};
  merge(s, { mode: 'fixed', deadline: server + 2 * H, server_time: server, expired: false }, wrong);
  assert.equal(left(s, wrong), 2 * H);
  assert.equal(left(s, wrong + 10 * M), 2 * H - 10 * M);
});

test('an expired answer stays expired, whatever the clocks say', () => {
  const now = Date.UTC(2026, 10, 23, 12, 0), s = {};
  merge(s, { mode: 'evergreen', deadline: now - M, server_time: now, expired: true }, now);
  assert.ok(left(s, now) <= 0);
  assert.ok(left(s, now - D) <= 0);
});

test('a daily countdown rolls over to its next deadline without asking', () => {
  const now = Date.UTC(2026, 10, 23, 13, 0), d1 = now + H, d2 = d1 + D, s = {};
  merge(s, { mode: 'daily', deadline: d1, next_deadline: d2, server_time: now, expired: false }, now);
  assert.equal(left(s, now), H);
  assert.equal(s.rolled, undefined);
  assert.equal(left(s, d1 + S), D - S);
  assert.equal(s.dl, d2);
  assert.equal(s.next, 0);
  assert.equal(s.rolled, 1);
  // The background ask answers with the one after: it becomes the next deadline.
  merge(s, { mode: 'daily', deadline: d2, next_deadline: d2 + D, server_time: d1 + 2 * S, expired: false }, d1 + 2 * S);
  assert.equal(s.dl, d2);
  assert.equal(s.next, d2 + D);
});

test('an answer from before the rollover never moves the deadline back', () => {
  const now = Date.UTC(2026, 10, 23, 13, 0), d1 = now + H, d2 = d1 + D, s = {};
  merge(s, { mode: 'daily', deadline: d1, next_deadline: d2, server_time: now, expired: false }, now);
  left(s, d1 + 1); // rolled over by the visitor's estimate of the server's clock
  merge(s, { mode: 'daily', deadline: d1, next_deadline: d2, server_time: d1 - 50, expired: false }, d1 + 1);
  assert.equal(s.dl, d2);
  assert.equal(s.next, 0);
  assert.equal(left(s, d1 + 1), D + 50); // counted by the server's clock from now on
});

test('an expiry redirect goes to another web page only', () => {
  const here = 'http://shop.test/sale?x=1#top';
  assert.equal(target('/ended', here), 'http://shop.test/ended');
  assert.equal(target('https://other.test/a', here), 'https://other.test/a');
  assert.equal(target('/sale?x=1', here), '');
  assert.equal(target('http://shop.test/sale?x=1#bottom', here), '');
  assert.equal(target('javascript:alert(1)', here), '');
  assert.equal(target('http://[bad', here), '');
});
