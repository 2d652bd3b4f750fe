/**
 * The demo page's browser script (gateway/demo-page.ts serves it as /v1/demo/app.js; the
 * gateway's CSP allows scripts from its own origin only, so it cannot be inline). Plain ES2020
 * for any current browser, no build step.
 *
 * What it does: reads the deployment's schemas (`GET /v1/deployments/{id}/schema`, with the
 * cookie the login form set; a 401 shows the login form), builds one control per property of
 * the input schema (an image upload for base64 / image fields, a select for an enum, number
 * inputs with min / max, a checkbox, text; a JSON text area for anything else or for a schema
 * without properties), sends `POST /v1/deployments/{id}/predict` and renders the answer: each
 * label with its score (best first), boxes drawn over the uploaded image, the raw JSON, and
 * the problem's fields for a 400. Elements the browser test reads: #label, #labels li,
 * #preview (canvas), #raw, #status (data-state: ready | busy | done | error).
 */
export const DEMO_PAGE_SCRIPT = String.raw`'use strict';
(() => {
  const id = document.body.dataset.deployment;
  const base = '/v1/deployments/' + encodeURIComponent(id);
  const $ = (selector) => document.querySelector(selector);
  const images = {};
  let firstImage = null;

  const status = (text, state) => {
    const el = $('#status');
    el.textContent = text;
    el.dataset.state = state;
  };

  const element = (tag, props, children) => {
    const el = document.createElement(tag);
    Object.assign(el, props || {});
    for (const child of children || []) el.append(child);
    return el;
  };

  const isImage = (name, prop) =>
    prop.type === 'string' &&
    (prop.contentEncoding === 'base64' || prop.format === 'base64' || /^image\//.test(prop.contentMediaType || '') || /image|picture|photo/i.test(name));

  async function start() {
    let res;
    try {
      res = await fetch(base + '/schema', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    } catch (err) {
      status('The gateway cannot be reached: ' + err.message, 'error');
      return;
    }
    if (res.status === 401) {
      $('#login').hidden = false;
      status('Sign in with a gateway token (synapse token create).', 'login');
      return;
    }
    const body = await res.json();
    if (!res.ok) {
      status(body.detail || 'HTTP ' + res.status, 'error');
      if (res.status === 503) setTimeout(start, 1000 * Number(res.headers.get('Retry-After') || 1));
      return;
    }
    $('#about').textContent = body.plugin + ' · ' + body.action;
    build(body.input || {});
    $('#inputs').hidden = false;
    $('#logout').hidden = false;
    status('Ready: fill in the inputs and press Predict.', 'ready');
  }

  function build(input) {
    const fields = $('#fields');
    const props = input.properties || {};
    const required = new Set(input.required || []);
    const names = Object.keys(props);
    if (names.length === 0) {
      const area = element('textarea', { name: '$body', rows: 6, required: true });
      area.dataset.kind = 'json';
      fields.append(element('label', { className: 'field' }, [element('span', { textContent: 'body (JSON)' }), area]));
      return;
    }
    for (const name of names) {
      const prop = props[name] || {};
      const caption = name + (required.has(name) ? ' *' : '') + (prop.description ? ' (' + prop.description + ')' : '');
      let control;
      let kind;
      if (isImage(name, prop)) {
        kind = 'image';
        control = element('input', { type: 'file', accept: 'image/*' });
        control.addEventListener('change', () => readImage(name, control.files[0], control));
      } else if (Array.isArray(prop.enum)) {
        kind = 'enum';
        control = element('select', {}, prop.enum.map((v) => element('option', { value: JSON.stringify(v), textContent: String(v) })));
        if (prop.default !== undefined) control.value = JSON.stringify(prop.default);
      } else if (prop.type === 'number' || prop.type === 'integer') {
        kind = prop.type;
        control = element('input', { type: 'number', step: prop.type === 'integer' ? '1' : 'any' });
        if (typeof prop.minimum === 'number') control.min = String(prop.minimum);
        if (typeof prop.maximum === 'number' && Math.abs(prop.maximum) < 1e15) control.max = String(prop.maximum);
        if (prop.default !== undefined) control.value = String(prop.default);
      } else if (prop.type === 'boolean') {
        kind = 'boolean';
        control = element('input', { type: 'checkbox', checked: prop.default === true });
      } else if (prop.type === 'string') {
        kind = 'string';
        control = element('input', { type: 'text' });
        if (prop.default !== undefined) control.value = String(prop.default);
      } else {
        kind = 'json';
        control = element('textarea', { rows: 3 });
        if (prop.default !== undefined) control.value = JSON.stringify(prop.default);
      }
      control.name = name;
      control.id = 'field-' + name;
      control.dataset.kind = kind;
      if (required.has(name) && kind !== 'boolean') control.required = true;
      fields.append(element('label', { className: 'field' }, [element('span', { textContent: caption }), control]));
    }
  }

  function readImage(name, file, control) {
    delete images[name];
    delete control.dataset.loaded;
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      images[name] = { url, base64: url.slice(url.indexOf(',') + 1) };
      control.dataset.loaded = file.name;
      firstImage = images[name];
      draw([]);
    };
    reader.onerror = () => status('Cannot read ' + file.name, 'error');
    reader.readAsDataURL(file);
  }

  /** The body from the controls; throws with the field's name when one cannot be read. */
  function collect() {
    const body = {};
    for (const control of $('#fields').querySelectorAll('[data-kind]')) {
      const name = control.name;
      const kind = control.dataset.kind;
      if (kind === 'image') {
        if (images[name]) body[name] = images[name].base64;
        else if (control.required) throw new Error(name + ': choose an image');
      } else if (kind === 'boolean') body[name] = control.checked;
      else if (control.value === '') {
        if (control.required) throw new Error(name + ': required');
      } else if (kind === 'number' || kind === 'integer') body[name] = Number(control.value);
      else if (kind === 'enum') body[name] = JSON.parse(control.value);
      else if (kind === 'json') {
        try {
          const value = JSON.parse(control.value);
          if (name === '$body') return value;
          body[name] = value;
        } catch (err) {
          throw new Error((name === '$body' ? 'body' : name) + ': not JSON (' + err.message + ')');
        }
      } else body[name] = control.value;
    }
    return body;
  }

  /** Boxes in the answer: {x, y, width, height} or [x, y, w, h] under boxes / detections / predictions. */
  function boxesOf(value) {
    const list = (value && (value.boxes || value.detections || value.predictions)) || [];
    if (!Array.isArray(list)) return [];
    return list
      .map((b) => {
        const box = Array.isArray(b.box || b.bbox) ? b.box || b.bbox : null;
        const [x, y, w, h] = box || [b.x, b.y, b.width, b.height];
        return { x, y, w, h, label: b.label || b.class_name || '', score: b.score ?? b.confidence };
      })
      .filter((b) => [b.x, b.y, b.w, b.h].every((n) => typeof n === 'number'));
  }

  function draw(boxes) {
    const canvas = $('#preview');
    if (!firstImage) {
      canvas.hidden = true;
      return;
    }
    const img = new Image();
    img.onload = () => {
      const scale = Math.max(1, Math.floor(256 / Math.max(img.width, img.height)));
      canvas.width = img.width * scale;
      canvas.height = img.height * scale;
      const g = canvas.getContext('2d');
      g.imageSmoothingEnabled = false;
      g.drawImage(img, 0, 0, canvas.width, canvas.height);
      g.lineWidth = 2;
      g.font = '12px sans-serif';
      for (const b of boxes) {
        g.strokeStyle = '#e0115f';
        g.strokeRect(b.x * scale, b.y * scale, b.w * scale, b.h * scale);
        const text = b.label + (typeof b.score === 'number' ? ' ' + (b.score * 100).toFixed(1) + '%' : '');
        if (text) {
          g.fillStyle = '#e0115f';
          g.fillRect(b.x * scale, Math.max(0, b.y * scale - 15), g.measureText(text).width + 6, 15);
          g.fillStyle = '#fff';
          g.fillText(text, b.x * scale + 3, Math.max(11, b.y * scale - 3));
        }
      }
      canvas.dataset.boxes = String(boxes.length);
      canvas.hidden = false;
    };
    img.src = firstImage.url;
  }

  function render(value, ms, replica) {
    const labels = $('#labels');
    labels.replaceChildren();
    const scores = value && typeof value.scores === 'object' && value.scores ? Object.entries(value.scores) : [];
    scores.sort((a, b) => b[1] - a[1]);
    for (const [name, score] of scores) {
      const meter = element('meter', { min: 0, max: 1, value: Number(score) });
      labels.append(element('li', {}, [element('span', { className: 'name', textContent: name }), meter, element('span', { className: 'score', textContent: (Number(score) * 100).toFixed(1) + '%' })]));
    }
    const top = value && (value.label ?? (scores[0] && scores[0][0]));
    $('#label').textContent = top === undefined ? '' : String(top);
    const boxes = boxesOf(value);
    draw(boxes);
    $('#raw').textContent = JSON.stringify(value, null, 2);
    $('#result').hidden = false;
    status('Predicted in ' + ms + ' ms by replica ' + replica + (boxes.length ? ', ' + boxes.length + ' box(es)' : '') + '.', 'done');
  }

  $('#inputs').addEventListener('submit', async (event) => {
    event.preventDefault();
    let body;
    try {
      body = collect();
    } catch (err) {
      status(err.message, 'error');
      return;
    }
    const button = $('#predict');
    button.disabled = true;
    status('Predicting…', 'busy');
    const started = performance.now();
    try {
      const res = await fetch(base + '/predict', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
      });
      const answer = await res.json().catch(() => ({}));
      if (res.status === 401) {
        $('#login').hidden = false;
        status('Your sign-in ended: sign in again.', 'error');
      } else if (!res.ok) {
        $('#result').hidden = true; // an earlier answer is not this input's
        const fields = (answer.errors || []).map((e) => (e.path ? e.path + ': ' : '') + e.message).join('; ');
        status((answer.detail || 'HTTP ' + res.status) + (fields ? ' (' + fields + ')' : ''), 'error');
      } else render(answer, Math.round(performance.now() - started), res.headers.get('X-Synapse-Replica'));
    } catch (err) {
      status('The request failed: ' + err.message, 'error');
    } finally {
      button.disabled = false;
    }
  });

  void start();
})();
`;
