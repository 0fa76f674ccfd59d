// app.js — the WebUI of `simpletuner server`: plain JavaScript, no framework, no network beyond
// this server. Pages are hash routes: #/configs, #/config/NAME, #/datasets[/NAME], #/runs,
// #/run/NAME, #/edit. The HTTP API is described in docs/webui.md.
'use strict';

// ---- helpers ----

const $ = (sel, root) => (root || document).querySelector(sel);
const main = () => document.getElementById('main');

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

// The token header: the login cookie's value, or any value when the server has no token. A page
// of another site can neither read the cookie nor send this header, so it cannot change anything.
function token() {
  const m = document.cookie.match(/(?:^|;\s*)st_token=([^;]*)/);
  return m ? m[1] : 'none';
}

async function api(method, url, body, raw) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') opts.headers['X-ST-Token'] = token();
  if (body !== undefined) {
    if (raw) opts.body = body;
    else { opts.body = JSON.stringify(body); opts.headers['Content-Type'] = 'application/json'; }
  }
  const r = await fetch(url, opts);
  if (r.status === 401) { location.href = '/login'; throw new Error('login needed'); }
  let data = null;
  const t = await r.text();
  try { data = t ? JSON.parse(t) : null; } catch (e) { data = { error: t }; }
  if (!r.ok) { const err = new Error((data && data.error) || r.statusText); err.status = r.status; err.data = data; throw err; }
  return data;
}

function notice(text, kind) { return el('div', { class: 'notice ' + (kind || '') }, text); }
function fmt(x, digits) { return typeof x === 'number' && isFinite(x) ? x.toPrecision(digits || 4) : '–'; }
function duration(s) {
  if (!isFinite(s) || s < 0) return '–';
  s = Math.round(s);
  if (s >= 3600) return Math.floor(s / 3600) + 'h' + String(Math.floor(s / 60) % 60).padStart(2, '0') + 'm';
  if (s >= 60) return Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
  return s + 's';
}
function setPage(title, ...content) {
  const m = main();
  m.replaceChildren(el('h1', { text: title }), ...content);
  return m;
}
function fail(e) { main().append(notice(e.message || String(e), 'error')); }

// The page's live connections, closed when the route changes.
let pageStreams = [];
function closeStreams() { for (const s of pageStreams) s.close(); pageStreams = []; }

// ---- Configurations ----

async function pageConfigs() {
  const [configs, presets] = await Promise.all([api('GET', '/api/configs'), api('GET', '/api/presets')]);
  const table = el('table', { id: 'config-list' },
    el('tr', {}, el('th', { text: 'Configuration' }), el('th', { text: 'Model' }), el('th', { text: 'output_dir' }), el('th', { text: '' })));
  for (const c of configs) {
    table.append(el('tr', { 'data-name': c.name },
      el('td', {}, el('a', { href: '#/config/' + c.name, text: c.name }), c.running ? el('span', { class: 'tag', text: 'training' }) : null,
        c.error ? el('div', { class: 'err', text: c.error }) : null),
      el('td', { text: (c.model_family || '?') + ' / ' + (c.model_flavour || '?') }),
      el('td', { text: c.output_dir || '' }),
      el('td', {}, el('a', { href: '#/datasets/' + c.name, text: 'datasets' }), ' · ', el('a', { href: '#/run/' + c.name, text: 'run' }))));
  }
  if (!configs.length) table.append(el('tr', {}, el('td', { colspan: 4, class: 'muted', text: 'No configurations yet under config/: create one from a preset.' })));
  const name = el('input', { type: 'text', id: 'new-name', placeholder: 'my-lora', pattern: '[A-Za-z0-9][A-Za-z0-9._-]*' });
  const preset = el('select', { id: 'new-preset' }, presets.map(p => el('option', { value: p.name, text: p.name + (p.tiny ? ' (tiny model, no download)' : '') })));
  const msg = el('div');
  const create = el('button', { id: 'new-create', text: 'Create', onclick: async () => {
    msg.replaceChildren();
    try {
      await api('POST', '/api/configs', { name: name.value.trim(), preset: preset.value });
      location.hash = '#/config/' + encodeURIComponent(name.value.trim());
    } catch (e) { msg.replaceChildren(notice(e.message, 'error')); }
  } });
  setPage('Configurations', table,
    el('h2', { text: 'New configuration from a preset' }),
    el('div', { class: 'card' }, el('div', { class: 'row' }, el('label', {}, 'Name ', name), el('label', {}, 'Preset ', preset), create), msg,
      el('p', { class: 'muted', text: 'The preset is copied to config/<name>/ (config.json and multidatabackend.json), as `simpletuner examples copy` does.' })));
}

// ---- one configuration: the form ----

let optionTable = null;
async function options() {
  if (!optionTable) {
    const list = await api('GET', '/api/options');
    optionTable = new Map(list.map(o => [o.name, o]));
    optionTable.aliases = new Map();
    for (const o of list) for (const a of (o.aliases || '').split(',').filter(Boolean)) optionTable.aliases.set(a, o.name);
  }
  return optionTable;
}
function canonical(opts, key) {
  const k = key.replace(/^--/, '');
  return opts.has(k) ? k : (opts.aliases.get(k) || k);
}

function optionHelp(o) {
  if (!o) return 'not an option this program knows';
  const parts = [];
  if (o.help) parts.push(o.help);
  if (o.own) parts.push("this program's option, not SimpleTuner's" + (o.scope ? ' (only ' + o.scope + ')' : ''));
  parts.push(o.type.toLowerCase() + ', default ' + JSON.stringify(o.default));
  if (o.choices) parts.push('choices: ' + o.choices.join(', '));
  if (o.supported_values) parts.push('supported here: ' + o.supported_values);
  if (o.unsupported_reason) parts.push('other values: ' + o.unsupported_reason);
  return parts.join(' · ');
}
function supportTag(o) {
  if (!o) return el('span', { class: 'tag unsupported', text: 'unknown' });
  const label = { implemented: 'implemented', inert: 'no effect here', unsupported: 'only the default' }[o.support];
  return el('span', { class: 'tag ' + o.support, text: label });
}

// An input for a value of an option; get() reads it back as JSON.
function valueInput(o, value, id) {
  const type = o ? o.type : 'TEXT';
  if (type === 'BOOL') {
    const i = el('input', { type: 'checkbox', id });
    i.checked = value === true || value === 'true';
    return { node: i, get: () => i.checked };
  }
  if (o && o.choices && (type === 'SELECT' || type === 'TEXT')) {
    const s = el('select', { id });
    const vals = o.choices.map(String);
    if (value !== null && value !== undefined && !vals.includes(String(value))) vals.unshift(String(value));
    for (const v of vals) s.append(el('option', { value: v, text: v }));
    s.value = value === null || value === undefined ? String(o.default) : String(value);
    return { node: s, get: () => s.value };
  }
  if (type === 'JSON' || (value !== null && typeof value === 'object')) {
    const t = el('textarea', { id });
    t.value = value === undefined ? '' : JSON.stringify(value, null, 2);
    return { node: t, get: () => { try { return JSON.parse(t.value); } catch (e) { return t.value; } } };
  }
  const i = el('input', { type: 'text', id });
  i.value = value === null || value === undefined ? '' : String(value);
  return {
    node: i, get: () => {
      const v = i.value.trim();
      if (type === 'NUMBER' && v !== '' && isFinite(Number(v))) return Number(v);
      return v === '' ? null : i.value;
    },
  };
}

const DATASET_KEYS = ['id', 'type', 'dataset_type', 'instance_data_dir', 'conditioning_type', 'caption_strategy', 'resolution',
  'resolution_type', 'cache_dir_vae'];

async function pageConfig(name) {
  const opts = await options();
  const data = await api('GET', '/api/configs/' + encodeURIComponent(name));
  const fields = new Map();   // canonical key -> {row, input, original key}
  const form = el('div', { class: 'card', id: 'config-form' });
  const status = el('div', { id: 'config-status' });

  function addField(key, value) {
    const c = canonical(opts, key);
    if (fields.has(c)) return;
    const o = opts.get(c);
    const inp = valueInput(o, value, 'opt-' + c);
    const err = el('div', { class: 'err' });
    const row = el('div', { class: 'field', 'data-key': c },
      el('label', { for: 'opt-' + c }, c, supportTag(o)), inp.node,
      el('button', { class: 'remove', title: 'remove (use the default)', text: '×', onclick: () => { row.remove(); fields.delete(c); } }),
      el('div', { class: 'help', text: optionHelp(o) }), err);
    fields.set(c, { row, input: inp, key, err });
    form.append(row);
  }
  if (data.config) for (const [k, v] of Object.entries(data.config)) addField(k, v);

  const adder = el('input', { type: 'text', list: 'option-names', placeholder: 'add an option…', id: 'add-option' });
  const names = el('datalist', { id: 'option-names' }, [...opts.keys()].map(n => el('option', { value: n })));
  const addBtn = el('button', { class: 'secondary', text: 'Add', onclick: () => {
    const c = canonical(opts, adder.value.trim());
    if (!c) return;
    const o = opts.get(c);
    addField(c, o ? o.default : '');
    adder.value = '';
  } });

  // datasets: a list of cards; conditioning_data links edit sets to reference sets
  const dsBox = el('div', { id: 'datasets-form' });
  const dsCards = [];
  function datasetIds() { return dsCards.map(d => d.inputs.id.get()).filter(Boolean); }
  function refreshLinks() { for (const d of dsCards) d.renderLinks(); }
  function addDataset(ds) {
    const card = el('div', { class: 'card dataset' + (ds.dataset_type === 'conditioning' ? ' conditioning' : '') });
    const inputs = {};
    const rest = Object.assign({}, ds);
    const grid = el('div');
    for (const k of DATASET_KEYS) {
      const v = ds[k];
      delete rest[k];
      const i = valueInput(null, v === undefined ? '' : v, null);
      if (k === 'id') i.node.addEventListener('change', refreshLinks);
      inputs[k] = i;
      grid.append(el('div', { class: 'field' }, el('label', { text: k }), i.node, el('span'), el('span'), el('span')));
    }
    let links = Array.isArray(ds.conditioning_data) ? ds.conditioning_data.slice() : (ds.conditioning_data ? [ds.conditioning_data] : []);
    delete rest.conditioning_data;
    const linkBox = el('div', { class: 'row' });
    const err = el('div', { class: 'err' });
    const other = el('textarea', {});
    other.value = Object.keys(rest).length ? JSON.stringify(rest, null, 2) : '';
    const entry = {
      card, inputs, err,
      renderLinks() {
        const mine = inputs.id.get();
        linkBox.replaceChildren(el('span', { class: 'muted', text: 'conditioning_data (reference sets this set pairs with):' }));
        for (const id of datasetIds()) {
          if (id === mine) continue;
          const cb = el('input', { type: 'checkbox' });
          cb.checked = links.includes(id);
          cb.addEventListener('change', () => { links = links.filter(x => x !== id); if (cb.checked) links.push(id); });
          linkBox.append(el('label', {}, cb, ' ' + id));
        }
      },
      get() {
        const o = {};
        for (const k of DATASET_KEYS) { const v = inputs[k].get(); if (v !== null && v !== '') o[k] = (k === 'resolution' && isFinite(Number(v))) ? Number(v) : v; }
        const ids = datasetIds();
        const keep = links.filter(x => ids.includes(x));
        if (keep.length) o.conditioning_data = keep;
        if (other.value.trim()) { try { Object.assign(o, JSON.parse(other.value)); } catch (e) { throw new Error('dataset ' + (o.id || '?') + ': the other keys are not valid JSON'); } }
        return o;
      },
    };
    card.append(grid, linkBox, el('div', { class: 'muted', text: 'other keys (JSON object):' }), other, err,
      el('button', { class: 'secondary', text: 'Remove dataset', onclick: () => { card.remove(); dsCards.splice(dsCards.indexOf(entry), 1); refreshLinks(); } }));
    dsCards.push(entry);
    dsBox.append(card);
    refreshLinks();
  }
  const dsEditable = Array.isArray(data.datasets);
  if (dsEditable) for (const d of data.datasets) addDataset(d);

  function collect() {
    const config = {};
    for (const [c, f] of fields) config[f.key.replace(/^--/, '') === c ? f.key : c] = f.input.get();
    return { config, datasets: dsEditable ? dsCards.map(d => d.get()) : null };
  }
  function showErrors(errors) {
    for (const f of fields.values()) { f.err.textContent = ''; f.row.classList.remove('invalid'); }
    for (const d of dsCards) d.err.textContent = '';
    const general = [];
    for (const e of errors || []) {
      const f = e.key ? fields.get(canonical(opts, e.key)) : null;
      const d = e.dataset ? dsCards.find(x => x.inputs.id.get() === e.dataset) : null;
      if (f && !e.dataset) { f.err.textContent = e.message; f.row.classList.add('invalid'); }
      else if (d) d.err.textContent = e.message;
      else general.push(e.message);
    }
    status.replaceChildren(...general.map(m => notice(m, 'error')));
    if (!errors || !errors.length) status.replaceChildren(notice('No errors: the configuration loads as `simpletuner train` reads it.', 'ok'));
  }
  async function validate() {
    try { const r = await api('POST', '/api/configs/' + encodeURIComponent(name) + '/validate', collect()); showErrors(r.errors); return r.ok; }
    catch (e) { status.replaceChildren(notice(e.message, 'error')); return false; }
  }
  async function save(dropComments) {
    const body = collect();
    if (dropComments) body.drop_comments = true;
    try {
      await api('PUT', '/api/configs/' + encodeURIComponent(name), body);
      showErrors([]);
      status.append(notice('Saved ' + data.path + (body.datasets ? ' and ' + data.datasets_path : '') + '.', 'ok'));
    } catch (e) {
      if (e.status === 409 && e.data && e.data.comments) {
        if (confirm('This file has comments (// or /* */), which saving from the form removes. Save anyway?')) return save(true);
        status.replaceChildren(notice('Not saved: the comments were kept.', ''));
      } else if (e.status === 422 && e.data && e.data.errors) showErrors(e.data.errors), status.prepend(notice('Not saved: fix the errors first.', 'error'));
      else status.replaceChildren(notice(e.message, 'error'));
    }
  }

  const top = [];
  if (data.has_comments || data.datasets_has_comments) top.push(notice('This configuration has comments; saving from this form removes them (you will be asked first).', ''));
  if (data.load_error) top.push(notice('As saved, the configuration does not load: ' + data.load_error, 'error'));
  if (!dsEditable) top.push(notice('Datasets: ' + (data.datasets_error || 'not editable here'), ''));
  setPage('Configuration ' + name, ...top,
    el('div', { class: 'row' },
      el('button', { id: 'validate', text: 'Validate', onclick: validate }),
      el('button', { id: 'save', text: 'Save', onclick: () => save(false) }),
      el('a', { class: 'button secondary', href: '#/datasets/' + name, text: 'Datasets' }),
      el('a', { class: 'button secondary', href: '#/run/' + name, text: 'Training run' })),
    status,
    el('h2', { text: 'Options (' + data.path + ')' }), form,
    el('div', { class: 'row' }, adder, names, addBtn),
    el('h2', { text: 'Datasets' + (data.datasets_path ? ' (' + data.datasets_path + ')' : '') }), dsBox,
    dsEditable ? el('button', { class: 'secondary', id: 'add-dataset', text: 'Add dataset', onclick: () => addDataset({ id: 'dataset-' + (dsCards.length + 1), type: 'local' }) }) : null);
  validate();
}

// ---- Datasets ----

async function pageDatasetsIndex() {
  const configs = await api('GET', '/api/configs');
  setPage('Datasets', el('p', { text: 'Pick a configuration to inspect its datasets:' }),
    el('ul', {}, configs.map(c => el('li', {}, el('a', { href: '#/datasets/' + c.name, text: c.name })))));
}

async function pageDatasets(name) {
  setPage('Datasets of ' + name, el('p', { class: 'muted', text: 'Loading the datasets as training would…' }));
  let r;
  try { r = await api('GET', '/api/configs/' + encodeURIComponent(name) + '/inspect?pairs=8'); }
  catch (e) { setPage('Datasets of ' + name, notice(e.message, 'error')); return; }
  const out = [];
  if (r.problems) out.push(notice(r.problems, 'error'));
  if (r.batches_per_epoch !== undefined) out.push(el('p', { text: 'Batches per epoch: ' + r.batches_per_epoch }));
  for (const d of r.datasets) {
    const card = el('div', { class: 'card dataset ' + d.kind, 'data-dataset': d.id });
    card.append(el('h3', { text: d.id + ' — ' + d.kind + (d.conditioning_type ? ' (' + d.conditioning_type + ' of ' + (d.source || '-') + ')' : '') }),
      el('div', { class: 'muted', text: d.instance_data_dir || '' }));
    if (d.disabled) { card.append(el('p', { text: 'disabled' })); out.push(card); continue; }
    card.append(el('p', { class: 'found', text: d.found + ' images found, ' + d.used + ' used, ' + d.skipped_count + ' skipped' +
      (d.missing_captions ? ', ' + d.missing_captions + ' captions missing' : '') }));
    if (d.skipped.length) card.append(el('table', { class: 'skipped' }, el('tr', {}, el('th', { text: 'skipped' }), el('th', { text: 'why' })),
      d.skipped.map(s => el('tr', {}, el('td', { text: s.file }), el('td', { text: s.reason })))));
    for (const p of d.pairs) {
      card.append(el('p', { class: 'pairing', text: 'pairs with ' + p.with + ': ' + p.same_path + ' same path, ' + p.other_extension +
        ' other extension, ' + p.missing + ' missing, ' + p.unused_references + ' references unused' }));
      if (p.missing_files.length) card.append(el('div', { class: 'err', text: 'missing references: ' + p.missing_files.join(', ') }));
    }
    if (d.buckets.length) card.append(el('table', { class: 'buckets' }, el('tr', {}, el('th', { text: 'bucket (W×H)' }), el('th', { text: 'images' })),
      d.buckets.map(b => el('tr', {}, el('td', { text: b.width + '×' + b.height }), el('td', { text: b.images + (b.pruned ? ' (pruned: fewer than ' + d.bucket_minimum + ')' : '') })))));
    out.push(card);
  }
  for (const s of r.samples) {
    out.push(el('h2', { text: 'First pairs of ' + s.dataset }));
    out.push(el('table', { class: 'pairs' }, el('tr', {}, el('th', { text: 'edit image' }), el('th', { text: 'references' }), el('th', { text: 'instruction' })),
      s.pairs.map(p => el('tr', {},
        el('td', {}, el('img', { src: p.image, alt: p.file, title: p.file })),
        el('td', {}, p.references.map(x => el('img', { src: x.image, alt: x.file, title: x.dataset + ': ' + x.file }))),
        el('td', {}, el('div', { text: p.instruction }), el('div', { class: 'muted', text: p.file }))))));
  }
  setPage('Datasets of ' + name, ...out);
}

// ---- Training runs ----

async function pageRuns() {
  const runs = await api('GET', '/api/runs');
  setPage('Training runs', el('table', { id: 'run-list' },
    el('tr', {}, el('th', { text: 'Run (configuration)' }), el('th', { text: 'State' }), el('th', { text: 'Steps' }), el('th', { text: 'Last loss' }), el('th', { text: 'Checkpoints' }), el('th', { text: 'output_dir' })),
    runs.map(r => el('tr', {},
      el('td', {}, el('a', { href: '#/run/' + r.name, text: r.name })),
      el('td', { class: 'state-' + r.state, text: r.state }),
      el('td', { text: (r.last_step !== undefined ? r.last_step : 0) + (r.total ? ' / ' + r.total : '') }),
      el('td', { text: fmt(r.last_loss) }),
      el('td', { text: r.checkpoints ? r.checkpoints.length : 0 }),
      el('td', {}, r.output_dir || '', r.error ? el('div', { class: 'err', text: r.error }) : null)))));
}

function drawChart(canvas, pts) {
  const dpr = window.devicePixelRatio || 1;
  const W = canvas.clientWidth || 800, H = canvas.clientHeight || 260;
  canvas.width = W * dpr; canvas.height = H * dpr;
  canvas.dataset.points = String(pts.length);
  const g = canvas.getContext('2d');
  g.scale(dpr, dpr);
  g.clearRect(0, 0, W, H);
  const L = 56, R = 12, T = 12, B = 28;
  g.strokeStyle = '#c4cad4'; g.lineWidth = 1;
  g.strokeRect(L, T, W - L - R, H - T - B);
  g.fillStyle = '#6b7585'; g.font = '11px system-ui, sans-serif';
  if (!pts.length) { g.fillText('no steps yet', L + 10, T + 20); return; }
  const xs = pts.map(p => p[0]), ys = pts.map(p => p[1]);
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
  const X = x => L + (x - x0) / (x1 - x0) * (W - L - R), Y = y => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const y = y0 + (y1 - y0) * i / 4;
    g.fillText(y.toPrecision(3), 4, Y(y) + 4);
    g.strokeStyle = '#eef1f5'; g.beginPath(); g.moveTo(L, Y(y)); g.lineTo(W - R, Y(y)); g.stroke();
  }
  g.fillText('step ' + x0, L, H - 8);
  const last = 'step ' + x1;
  g.fillText(last, W - R - g.measureText(last).width, H - 8);
  g.strokeStyle = '#3b7dd8'; g.lineWidth = 1.5; g.beginPath();
  pts.forEach((p, i) => (i ? g.lineTo(X(p[0]), Y(p[1])) : g.moveTo(X(p[0]), Y(p[1]))));
  g.stroke();
  g.fillStyle = '#3b7dd8';
  for (const p of pts) { g.beginPath(); g.arc(X(p[0]), Y(p[1]), 2, 0, 7); g.fill(); }
}

async function pageRun(name) {
  const st = { points: [], total: 0, start: null, startSeconds: 0 };
  const stats = {
    state: el('b', { id: 'run-state', text: '…' }), step: el('b', { id: 'run-step', text: '–' }), loss: el('b', { id: 'run-loss', text: '–' }),
    lr: el('b', { text: '–' }), rate: el('b', { id: 'run-rate', text: '–' }), eta: el('b', { text: '–' }),
  };
  const cacheBar = el('div'), cacheText = el('span', { class: 'muted', id: 'cache-text' });
  const chart = el('canvas', { id: 'loss-chart' });
  const sheets = el('div', { class: 'sheets', id: 'sheets' });
  const cks = el('div', { id: 'checkpoints' });
  const log = el('pre', { class: 'log', id: 'run-log' });
  const msg = el('div', { id: 'run-msg' });
  const lastEvent = el('div', { class: 'muted', id: 'run-event' });
  const btn = (id, text, path, cls) => el('button', { id, class: cls, text, onclick: async () => {
    msg.replaceChildren();
    try { await api('POST', '/api/runs/' + encodeURIComponent(name) + '/' + path); connect(); }
    catch (e) { msg.replaceChildren(notice(e.message, 'error')); }
  } });
  setPage('Training run ' + name,
    el('div', { class: 'row' }, btn('run-start', 'Start', 'start'), btn('run-stop', 'Stop (checkpoint)', 'stop', 'danger'), btn('run-resume', 'Resume from latest checkpoint', 'resume', 'secondary'),
      el('a', { class: 'button secondary', href: '#/config/' + name, text: 'Configuration' })),
    msg,
    el('div', { class: 'card stats' },
      el('div', {}, 'state', stats.state), el('div', {}, 'step', stats.step), el('div', {}, 'loss', stats.loss),
      el('div', {}, 'lr', stats.lr), el('div', {}, 'speed', stats.rate), el('div', {}, 'ETA', stats.eta)),
    el('div', { class: 'card' }, el('div', { class: 'bar' }, cacheBar), cacheText, lastEvent),
    el('h2', { text: 'Loss' }), chart,
    el('h2', { text: 'Validation sheets' }), sheets,
    el('h2', { text: 'Checkpoints' }), cks,
    el('h2', { text: 'Output' }), log);

  async function details() {
    let d;
    try { d = await api('GET', '/api/runs/' + encodeURIComponent(name)); } catch (e) { msg.replaceChildren(notice(e.message, 'error')); return; }
    stats.state.textContent = d.state; stats.state.className = 'state-' + d.state;
    if (d.total && !st.total) st.total = d.total;
    if (d.error) msg.replaceChildren(notice(d.error, 'error'));
    else if (d.job_error) msg.replaceChildren(notice('The run failed: ' + d.job_error, 'error'));
    sheets.replaceChildren(...(d.validation || []).slice().reverse().flatMap(v => v.images.map(u =>
      el('figure', {}, el('img', { src: u + '?t=' + Date.now(), alt: 'validation step ' + v.step }), el('figcaption', { text: 'step ' + v.step })))));
    if (!sheets.children.length) sheets.append(el('p', { class: 'muted', text: 'none yet' }));
    // a LoRA run lists LoRA files; a model_type=full run its exported transformer
    const weights = (label, w, p) => w[p + 'lora']
      ? el('tr', {}, el('td', { text: label }), el('td', {}, el('a', { href: w[p + 'lora'], download: '', text: 'LoRA (safetensors)' })), el('td', { class: 'muted', text: w[p + 'lora_path'] }))
      : el('tr', {}, el('td', { text: label }), el('td', {}, el('a', { href: w[p + 'transformer'], download: '', text: 'transformer (safetensors)' })), el('td', { class: 'muted', text: w[p + 'transformer_path'] }));
    const rows = (d.checkpoints || []).map(c => weights('checkpoint-' + c.step, c, ''));
    if (d.final_lora || d.final_transformer) rows.push(weights('final', d, 'final_'));
    cks.replaceChildren(rows.length ? el('table', {}, rows) : el('p', { class: 'muted', text: 'none yet' }));
    log.textContent = d.log_tail || '';
  }

  function onStep(ev) {
    st.points.push([ev.step, ev.loss]);
    if (ev.total) st.total = ev.total;
    stats.step.textContent = ev.step + (st.total ? ' / ' + st.total : '');
    stats.loss.textContent = fmt(ev.loss);
    if (ev.lr !== undefined) stats.lr.textContent = fmt(ev.lr, 3);
    if (!ev.history && st.start !== null && ev.seconds > 0) {
      const rate = (ev.step - st.start) / ev.seconds;
      stats.rate.textContent = rate >= 1 ? rate.toFixed(2) + ' it/s' : (1 / rate).toFixed(2) + ' s/it';
      stats.eta.textContent = st.total ? duration((st.total - ev.step) / rate) : '–';
    }
    drawChart(chart, st.points);
  }

  function connect() {
    closeStreams();
    const es = new EventSource('/api/runs/' + encodeURIComponent(name) + '/events');
    pageStreams.push(es);
    es.addEventListener('reset', () => { st.points = []; st.start = null; drawChart(chart, st.points); details(); });
    es.addEventListener('step', m => onStep(JSON.parse(m.data)));
    es.addEventListener('train_start', m => {
      const ev = JSON.parse(m.data);
      st.start = ev.step; st.total = ev.total || st.total;
      if (ev.reset_chart) st.points = st.points.filter(p => p[0] <= ev.step);   // a resumed run trains its later steps again
      drawChart(chart, st.points);
      stats.state.textContent = 'running'; stats.state.className = 'state-running';
    });
    es.addEventListener('cache_progress', m => {
      const ev = JSON.parse(m.data);
      cacheBar.style.width = (ev.total ? 100 * ev.done / ev.total : 0) + '%';
      cacheText.textContent = (ev.message || 'caching') + ' ' + ev.done + '/' + ev.total;
    });
    for (const kind of ['info', 'warning', 'cache_done', 'validation_start', 'interrupted', 'failed', 'done'])
      es.addEventListener(kind, m => { const ev = JSON.parse(m.data); lastEvent.textContent = kind + (ev.message ? ': ' + ev.message : '') + (ev.step !== undefined ? ' (step ' + ev.step + ')' : ''); });
    for (const kind of ['validation_image', 'checkpoint', 'done']) es.addEventListener(kind, () => details());
    es.addEventListener('end', m => {
      const ev = JSON.parse(m.data);
      es.close();
      if (ev.state !== 'idle') { stats.state.textContent = ev.state; stats.state.className = 'state-' + ev.state; }
      if (ev.error) msg.replaceChildren(notice('The run ended: ' + ev.error, 'error'));
      details();
    });
  }
  drawChart(chart, st.points);
  connect();
}

// ---- Edit ----

async function pageEdit() {
  const configs = await api('GET', '/api/configs');
  const refs = [];   // {id, url}
  const cfg = el('select', { id: 'edit-config' }, configs.map(c => el('option', { value: c.name, text: c.name + ' (' + (c.model_family || '?') + ' / ' + (c.model_flavour || '?') + ')' })));
  const model = el('input', { type: 'text', id: 'edit-model', placeholder: "the configuration's model (or a folder under the root, or org/name)" });
  const lora = el('select', { id: 'edit-lora' });
  const scale = el('input', { type: 'text', id: 'edit-scale', value: '1' });
  const prompt = el('textarea', { id: 'edit-prompt', placeholder: 'the edit instruction' });
  const negative = el('input', { type: 'text', id: 'edit-negative', placeholder: "default: the configuration's validation_negative_prompt" });
  const guidance = el('input', { type: 'text', id: 'edit-guidance', placeholder: "configuration's" });
  const steps = el('input', { type: 'text', id: 'edit-steps', placeholder: "configuration's" });
  const seed = el('input', { type: 'text', id: 'edit-seed', value: '42' });
  const res = el('input', { type: 'text', id: 'edit-resolution', placeholder: "WxH (empty: the configuration's or the pipeline's)" });
  const preview = el('input', { type: 'checkbox', id: 'edit-preview' });
  const file = el('input', { type: 'file', id: 'edit-file', accept: 'image/png,image/jpeg,image/webp', multiple: true });
  const drop = el('div', { class: 'drop', id: 'edit-drop' }, 'Drop 1–3 reference images here, or ', file);
  const refBox = el('div', { class: 'refs', id: 'edit-refs' });
  const msg = el('div', { id: 'edit-msg' });
  const bar = el('div'), progress = el('span', { class: 'muted', id: 'edit-progress' });
  const result = el('div', { class: 'result', id: 'edit-result' });
  const go = el('button', { id: 'edit-run', text: 'Render' });

  async function loadLoras() {
    lora.replaceChildren(el('option', { value: '', text: 'none (the base model)' }));
    if (!cfg.value) return;
    try {
      const d = await api('GET', '/api/runs/' + encodeURIComponent(cfg.value));
      if (d.final_lora_path) lora.append(el('option', { value: d.final_lora_path, text: 'final: ' + d.final_lora_path }));
      for (const c of (d.checkpoints || []).slice().reverse()) lora.append(el('option', { value: c.lora_path, text: 'checkpoint-' + c.step + ': ' + c.lora_path }));
      if (lora.options.length > 1) lora.selectedIndex = 1;
    } catch (e) { /* a configuration without a usable output_dir: base model only */ }
  }
  cfg.addEventListener('change', loadLoras);

  function renderRefs() {
    refBox.replaceChildren(...refs.map((r, i) => el('figure', {}, el('img', { src: r.url, alt: 'reference ' + (i + 1) }),
      el('button', { class: 'remove', text: '×', title: 'remove', onclick: () => { refs.splice(i, 1); renderRefs(); } }))));
  }
  async function addFiles(files) {
    msg.replaceChildren();
    for (const f of files) {
      if (refs.length >= 3) { msg.replaceChildren(notice('At most 3 references.', 'error')); break; }
      try { const r = await api('POST', '/api/uploads', f, true); refs.push(r); }
      catch (e) { msg.replaceChildren(notice(f.name + ': ' + e.message, 'error')); }
    }
    renderRefs();
  }
  file.addEventListener('change', () => addFiles([...file.files]));
  drop.addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', e => { e.preventDefault(); drop.classList.remove('over'); addFiles([...e.dataTransfer.files]); });

  go.addEventListener('click', async () => {
    msg.replaceChildren(); result.replaceChildren();
    bar.style.width = '0%'; progress.textContent = '';
    const body = { config: cfg.value, model: model.value.trim(), lora: lora.value, lora_scale: scale.value, references: refs.map(r => r.id),
      prompt: prompt.value, negative_prompt: negative.value, guidance: guidance.value, steps: steps.value, seed: seed.value,
      resolution: res.value.trim(), preview: preview.checked };
    let job;
    try { job = await api('POST', '/api/edits', body); }
    catch (e) { msg.replaceChildren(notice(e.message, 'error')); return; }
    go.disabled = true;
    progress.textContent = 'loading the model…';
    closeStreams();
    const es = new EventSource('/api/edits/' + job.id + '/events');
    pageStreams.push(es);
    const previewImg = el('img', { alt: 'preview' });
    es.addEventListener('sampling_step', m => {
      const ev = JSON.parse(m.data);
      bar.style.width = (100 * ev.done / ev.total) + '%';
      progress.textContent = 'sampling step ' + ev.done + ' / ' + ev.total;
    });
    es.addEventListener('preview', m => {
      const ev = JSON.parse(m.data);
      const base = ev.path.split('/').pop();
      previewImg.src = '/api/edits/' + job.id + '/files/' + base + '?t=' + Date.now();
      if (!previewImg.isConnected) result.replaceChildren(el('figure', {}, previewImg, el('figcaption', { text: 'predicted image (preview)' })));
    });
    es.addEventListener('end', async m => {
      es.close();
      go.disabled = false;
      const ev = JSON.parse(m.data);
      if (ev.state !== 'finished') { msg.replaceChildren(notice('The edit failed: ' + (ev.error || 'exit ' + ev.exit_code), 'error')); progress.textContent = ''; return; }
      const d = await api('GET', '/api/edits/' + job.id);
      progress.textContent = 'done';
      result.replaceChildren(
        ...refs.map((r, i) => el('figure', {}, el('img', { src: r.url, alt: 'reference ' + (i + 1) }), el('figcaption', { text: 'reference ' + (i + 1) }))),
        el('figure', {}, el('img', { src: d.result + '?t=' + Date.now(), id: 'edit-result-img', alt: 'result' }),
          el('figcaption', {}, prompt.value + ' · ', el('a', { href: d.result + '?download=1', id: 'edit-download', text: 'download PNG' }))));
    });
  });

  const fld = (label, input) => el('div', { class: 'field' }, el('label', { text: label }), input, el('span'));
  setPage('Edit',
    el('div', { class: 'grid2' },
      el('div', { class: 'card compact' },
        fld('configuration', cfg), fld('model', model), fld('LoRA', lora), fld('LoRA scale', scale),
        fld('instruction', prompt), fld('negative prompt', negative), fld('guidance', guidance), fld('steps', steps),
        fld('seed', seed), fld('resolution', res), fld('preview while sampling', preview)),
      el('div', { class: 'card' }, drop, refBox)),
    el('div', { class: 'row' }, go, progress), el('div', { class: 'bar' }, bar), msg,
    el('h2', { text: 'Result' }), result);
  await loadLoras();
}

// ---- routing ----

const ROUTES = [
  [/^#\/configs$/, pageConfigs, 'configs'],
  [/^#\/config\/([^/]+)$/, pageConfig, 'configs'],
  [/^#\/datasets$/, pageDatasetsIndex, 'datasets'],
  [/^#\/datasets\/([^/]+)$/, pageDatasets, 'datasets'],
  [/^#\/runs$/, pageRuns, 'runs'],
  [/^#\/run\/([^/]+)$/, pageRun, 'runs'],
  [/^#\/edit$/, pageEdit, 'edit'],
];

async function route() {
  closeStreams();
  const h = location.hash || '#/configs';
  for (const [re, page, nav] of ROUTES) {
    const m = h.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.id === 'nav-' + nav);
    try { await page(...m.slice(1).map(decodeURIComponent)); } catch (e) { fail(e); }
    return;
  }
  location.hash = '#/configs';
}

async function heartbeat() {
  try {
    const i = await api('GET', '/api/info');
    $('#busy').textContent = (i.running ? 'training: ' + i.running : '') + (i.editing ? (i.running ? ' · ' : '') + 'rendering an edit' : '');
    $('#footer').textContent = 'root: ' + i.root;
  } catch (e) { /* the server went away; the next beat retries */ }
}

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', () => { route(); heartbeat(); setInterval(heartbeat, 5000); });
