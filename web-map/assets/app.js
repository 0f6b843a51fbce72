// The page's entry point: wires the map, the frame viewer, search and the dashboard, and
// restores the view from the URL hash (#map=zoom/lat/lon&frame=…&after=…&before=…).

import { getJson, hashParams, notify, clearNotice, loadMetering, h, formatTime } from '/assets/api.js';
import { createMap, setLayerVisible, setTimeFilter, select } from '/assets/map.js';
import { Viewer, readable } from '/assets/viewer.js';
import { Search } from '/assets/search.js';
import { Dashboard } from '/assets/dashboard.js';

const DAY_MS = 86_400_000;

window.addEventListener('unhandledrejection', (event) => {
  console.warn('unhandled:', event.reason);
  notify(`Something went wrong: ${event.reason?.message ?? event.reason}`, { error: true });
  event.preventDefault();
});

/** The date inputs as [after, before] in ms (the whole of each day, UTC), null when empty. */
function timeRange() {
  const after = document.getElementById('after').valueAsNumber;
  const before = document.getElementById('before').valueAsNumber;
  return [Number.isNaN(after) ? null : after, Number.isNaN(before) ? null : before + DAY_MS - 1];
}

async function main() {
  const waymark = { map: null, ready: false };
  window.waymark = waymark;
  let map = null;
  const viewer = new Viewer({
    onShow: (frame) => {
      if (!map) return;
      select(map, [frame.lon, frame.lat]);
      map.easeTo({ center: [frame.lon, frame.lat], zoom: Math.max(map.getZoom(), 16), duration: 600 });
    },
    onClose: () => map && select(map, null),
  });
  waymark.viewer = viewer;
  const dashboard = new Dashboard({ onFrame: (id) => viewer.show(id) });
  const search = new Search({
    range: () => {
      const after = document.getElementById('after').value;
      const before = document.getElementById('before').value;
      return { after: after || null, before: before || null };
    },
    onPick: (hit) => {
      map?.flyTo({ center: [hit.lon, hit.lat], zoom: 17 });
      if (hit.feature) showFeature(hit.feature.id, viewer);
      else viewer.show(hit.frame);
    },
  });
  waymark.search = search;

  document.getElementById('notice-close').addEventListener('click', clearNotice);
  for (const button of document.querySelectorAll('[data-close]')) {
    button.addEventListener('click', () => {
      if (button.dataset.close === 'viewer') viewer.close();
      else document.getElementById(button.dataset.close).hidden = true;
    });
  }
  document.getElementById('dashboard-open').addEventListener('click', () => dashboard.open());

  // On a phone the map comes first: the layer panel starts folded.
  if (window.matchMedia('(max-width: 640px)').matches) document.querySelector('#controls details').open = false;
  const params = hashParams();
  document.getElementById('after').value = params.get('after') ?? '';
  document.getElementById('before').value = params.get('before') ?? '';

  await loadMetering();
  map = await createMap(document.getElementById('map'));
  waymark.map = map;
  if (map) {
    for (const box of document.querySelectorAll('[data-layer]')) {
      box.addEventListener('change', () => setLayerVisible(map, box.dataset.layer, box.checked));
    }
    const applyTime = () => {
      const [after, before] = timeRange();
      if (after !== null && before !== null && after > before) {
        notify('The "after" day is later than the "before" day: nothing can match.');
      }
      setTimeFilter(map, after, before);
    };
    for (const id of ['after', 'before']) document.getElementById(id).addEventListener('change', applyTime);
    document.getElementById('time-clear').addEventListener('click', () => {
      document.getElementById('after').value = '';
      document.getElementById('before').value = '';
      applyTime();
    });
    if (params.has('after') || params.has('before')) applyTime();
    map.on('click', (event) => {
      const hits = map.queryRenderedFeatures(event.point, { layers: ['frames', 'frames-heading', 'features'] });
      const frame = hits.find((f) => f.layer.id !== 'features');
      if (frame) {
        viewer.show(frame.properties.id);
        return;
      }
      const feature = hits.find((f) => f.layer.id === 'features');
      if (feature) showFeature(feature.properties.id, viewer);
    });
  }
  const frame = params.get('frame');
  if (frame) await viewer.show(frame);
  waymark.ready = true;
  document.body.dataset.ready = 'true';
}

/** A map feature: what it is, where (± how far), when it was seen, and every photo of it. */
async function showFeature(id, viewer) {
  const panel = document.getElementById('feature');
  const body = document.getElementById('feature-body');
  let feature;
  try {
    feature = await getJson(`/api/v1/features/${encodeURIComponent(id)}`);
  } catch (err) {
    notify(`The map feature cannot be loaded: ${err.message}`, { error: true });
    return;
  }
  const p = feature.properties;
  const [lon, lat] = feature.geometry.coordinates;
  document.getElementById('feature-title').textContent = `${readable(p.class)} (${p.status})`;
  const photos = p.observations_list.slice(-24).reverse();
  body.replaceChildren(
    h('dl', {},
      h('dt', {}, 'Position'), h('dd', {}, `${lat.toFixed(6)}, ${lon.toFixed(6)} ± ${p.uncertainty_m} m (${p.method.replace('_', ' ')})`),
      h('dt', {}, 'First seen'), h('dd', {}, formatTime(p.first_seen)),
      h('dt', {}, 'Last seen'), h('dd', {}, formatTime(p.last_seen)),
      h('dt', {}, 'Seen in'), h('dd', {}, `${p.observations} frame${p.observations === 1 ? '' : 's'}; missed by ${p.misses} pass${p.misses === 1 ? '' : 'es'} since`),
    ),
    h('ol', { class: 'feature-photos' },
      ...photos.map((o) => h('li', {},
        h('button', { type: 'button', class: 'link', 'data-frame': o.frame, onclick: () => viewer.show(o.frame) },
          h('img', { src: o.thumbnail, alt: `Frame of ${formatTime(o.captured_at)}`, loading: 'lazy', width: '160' })),
      )),
    ),
  );
  panel.hidden = false;
}

main().catch((err) => {
  console.warn('start-up failed:', err);
  notify(`The page could not start: ${err.message}`, { error: true });
});
