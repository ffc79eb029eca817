// Widget editor: a form over the draft config — the very JSON the server validates, kept in sync
// with the "Advanced (JSON)" textarea that is what gets posted. As the owner types, the draft is
// checked by the server (the one source of truth) and shown in the preview frame with the real
// widget code; the server's errors come back with the JSON path of their field and are shown there.
// Plain DOM, no inline handlers (the dashboard's CSP forbids them).

const D = document;
const DEBOUNCE_MS = 400;
const WEEKDAYS = [[1, 'Mon'], [2, 'Tue'], [3, 'Wed'], [4, 'Thu'], [5, 'Fri'], [6, 'Sat'], [7, 'Sun']];
const CONTACT = [['phone', 'Phone'], ['email', 'Email'], ['name', 'Name']];
const POSITION = [['right', 'Right'], ['left', 'Left']];

// -- field descriptors: what each kind's form shows, keyed by the config's own names ------------

const text = (key, label, o = {}) => ({ t: 'text', key, label, ...o });
const area = (key, label, o = {}) => ({ t: 'text', key, label, multiline: true, ...o });
const num = (key, label, o = {}) => ({ t: 'number', key, label, ...o });
const color = (key = 'color', label = 'Colour') => ({ t: 'color', key, label });
const select = (key, label, choices, o = {}) => ({ t: 'select', key, label, choices, ...o });
const bool = (key, label, def = false, o = {}) => ({ t: 'bool', key, label, def, ...o });
const checks = (key, label, choices, o = {}) => ({ t: 'checks', key, label, choices, ...o });
const group = (key, label, fields, o = {}) => ({ t: 'group', key, label, fields, ...o });
const list = (key, label, item, fields, make, o = {}) => ({ t: 'list', key, label, item, fields, make, ...o });
const pairs = (key, label, name, value, o = {}) => ({ t: 'pairs', key, label, name, value, ...o });
// Their placeholders are the texts visitors get when a field is left empty: the built-in ones (or the
// site's own), in the language the server picks, read from the preview's config (server/widget_texts.py).
const texts = (prefix, names) => group('texts', 'Texts (empty: the built-in text in the visitor\'s language)',
  names.map(([k, l]) => text(k, l, { builtIn: prefix + '.' + k })));
let builtIn = {};
const builtInText = key => builtIn[key] ?? builtIn[key.replace(/^.*\./, '')];

const stepIds = draft => (draft.steps || []).map(s => s && s.id).filter(Boolean).concat('result');
const choice = s => ['single', 'multiple', 'image'].includes(s.type);
const TRIGGER_TYPES = [['delay', 'Seconds after the page loads'], ['time_on_site', 'Seconds on the site'],
  ['exit_intent', 'Leaving the page (exit intent)'], ['scroll', 'Scrolled down (percent)'],
  ['inactivity', 'Seconds without activity'], ['click', 'Click on an element'], ['pages', 'Pages viewed']];
// What a trigger of each type needs (server/popup.py TRIGGERS), and what a new one starts with.
const TRIGGER_NEED = { delay: 'seconds', time_on_site: 'seconds', scroll: 'percent', inactivity: 'seconds', pages: 'count', click: 'selector' };
const TRIGGER_START = { delay: 20, time_on_site: 60, scroll: 50, inactivity: 30, pages: 3, click: '' };
const newTrigger = (type = 'delay') => TRIGGER_NEED[type] ? { type, [TRIGGER_NEED[type]]: TRIGGER_START[type] } : { type };
// A group of triggers is {any: [...]} or {all: [...]}; the validator reads "any" first, and so does this.
const combOf = v => v && typeof v == 'object' && !Array.isArray(v) ? ['any', 'all'].find(c => c in v) : undefined;
const rules = key => list(key, key == 'include' ? 'Only on pages' : 'Never on pages', 'Page rule', [
  select('match', 'Match', [['contains', 'contains'], ['prefix', 'starts with'], ['exact', 'is exactly'], ['regex', 'regular expression']], { must: true }),
  text('value', 'Address part'),
], () => ({ match: 'contains', value: '' }));

const SCHEMAS = {
  callback: [
    color(), select('position', 'Side of the page', POSITION, { def: 'right' }),
    texts('callback', [['button', 'Button'], ['title', 'Title'], ['intro', 'Intro'], ['phone', 'Phone label'],
      ['name', 'Name label'], ['submit', 'Submit button'], ['thanks', 'Thanks'], ['closed_later', 'When closed']]),
  ],
  chat: [
    color(), select('position', 'Side of the page', POSITION, { def: 'right' }),
    area('greeting', 'Greeting in the open chat'),
    checks('prechat', 'Ask before the chat starts', [['name', 'Name'], ['email', 'Email'], ['phone', 'Phone']]),
    bool('stack', 'Sit above the callback button'),
    texts('chat', [['button', 'Button'], ['title', 'Title'], ['prechat', 'Before the chat'], ['message', 'Message label'],
      ['send', 'Send button'], ['away', 'When nobody is online'], ['thanks', 'Thanks for a message'], ['rate', 'Rating question']]),
    list('greetings', 'Proactive greetings (from a manager who is online)', 'Greeting', [
      text('id', 'Name (for the numbers)'), text('url', 'On pages whose address contains (or /regex/)'),
      area('text', 'Text ({name}: the manager\'s first name)'), num('seconds', 'After seconds on the page'),
      num('scroll', 'After scrolling (percent)'),
    ], () => ({ url: '', text: '', seconds: 20 })),
    // Not part of the widget's config: the site's setting, posted beside it (see CANNED below).
    list('canned', 'Canned replies for managers (the site\'s inbox; not versioned)', 'Canned reply', [
      text('shortcut', 'Shortcut (typed after /)'), area('text', 'Reply text')], () => ({ shortcut: '', text: '' })),
  ],
  popup: [
    text('title', 'Title'), area('text', 'Text'),
    select('layout', 'Layout', [['modal', 'Dialog'], ['slide', 'Corner slide-in'], ['bar-top', 'Bar at the top'], ['bar-bottom', 'Bar at the bottom']], { def: 'dialog' }),
    num('priority', 'Priority (higher shows first)', { integer: true }), color(), text('image', 'Image address'),
    text('countdown', 'Countdown shown inside (its id)'),
    checks('fields', 'Form fields', CONTACT, { keepEmpty: true }), text('submit', 'Submit button'),
    text('thanks', 'Thanks text (shown with the bonus)'),
    group('button', 'Instead of a form: a button that opens', [text('label', 'Button text'),
      text('open', 'Opens (callback, chat or quiz:<id>)')]),
    { t: 'triggers', key: 'triggers', label: 'Show when' },
    group('targeting', 'Targeting', [rules('include'), rules('exclude'),
      select('device', 'Device', [['any', 'Any'], ['desktop', 'Desktop'], ['mobile', 'Mobile']], { def: 'any' }),
      select('visitor', 'Visitor', [['any', 'Any'], ['new', 'New'], ['returning', 'Returning']], { def: 'any' }),
      text('referrer', 'Came from (part of the referrer)'),
      pairs('utm', 'Campaign tags (every one must match)', 'Tag', 'Value'),
      group('schedule', 'Schedule (site timezone)', [text('from', 'From date', { type: 'date' }),
        text('to', 'To date', { type: 'date' }), checks('days', 'Weekdays', WEEKDAYS),
        { t: 'hours', key: 'hours', label: 'Hours' }])]),
    group('frequency', 'Frequency', [
      select('show', 'Show', [['session', 'Once a session'], ['days', 'Once every N days'], ['until_converted', 'Until they convert'], ['always', 'Every time']], { def: 'once a session' }),
      num('days', 'N days'), num('after_close_days', 'Not again for days after a close')]),
    group('bonus', 'Bonus (sent only after the submit)', [text('code', 'Code'), text('text', 'Text')]),
  ],
  countdown: [
    select('mode', 'Mode', [['fixed', 'Fixed deadline'], ['evergreen', 'Evergreen (per visitor)'], ['daily', 'Daily']], { rerender: true, must: true }),
    text('deadline', 'Deadline (site timezone)', { type: 'datetime-local', when: c => c.mode == 'fixed' }),
    num('minutes', 'Minutes each visitor gets', { when: c => c.mode == 'evergreen' }),
    text('time', 'Time of day', { type: 'time', when: c => c.mode == 'daily' }),
    checks('days', 'Weekdays', WEEKDAYS, { when: c => c.mode == 'daily' }),
    select('display', 'Display', [['bar-top', 'Bar at the top'], ['bar-bottom', 'Bar at the bottom'], ['inline', 'In the page']], { def: 'bar at the top' }),
    text('title', 'Title'), text('text', 'Text before the timer'), color(),
    group('cta', 'Button', [text('label', 'Button text'), text('open', 'Opens (callback, chat, quiz:<id>, popup:<id>)')]),
    group('expiry', 'When it ends', [
      select('action', 'Then', [['hide', 'Hide it'], ['message', 'Show a message'], ['redirect', 'Go to a page'], ['switch', 'Switch to another countdown']], { rerender: true, must: true }),
      area('message', 'Message', { when: c => c.action == 'message' }),
      text('url', 'Page address', { when: c => c.action == 'redirect' }),
      text('next', 'Next countdown (its id)', { when: c => c.action == 'switch' })]),
  ],
  quiz: [
    text('title', 'Title'), area('intro', 'Intro'), color(),
    list('steps', 'Steps', 'Step', [
      text('id', 'Step id', { refresh: true }),
      select('type', 'Type', [['single', 'One choice'], ['multiple', 'Several choices'], ['image', 'Picture choice'],
        ['number', 'Number'], ['text', 'Free text'], ['info', 'Information'], ['contact', 'Contact details']], { rerender: true, must: true }),
      text('question', 'Question', { when: s => s.type != 'info' }),
      area('text', 'Text', { when: s => s.type == 'info' }),
      text('placeholder', 'Placeholder', { when: s => s.type == 'text' }),
      bool('required', 'An answer is required', true, { when: s => s.type != 'contact' && s.type != 'info' }),
      list('options', 'Options', 'Option', [
        text('id', 'Option id'), text('label', 'Label'),
        text('image', 'Image address', { when: (o, path, draft) => (draft.steps[path[1]] || {}).type == 'image' }),
        pairs('add', 'Adds to variables', 'Variable', 'Amount', { number: true }),
        text('next', 'Then go to (step id; empty: the step\'s own next)', { ids: stepIds }),
      ], (items) => ({ id: nextId(items, 'o'), label: '' }), { when: choice }),
      num('min', 'Minimum', { when: s => s.type == 'number' }), num('max', 'Maximum', { when: s => s.type == 'number' }),
      num('step', 'Step', { when: s => s.type == 'number' }), num('default', 'Default', { when: s => s.type == 'number' }),
      text('unit', 'Unit', { when: s => s.type == 'number' }), text('var', 'Variable (empty: the step id)', { when: s => s.type == 'number' }),
      checks('fields', 'Ask for', CONTACT, { when: s => s.type == 'contact' }),
      checks('required', 'Required (none ticked: the phone, or the email if no phone is asked)', CONTACT, { when: s => s.type == 'contact' }),
      list('branches', 'Branches (tried first, in order)', 'Branch', [
        text('if', 'If (formula, e.g. length >= 9)'), text('next', 'Go to (step id)', { ids: stepIds })],
      () => ({ if: '', next: '' })),
      text('next', 'Then go to (step id; empty: the following step)', { ids: stepIds }),
    ], items => ({ id: nextId(items, 'step'), type: 'single', question: '', options: [{ id: 'a', label: '' }, { id: 'b', label: '' }] })),
    pairs('results', 'Calculator: results (formulas over the variables)', 'Result', 'Formula'),
    list('show', 'Results shown', 'Shown result', [text('result', 'Result'), text('label', 'Label'),
      text('prefix', 'Before the number'), text('suffix', 'After the number')], () => ({ result: '', label: '' })),
    list('ranges', 'Texts by result range', 'Range', [text('result', 'Result'), num('min', 'From'), num('max', 'To'),
      area('text', 'Text')], () => ({ result: '', text: '' })),
    group('bonus', 'Bonus (sent only with the result)', [text('code', 'Code'), text('text', 'Text')], { fromString: 'code' }),
  ],
};

function nextId(items, stem) {
  const taken = new Set((items || []).map(x => x && x.id));
  let n = (items || []).length + 1;
  while (taken.has(stem + n)) n++;
  return stem + n;
}

// -- paths: ["steps", 2, "next"] <-> "steps[2].next" (the server's error paths) ---------------

const pathText = path => path.reduce((s, p) => typeof p == 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p, '');
const idFor = path => 'f-' + pathText(path).replace(/[^\w-]+/g, '-');

function at(obj, path) {
  return path.reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function put(obj, path, value) {
  let o = obj;
  for (let i = 0; i < path.length - 1; i++) {
    if (o[path[i]] == null || typeof o[path[i]] != 'object') o[path[i]] = typeof path[i + 1] == 'number' ? [] : {};
    o = o[path[i]];
  }
  const last = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(o)) o[last] = value; else delete o[last];
  } else o[last] = value;
  // An optional object left empty goes (an empty "button" would be a broken button).
  for (let i = path.length - 1; i > 0; i--) {
    const parent = at(obj, path.slice(0, i));
    if (parent && !Array.isArray(parent) && typeof parent == 'object' && !Object.keys(parent).length) {
      const holder = at(obj, path.slice(0, i - 1));
      if (holder && !Array.isArray(holder)) delete holder[path[i - 1]];
    } else break;
  }
}

// -- the editor ------------------------------------------------------------------------------

function h(tag, attrs = {}, ...kids) {
  const el = D.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k == 'text') el.textContent = v; else el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...kids.filter(k => k != null));
  return el;
}

function start(root) {
  const kind = root.dataset.kind, schema = SCHEMAS[kind];
  const form = D.getElementById('widget-form'), box = D.getElementById('widget-fields');
  const source = D.getElementById('definition'), jsonError = D.getElementById('definition-error');
  const advanced = D.getElementById('advanced'), frame = root.querySelector('iframe.preview');
  const status = D.getElementById('preview-state'), previewUrl = root.dataset.preview;
  if (!schema || !form || !box || !source) return;
  // CANNED: the chat's canned replies are the site's, in a textarea of their own; the form edits
  // them as draft.canned and writes them back there, never into the widget's JSON.
  const side = kind == 'chat' ? D.getElementById('canned-source') : null;
  let draft = withSide(parse(source.value)), timer = 0, asked = 0;

  function withSide(config) {
    if (config && side) {
      try { config.canned = JSON.parse(side.value || '[]') } catch (e) { config.canned = [] }
    }
    return config;
  }

  function write() {
    const { canned, ...config } = draft;
    source.value = JSON.stringify(side ? config : draft, null, 2);
    if (side) side.value = JSON.stringify(canned || [], null, 2);
  }

  function parse(value) {
    try {
      const v = JSON.parse(value);
      return v && typeof v == 'object' && !Array.isArray(v) ? v : null;
    } catch (e) {
      return null;
    }
  }

  function changed(rerender) {
    write();
    if (rerender) render();
    schedule();
  }

  // -- rendering ---------------------------------------------------------------------------

  function render() {
    const focused = D.activeElement && box.contains(D.activeElement) ? D.activeElement.id : '';
    box.replaceChildren(...fields(schema, [], draft), allTexts());
    box.hidden = false;
    const again = focused && D.getElementById(focused);
    if (again) again.focus();
  }

  // "All texts": every text a visitor of this kind may read (the server lists them, with a label in
  // words), each empty unless the owner rewords it; the placeholder is the built-in text. The main
  // texts shown above are not repeated. Collapsed at first, and kept as the owner leaves it.
  const ALL_TEXTS = JSON.parse(D.getElementById('widget-texts-data')?.textContent || '[]');
  let allTextsOpen = false;
  function allTexts() {
    const main = schema.find(f => f.key == 'texts'), seen = new Set(main ? main.fields.map(x => x.key) : []);
    const listed = ALL_TEXTS.filter(t => !seen.has(t.name) && seen.add(t.name));
    if (!listed.length) return '';
    // Where "texts: must map text names to texts" is shown when no main texts group takes it.
    const part = (legend, items) => items.length ? h('fieldset', { class: 'ef-group', 'data-path': main ? null : 'texts' }, h('legend', { text: legend }),
      ...fields(items.map(t => text(t.name, t.label, { builtIn: t.key })), ['texts'], draft.texts)) : null;
    const own = listed.filter(t => t.key != t.name), shared = listed.filter(t => t.key == t.name);
    const details = h('details', { class: 'ef-all-texts', id: 'all-texts' },
      h('summary', { text: `All texts (${listed.length})` }),
      h('p', { class: 'muted', text: 'Every text a visitor of this widget may read. Empty: the built-in text shown in the box, in the visitor\'s language. {name} and the like are filled in by the widget.' }),
      part('This widget\'s texts', own), part('Texts every widget shares (changed here for this widget only)', shared));
    details.open = allTextsOpen;
    details.addEventListener('toggle', () => { allTextsOpen = details.open });
    return details;
  }

  function fields(list, path, obj) {
    return list.filter(f => !f.when || f.when(obj || {}, path, draft)).map(f => field(f, path.concat(f.key), obj));
  }

  function row(f, path, control, hint) {
    const id = control.id || (control.id = idFor(path));
    control.dataset.path = pathText(path);
    return h('div', { class: 'ef-row' }, h('label', { for: id, text: f.label }), control, hint);
  }

  function field(f, path, obj) {
    const value = at(draft, path);
    switch (f.t) {
      case 'text': case 'number': case 'color': return input(f, path, value);
      case 'select': {
        const el = h('select', { id: idFor(path) }, f.must ? null : h('option', { value: '', text: f.def ? `(default: ${f.def})` : '(default)' }),
          ...f.choices.map(([v, l]) => h('option', { value: v, text: l })));
        if (value != null && !f.choices.some(([v]) => v == value)) el.append(h('option', { value, text: `${value} (unknown)` }));
        // A select that must have a value shows its first choice, the validator's default, when unset.
        el.value = value == null ? (f.must ? f.choices[0][0] : '') : String(value);
        el.addEventListener('change', () => { put(draft, path, el.value || undefined); changed(f.rerender) });
        return row(f, path, el);
      }
      case 'bool': {
        const el = h('input', { type: 'checkbox', id: idFor(path) });
        el.checked = value == null ? f.def : value === true;
        el.dataset.path = pathText(path);
        el.addEventListener('change', () => { put(draft, path, el.checked === f.def ? undefined : el.checked); changed() });
        return h('div', { class: 'ef-row ef-check' }, el, h('label', { for: el.id, text: f.label }));
      }
      case 'checks': {
        const chosen = Array.isArray(value) ? value : [];
        const set = h('fieldset', { class: 'ef-checks', 'data-path': pathText(path) }, h('legend', { text: f.label }));
        for (const [v, l] of f.choices) {
          const el = h('input', { type: 'checkbox', id: idFor(path) + '-' + v });
          el.checked = chosen.includes(v);
          el.addEventListener('change', () => {
            const now = f.choices.map(c => c[0]).filter(c => D.getElementById(idFor(path) + '-' + c).checked);
            put(draft, path, now.length || f.keepEmpty ? now : undefined);
            changed();
          });
          set.append(h('label', { class: 'check' }, el, ' ' + l));
        }
        return set;
      }
      case 'group': {
        let inner = value;
        if (f.fromString && typeof value == 'string') put(draft, path, inner = { [f.fromString]: value });
        const set = h('fieldset', { class: 'ef-group', 'data-path': pathText(path) }, h('legend', { text: f.label }));
        set.append(...fields(f.fields, path, inner));
        return set;
      }
      case 'list': return listField(f, path, value);
      case 'pairs': return pairsField(f, path, value);
      case 'triggers': return triggersField(f, path, value);
      case 'hours': return hoursField(f, path, value);
    }
    return null;
  }

  function input(f, path, value) {
    const type = f.t == 'number' ? 'number' : f.type || 'text';
    const attrs = { id: idFor(path), type: f.t == 'color' ? 'text' : type, placeholder: f.placeholder ?? (f.builtIn && builtInText(f.builtIn)), 'data-built-in': f.builtIn };
    if (type == 'number') attrs.step = 'any';
    const el = h(f.multiline ? 'textarea' : 'input', attrs);
    if (f.multiline) el.rows = 2;
    el.value = value == null ? '' : typeof value == 'object' ? JSON.stringify(value) : String(value);
    let swatch = null, ids = null;
    if (f.ids) {
      ids = h('datalist', { id: el.id + '-ids' }, ...f.ids(draft).map(v => h('option', { value: v })));
      el.setAttribute('list', ids.id);
    }
    if (f.t == 'color') {
      // A text box (any #hex, checked by the server) with a picker beside it.
      el.placeholder = '#0f766e';
      swatch = h('input', { type: 'color', 'aria-label': f.label + ' picker', tabindex: -1 });
      swatch.value = /^#[0-9a-f]{6}$/i.test(el.value) ? el.value : '#0f766e';
      swatch.addEventListener('input', () => { el.value = swatch.value; el.dispatchEvent(new Event('input')) });
    }
    el.addEventListener('input', () => {
      let v = el.value;
      if (type == 'number') v = v.trim() === '' ? undefined : Number(v);
      else if (v === '') v = undefined;
      if (swatch && /^#[0-9a-f]{6}$/i.test(el.value)) swatch.value = el.value;
      put(draft, path, v);
      if (f.refresh) renamed(el, v);
      changed();
    });
    return row(f, path, el, h('span', { class: 'ef-extra' }, swatch, ids));
  }

  // A step id others refer to: its legend and every list of ids to go to follow it as it is typed
  // (in place: re-rendering would take the field away from under the owner's fingers).
  function renamed(el, id) {
    const item = el.closest('.ef-item');
    if (item) item.querySelector(':scope > legend').textContent = item.getAttribute('aria-label') + (id ? ` (${id})` : '');
    box.querySelectorAll('datalist').forEach(list => list.replaceChildren(...stepIds(draft).map(v => h('option', { value: v }))));
  }

  function listField(f, path, value) {
    const items = Array.isArray(value) ? value : [];
    const set = h('fieldset', { class: 'ef-list', 'data-path': pathText(path) }, h('legend', { text: f.label }));
    const noun = f.item.toLowerCase();
    items.forEach((item, i) => {
      const ipath = path.concat(i), name = `${f.item} ${i + 1}`;
      const tools = h('div', { class: 'ef-tools' });
      const tool = (label, fn, disabled) => {
        const b = h('button', { type: 'button', class: 'link-button', disabled, text: label });
        b.addEventListener('click', () => { fn(); changed(true); D.getElementById(focusAfter)?.focus() });
        tools.append(b);
      };
      let focusAfter = '';
      tool(`Move ${noun} ${i + 1} up`, () => { items.splice(i - 1, 0, items.splice(i, 1)[0]); focusAfter = idFor(path) + '-add' }, i == 0);
      tool(`Move ${noun} ${i + 1} down`, () => { items.splice(i + 1, 0, items.splice(i, 1)[0]); focusAfter = idFor(path) + '-add' }, i == items.length - 1);
      tool(`Remove ${noun} ${i + 1}`, () => { items.splice(i, 1); focusAfter = idFor(path) + '-add' });
      const legend = h('legend', { text: name + (item && item.id ? ` (${item.id})` : '') });
      set.append(h('fieldset', { class: 'ef-item', 'data-path': pathText(ipath), 'aria-label': name }, legend, tools,
        ...(item && typeof item == 'object' ? fields(f.fields, ipath, item) : [h('p', { class: 'muted', text: 'Not an object: edit it in Advanced (JSON).' })])));
    });
    const add = h('button', { type: 'button', id: idFor(path) + '-add', text: `Add ${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}` });
    add.addEventListener('click', () => {
      const now = Array.isArray(at(draft, path)) ? at(draft, path) : [];
      now.push(f.make(now));
      put(draft, path, now);
      changed(true);
      const first = D.querySelector(`[data-path="${pathText(path.concat(now.length - 1))}"] input, [data-path="${pathText(path.concat(now.length - 1))}"] select`);
      if (first) first.focus();
    });
    set.append(add);
    return set;
  }

  function pairsField(f, path, value) {
    const obj = value && typeof value == 'object' && !Array.isArray(value) ? value : {};
    const set = h('fieldset', { class: 'ef-pairs', 'data-path': pathText(path) }, h('legend', { text: f.label }));
    const write = entries => { put(draft, path, entries.length ? Object.fromEntries(entries) : undefined); changed() };
    const entries = Object.entries(obj);
    const current = () => Object.entries(at(draft, path) || {}); // with what was typed since
    entries.forEach(([k, v], i) => {
      const vpath = path.concat(k), base = idFor(path) + '-' + i;
      const name = h('input', { id: base + '-name', 'aria-label': `${f.name} ${i + 1} name` });
      const val = h('input', { id: base + '-value', 'aria-label': `${f.name} ${i + 1} ${f.value.toLowerCase()}`, type: f.number ? 'number' : 'text' });
      if (f.number) val.step = 'any';
      name.value = k;
      val.value = typeof v == 'object' ? JSON.stringify(v) : String(v);
      val.dataset.path = pathText(vpath);
      const read = () => entries.map(([n], j) => [
        D.getElementById(`${idFor(path)}-${j}-name`).value.trim(),
        (x => f.number ? (x.trim() === '' ? x : Number(x)) : x)(D.getElementById(`${idFor(path)}-${j}-value`).value),
      ]).filter(([n]) => n);
      // Renamed in place (no re-render under the owner's fingers); errors find the value by its new name.
      name.addEventListener('input', () => { val.dataset.path = pathText(path.concat(name.value.trim())); write(read()) });
      val.addEventListener('input', () => write(read()));
      // Order matters where later entries use earlier ones (results are worked out in turn).
      const tools = h('div', { class: 'ef-tools' });
      const tool = (label, order, disabled) => {
        const b = h('button', { type: 'button', class: 'link-button', disabled, text: label });
        b.addEventListener('click', () => { write(order(current())); render() });
        tools.append(b);
      };
      const noun = f.name.toLowerCase();
      tool(`Move ${noun} ${i + 1} up`, e => (e.splice(i - 1, 0, e.splice(i, 1)[0]), e), i == 0);
      tool(`Move ${noun} ${i + 1} down`, e => (e.splice(i + 1, 0, e.splice(i, 1)[0]), e), i == entries.length - 1);
      tool(`Remove ${noun} ${i + 1}`, e => e.filter((_, j) => j != i));
      set.append(h('div', { class: 'ef-pair' }, name, h('span', { 'aria-hidden': 'true', text: f.number ? '+=' : '=' }), val, tools));
    });
    const add = h('button', { type: 'button', text: `Add ${/^[aeiou]/i.test(f.name) ? 'an' : 'a'} ${f.name.toLowerCase()}` });
    add.addEventListener('click', () => {
      let n = entries.length + 1;
      while (('new' + n) in obj) n++;
      write(current().concat([['new' + n, f.number ? 0 : '0']]));
      render();
    });
    set.append(add);
    return set;
  }

  // The whole trigger tree: groups (any/all) nested as deep as the owner likes (the server sets the
  // limit), triggers inside them; each child named by its place ("Trigger 2.1" is the first of group 2).
  function triggersField(f, path, value) {
    const set = h('fieldset', { class: 'ef-group ef-tree', 'data-path': pathText(path) }, h('legend', { text: f.label }));
    if (value == null || combOf(value)) {
      set.append(...triggerGroup(path, value || { any: [] }, ''));
      return set;
    }
    // A single trigger at the top (the validator allows it): edited as it is, or put in a group.
    set.append(...triggerBody(path, value));
    const wrap = h('button', { type: 'button', text: 'Combine with another trigger' });
    wrap.addEventListener('click', () => { put(draft, path, { any: [value, newTrigger()] }); changed(true) });
    set.append(wrap);
    return set;
  }

  function triggerGroup(path, value, name) {
    const comb = combOf(value) || 'any', lpath = path.concat(comb);
    const items = Array.isArray(value[comb]) ? value[comb] : [];
    const pick = h('select', { id: idFor(path) + '-comb' }, h('option', { value: 'any', text: 'any of these happens' }),
      h('option', { value: 'all', text: 'all of these have happened' }));
    pick.value = comb;
    pick.dataset.path = pathText(lpath); // "triggers.any: list at least one trigger" lands here
    pick.addEventListener('change', () => { put(draft, path, { [pick.value]: items }); changed(true) });
    const out = [h('div', { class: 'ef-row' }, h('label', { for: pick.id, text: name ? `Group ${name} counts when` : 'Show the popup when' }), pick)];
    items.forEach((item, i) => {
      const ipath = lpath.concat(i), iname = name ? `${name}.${i + 1}` : String(i + 1);
      const sub = combOf(item), noun = sub ? 'group' : 'trigger', label = `${sub ? 'Group' : 'Trigger'} ${iname}`;
      const tools = h('div', { class: 'ef-tools' });
      const tool = (text, fn, disabled) => {
        const b = h('button', { type: 'button', class: 'link-button', disabled, text });
        b.addEventListener('click', () => { fn(); changed(true); D.getElementById(idFor(path) + '-add')?.focus() });
        tools.append(b);
      };
      tool(`Move ${noun} ${iname} up`, () => items.splice(i - 1, 0, items.splice(i, 1)[0]), i == 0);
      tool(`Move ${noun} ${iname} down`, () => items.splice(i + 1, 0, items.splice(i, 1)[0]), i == items.length - 1);
      tool(`Remove ${noun} ${iname}`, () => items.splice(i, 1));
      const body = sub ? triggerGroup(ipath, item, iname)
        : item && typeof item == 'object' && !Array.isArray(item) ? triggerBody(ipath, item)
          : [h('p', { class: 'muted', text: 'Not a trigger: remove it, or edit it in Advanced (JSON).' })];
      out.push(h('fieldset', { class: sub ? 'ef-item ef-subgroup' : 'ef-item', 'data-path': pathText(ipath), 'aria-label': label },
        h('legend', { text: label }), tools, ...body));
    });
    const adder = (id, text, make) => {
      const b = h('button', { type: 'button', id, text });
      b.addEventListener('click', () => {
        const now = Array.isArray(at(draft, lpath)) ? at(draft, lpath) : [];
        now.push(make());
        put(draft, lpath, now);
        changed(true);
        box.querySelector(`[data-path="${CSS.escape(pathText(lpath.concat(now.length - 1)))}"] select`)?.focus();
      });
      return b;
    };
    const where = name ? ` to group ${name}` : '';
    out.push(h('div', { class: 'ef-tools ef-adders' },
      adder(idFor(path) + '-add', 'Add a trigger' + where, () => newTrigger()),
      adder(idFor(path) + '-add-group', 'Add a group' + where, () => ({ any: [newTrigger()] }))));
    return out;
  }

  function triggerBody(path, item) {
    const type = h('select', { id: idFor(path.concat('type')) }, ...TRIGGER_TYPES.map(([v, l]) => h('option', { value: v, text: l })));
    if (!TRIGGER_TYPES.some(([v]) => v == item.type)) type.prepend(h('option', { value: String(item.type ?? ''), text: `${item.type ?? '(none)'} (unknown)` }));
    type.value = String(item.type ?? '');
    // A new type starts from its own defaults; a number carries over where both need the same kind of one.
    type.addEventListener('change', () => {
      const fresh = newTrigger(type.value), need = TRIGGER_NEED[type.value];
      if (need && need == TRIGGER_NEED[item.type] && item[need] != null) fresh[need] = item[need];
      put(draft, path, fresh);
      changed(true);
    });
    const out = [row({ label: 'When' }, path.concat('type'), type)];
    const need = TRIGGER_NEED[item.type];
    const labels = { seconds: 'Seconds', percent: 'Percent', count: 'Pages', selector: 'CSS selector' };
    if (need) out.push(field(need == 'selector' ? text(need, labels[need]) : num(need, labels[need]), path.concat(need), item));
    return out;
  }

  function hoursField(f, path, value) {
    const pair = Array.isArray(value) ? value : [];
    const set = h('fieldset', { class: 'ef-checks', 'data-path': pathText(path) }, h('legend', { text: f.label }));
    const ends = ['from', 'to'].map((end, i) => {
      const el = h('input', { type: 'time', id: idFor(path) + '-' + end });
      el.value = pair[i] || '';
      el.addEventListener('input', () => {
        const [a, b] = ends.map(x => x.value);
        put(draft, path, a || b ? [a, b] : undefined);
        changed();
      });
      set.append(h('label', { for: el.id, text: end == 'from' ? 'From' : 'To' }), el);
      return el;
    });
    return set;
  }

  // -- errors at their fields ------------------------------------------------------------

  function clearErrors() {
    D.querySelectorAll('.ef-error').forEach(el => el.remove());
    D.querySelectorAll('[data-path][aria-invalid]').forEach(el => { el.removeAttribute('aria-invalid'); el.removeAttribute('aria-describedby') });
  }

  // The input for a path, or the nearest enclosing part of the form that is shown.
  function target(path) {
    if (box.hidden) return null;
    for (let p = path; p;) {
      const el = box.querySelector(`[data-path="${CSS.escape(p)}"]`);
      if (el) return el;
      const up = p.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
      if (up == p) break;
      p = up;
    }
    return null;
  }

  function showErrors(errors, focus) {
    clearErrors();
    let first = null;
    errors.forEach((e, i) => {
      const el = target(e.path) || source;
      if (el == source) advanced.open = true;
      const shut = el.closest('details:not([open])'); // an error in "All texts" is seen, not folded away
      if (shut && box.contains(shut)) shut.open = allTextsOpen = true;
      const note = h('p', { class: 'field-error ef-error', id: `ef-error-${i}`, text: e.message });
      if (el.tagName == 'FIELDSET') {
        el.querySelector('legend').after(note);
      } else {
        (el.closest('.ef-row') || el).after(note);
      }
      el.setAttribute('aria-invalid', 'true');
      el.setAttribute('aria-describedby', [el.getAttribute('aria-describedby'), note.id].filter(Boolean).join(' '));
      if (!first) first = el.tagName == 'FIELDSET' ? el.querySelector('input, select, textarea') || el : el;
    });
    if (first && focus) {
      if (first.tagName == 'FIELDSET') first.tabIndex = -1;
      first.focus();
      first.scrollIntoView({ block: 'center' });
    }
  }

  // -- the live preview ----------------------------------------------------------------------

  function schedule() {
    clearTimeout(timer);
    status.textContent = 'Preview: waiting for you to pause…';
    timer = setTimeout(preview, DEBOUNCE_MS);
  }

  async function preview() {
    const mine = ++asked;
    const body = new URLSearchParams({ csrf: form.elements.csrf.value, definition: source.value });
    let reply;
    try {
      const r = await fetch(previewUrl, { method: 'POST', body, headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      reply = await r.json();
    } catch (e) {
      if (mine == asked) status.textContent = 'Preview: could not reach the server; it updates when you type again.';
      return;
    }
    if (mine != asked) return; // an older answer; a newer draft is on its way
    if (reply.errors && reply.errors.length) {
      showErrors(reply.errors, false);
      status.textContent = `Preview not updated: ${reply.errors.length} problem${reply.errors.length == 1 ? '' : 's'} to fix (marked in the form).`;
      return;
    }
    clearErrors();
    status.textContent = 'Preview: up to date with your draft (not published).';
    frame.dataset.draft = reply.token;
    frame.src = previewUrl + '?draft=' + encodeURIComponent(reply.token);
  }

  // Widgets that open on demand are opened in the preview, so every change is seen at once; the
  // widget takes focus as it opens, which goes back to the field the owner is typing in.
  // The widget may open only once its chunk has loaded, after the owner has started typing in
  // another field: the field they are in now (or last were) gets the focus back, not the one of
  // when the frame loaded, unless they have meanwhile clicked or typed in the preview itself.
  let lastField = null;
  form.addEventListener('focusin', e => { if (e.target != frame) lastField = e.target });
  function openInFrame() {
    if (!['popup', 'callback', 'chat'].includes(kind)) return;
    try {
      const win = frame.contentWindow, opener = frame.contentDocument.querySelector('[data-beckon-open]');
      if (!opener) return;
      let theirs = false;
      const mine = () => { theirs = true };
      win.addEventListener('pointerdown', mine, { once: true, capture: true });
      win.addEventListener('keydown', mine, { once: true, capture: true });
      win.addEventListener('beckon:open', () => {
        if (!theirs && lastField && lastField.isConnected && D.activeElement == frame) lastField.focus();
      }, { once: true });
      opener.click();
    } catch (e) { /* the frame is our own origin; if not, there is nothing to open */ }
  }
  frame.addEventListener('load', openInFrame);
  // Placeholders: the texts a visitor of the preview gets, from the preview's own config.
  async function placeholders() {
    try {
      const url = frame.contentDocument.querySelector('script[data-config]')?.dataset.config;
      if (!url) return;
      builtIn = (await (await fetch(url, { credentials: 'same-origin' })).json()).site.texts || {};
      box.querySelectorAll('[data-built-in]').forEach(el => { el.placeholder = builtInText(el.dataset.builtIn) ?? '' });
    } catch (e) {} // placeholders are a hint: without them the editor works as before
  }
  frame.addEventListener('load', placeholders);
  // The first page of the frame may have loaded before this module ran.
  try {
    const first = frame.contentDocument;
    if (first && first.readyState == 'complete' && first.URL != 'about:blank') { openInFrame(); placeholders() }
  } catch (e) { /* not ours: nothing to open */ }

  // -- the JSON view: the same draft ------------------------------------------------------------

  source.addEventListener('input', () => {
    const parsed = parse(source.value);
    if (!parsed) {
      jsonError.hidden = false;
      jsonError.textContent = 'This is not a JSON object yet; the form shows the last one that was.';
      source.setAttribute('aria-invalid', 'true');
      return;
    }
    jsonError.hidden = true;
    source.removeAttribute('aria-invalid');
    draft = withSide(parsed);
    render();
    schedule();
  });
  if (side) side.addEventListener('input', () => { if (draft) { draft = withSide(draft); render() } });

  // Typing Enter in a text field would publish by accident.
  form.addEventListener('keydown', e => {
    if (e.key == 'Enter' && e.target.tagName == 'INPUT' && e.target.type != 'submit' && box.contains(e.target)) e.preventDefault();
  });

  const preview_button = D.getElementById('preview-button');
  if (preview_button) preview_button.hidden = true; // the preview follows the draft by itself

  const initial = JSON.parse(D.getElementById('widget-errors-data').textContent || '[]');
  if (draft) {
    render();
    advanced.open = false;
  }
  if (initial.length) showErrors(initial, true);
}

const root = D.getElementById('widget-editor');
if (root) start(root);
