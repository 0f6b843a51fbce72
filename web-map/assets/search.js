// The search box: one field understood as a place (`lat,lon` or an H3 cell), a contributor
// (their UUID) or words (a sign class such as "stop"), plus the map's date range; results
// in a list, a click flies there and opens the frame (a map feature: its panel).

import { getJson, formatTime, h, notify, clearNotice } from '/assets/api.js';
import { readable } from '/assets/viewer.js';

const LAT_LON = /^\s*(-?\d+(?:\.\d+)?)\s*[,;\s]\s*(-?\d+(?:\.\d+)?)\s*$/;
const H3_CELL = /^\s*8[0-9a-f]{14}\s*$/i;
const UUID = /^\s*[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\s*$/i;

/** The query string for what was typed, or null when there is nothing to search for. */
export function searchParams(text, { after = null, before = null } = {}) {
  const params = new URLSearchParams();
  const trimmed = text.trim();
  const position = trimmed.match(LAT_LON);
  if (position) params.set('near', `${position[1]},${position[2]}`);
  else if (H3_CELL.test(trimmed)) params.set('cell', trimmed.toLowerCase());
  else if (UUID.test(trimmed)) params.set('contributor', trimmed.toLowerCase());
  else if (trimmed) params.set('q', trimmed);
  if (after) params.set('after', after);
  if (before) params.set('before', before);
  return params.toString() ? params : null;
}

/** What a hit is: a frame, a sign in a frame, or a map feature with its status. */
export function describe(hit) {
  if (hit.kind === 'feature') return `${readable(hit.sign_class)} · map feature (${hit.feature.status})`;
  if (hit.kind === 'sign') return `${readable(hit.sign_class)} sign`;
  return 'Frame';
}

export class Search {
  /** `range()` gives the map's date range; `onPick(hit)` flies there and opens the frame or feature. */
  constructor({ range, onPick }) {
    this.form = document.getElementById('search');
    this.input = document.getElementById('search-input');
    this.panel = document.getElementById('results');
    this.list = document.getElementById('results-list');
    this.title = document.getElementById('results-title');
    this.range = range;
    this.onPick = onPick;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.run(this.input.value);
    });
  }

  async run(text) {
    const params = searchParams(text, this.range());
    if (!params) {
      notify('Type something to search for: a sign such as "stop", a place as "48.137,11.575" or an H3 cell, or a contributor id.');
      this.input.focus();
      return;
    }
    let answer;
    try {
      answer = await getJson(`/api/v1/search?${params}`);
    } catch (err) {
      notify(`Search failed: ${err.message}`, { error: true });
      return;
    }
    clearNotice();
    this.show(text.trim(), answer.results);
  }

  show(text, results) {
    this.title.textContent = results.length
      ? `${results.length} result${results.length === 1 ? '' : 's'}${text ? ` for “${text}”` : ''}`
      : 'No results';
    this.list.replaceChildren(...(results.length ? results.map((hit) => h('li', {},
      h('button', { type: 'button', dataset: { frame: hit.frame }, onclick: () => this.onPick(hit) },
        h('img', { src: `/api/v1/frames/${hit.frame}/thumbnail.jpg`, alt: '', loading: 'lazy' }),
        h('span', {},
          h('span', { class: 'what' }, describe(hit)),
          h('br'),
          h('span', { class: 'when' }, `${formatTime(hit.captured_at)} · ${hit.lat.toFixed(5)}, ${hit.lon.toFixed(5)}`))),
    )) : [h('li', { class: 'empty' }, `Nothing found${text ? ` for “${text}”` : ''}. Try a sign class such as "stop", or a place as lat,lon.`)]));
    this.panel.hidden = false;
  }
}
