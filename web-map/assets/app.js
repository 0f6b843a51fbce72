// The page's entry point: wires the map, the frame viewer, search and the dashboard, and
// restores the view from the URL hash (#map=zoom/lat/lon&frame=…&after=…&before=…).

import { getJson, hashParams, notify, clearNotice, loadMetering } from '/assets/api.js';
import { createMap, setLayerVisible, setTimeFilter, select } from '/assets/map.js';
import { Viewer } from '/assets/viewer.js';
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
      viewer.show(hit.frame);
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
      const hits = map.queryRenderedFeatures(event.point, { layers: ['frames', 'frames-heading', 'signs'] });
      const frame = hits.find((f) => f.layer.id !== 'signs');
      if (frame) {
        viewer.show(frame.properties.id);
        return;
      }
      const sign = hits.find((f) => f.layer.id === 'signs');
      if (sign) showSign(sign, viewer);
    });
  }
  const frame = params.get('frame');
  if (frame) await viewer.show(frame);
  waymark.ready = true;
  document.body.dataset.ready = 'true';
}

/** A sign on the map: find the frame it was seen on and open it. */
async function showSign(feature, viewer) {
  const [lon, lat] = feature.geometry.coordinates;
  const query = new URLSearchParams({ kind: 'sign', near: `${lat},${lon}`, limit: '20' });
  if (feature.properties.class) query.set('q', feature.properties.class);
  try {
    const answer = await getJson(`/api/v1/search?${query}`);
    const nearest = answer.results?.sort((a, b) => Math.hypot(a.lat - lat, a.lon - lon) - Math.hypot(b.lat - lat, b.lon - lon))[0];
    if (nearest) viewer.show(nearest.frame);
    else notify('The frame of this sign cannot be found any more.');
  } catch (err) {
    notify(`The sign's frame cannot be loaded: ${err.message}`, { error: true });
  }
}

main().catch((err) => {
  console.warn('start-up failed:', err);
  notify(`The page could not start: ${err.message}`, { error: true });
});
