// The coverage map: MapLibre GL JS (served from npm by waymark, never a CDN) over the tiles
// crate's /style.json, plus what the page adds — frame headings, the selected frame, layer
// toggles and the captured-after/before filter. With metering on, tiles above the free zoom
// carry the browser's API key; without a key the map overzooms the free tiles.
//
// The road base map (OpenStreetMap roads, `waymark tiles basemap`) comes with /style.json
// when the server has one: its layers sit just above the background, under the coverage.

import {
  getJson, notify, hashParams, setHashParams, meteringInfo, consumerKey, withKey,
} from '/assets/api.js';

const MAPLIBRE = '/assets/maplibre/maplibre-gl.mjs';
/** Layers of the tiles' style, and the page's own layers that belong to each toggle. */
const TOGGLES = {
  coverage: ['coverage'],
  sequences: ['sequences'],
  frames: ['frames', 'frames-heading'],
  features: ['features'],
};
/** Layers whose features carry `captured_at` (ms); coverage carries `last_seen` (day); map
 * features are objects in the world, not captures: the time filter leaves them. */
const TIMED = ['sequences', 'frames', 'frames-heading'];
const DAY_MS = 86_400_000;

/** Loads MapLibre and the style and draws the map; null (with a message shown) if it cannot. */
export async function createMap(container) {
  let maplibregl;
  try {
    maplibregl = await import(MAPLIBRE);
  } catch (err) {
    notify('The map library (MapLibre GL JS) is not installed on this server: run scripts/setup (npm ci in web-map/) and restart waymark. Search and the dashboard still work.', { error: true });
    return null;
  }
  let style;
  try {
    style = await getJson('/style.json');
  } catch (err) {
    notify(`The map style cannot be loaded: ${err.message}. Is waymark running?`, { error: true });
    return null;
  }
  await meterTiles(style);
  const options = {
    container,
    style,
    // With metering on, tiles above the free zoom carry the browser's API key.
    transformRequest: (url, kind) => (kind === 'Tile' && new URL(url, window.location.origin).pathname.startsWith('/tiles/')
      ? { url: withKey(url) }
      : { url }),
    hash: 'map',
    attributionControl: { compact: true, customAttribution: 'Waymark contributors' },
    maxZoom: 19,
  };
  // Without a view in the link, start where the tiles are (the style centres on them).
  if (!hashParams().has('map') && style.center) Object.assign(options, { center: style.center, zoom: style.zoom });
  let map;
  try {
    map = new maplibregl.Map(options);
  } catch (err) {
    notify(`This browser cannot draw the map (${err.message}); WebGL is needed. Search and the dashboard still work.`, { error: true });
    return null;
  }
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: false }), 'bottom-right');
  map.addControl(new maplibregl.ScaleControl(), 'bottom-left');
  map.on('error', (event) => {
    const message = event?.error?.message || 'unknown error';
    console.warn('map:', message);
    notify(`Part of the map could not be loaded (${message}); it will retry as you move.`);
  });
  await new Promise((resolve) => map.once('load', resolve));
  addPageLayers(map);
  return map;
}

/** With metering on and no API key, the coverage source stops at the free zoom, so MapLibre
 * draws deeper zooms from the free tiles instead of asking for tiles that need a key. */
async function meterTiles(style) {
  const metering = meteringInfo();
  const source = style.sources?.waymark;
  if (!metering.enabled || consumerKey() || !source?.url) return;
  try {
    const tilejson = await getJson(new URL(source.url, window.location.origin).pathname);
    style.sources.waymark = {
      type: 'vector',
      tiles: tilejson.tiles,
      bounds: tilejson.bounds,
      minzoom: tilejson.minzoom ?? 0,
      maxzoom: Math.min(tilejson.maxzoom ?? 22, metering.free_max_zoom),
      attribution: tilejson.attribution,
    };
  } catch (err) {
    console.warn('tiles.json:', err.message);
  }
}

/** A view cone pointing up (north), drawn once and rotated per frame by its heading. */
function headingImage() {
  const size = 48;
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const context = canvas.getContext('2d');
  const c = size / 2;
  context.fillStyle = 'rgba(13, 71, 161, 0.35)';
  context.strokeStyle = 'rgba(13, 71, 161, 0.9)';
  context.lineWidth = 2;
  context.beginPath();
  context.moveTo(c, c);
  context.arc(c, c, c - 2, -Math.PI / 2 - 0.6, -Math.PI / 2 + 0.6);
  context.closePath();
  context.fill();
  context.stroke();
  return context.getImageData(0, 0, size, size);
}

function addPageLayers(map) {
  map.addImage('heading-cone', headingImage());
  map.addLayer({
    id: 'frames-heading', type: 'symbol', source: 'waymark', 'source-layer': 'frames',
    filter: ['has', 'heading'],
    layout: {
      'icon-image': 'heading-cone', 'icon-rotate': ['get', 'heading'], 'icon-rotation-alignment': 'map',
      'icon-allow-overlap': true, 'icon-ignore-placement': true,
      'icon-size': ['interpolate', ['linear'], ['zoom'], 14, 0.5, 18, 1],
    },
  }, 'frames');
  map.setPaintProperty('frames', 'circle-radius', ['interpolate', ['linear'], ['zoom'], 14, 3.5, 18, 7]);
  map.addSource('selected', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({
    id: 'selected', type: 'circle', source: 'selected',
    paint: { 'circle-radius': 11, 'circle-color': 'rgba(255, 214, 0, 0.35)', 'circle-stroke-color': '#ff6f00', 'circle-stroke-width': 3 },
  });
  for (const layer of ['frames', 'frames-heading', 'features']) {
    map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
  }
}

/** Shows or hides one toggle's layers. */
export function setLayerVisible(map, toggle, visible) {
  for (const layer of TOGGLES[toggle] ?? []) {
    if (map.getLayer(layer)) map.setLayoutProperty(layer, 'visibility', visible ? 'visible' : 'none');
  }
}

/** Keeps only what was captured within [after, before] (ms, either may be null). */
export function setTimeFilter(map, after, before) {
  const within = (value, scale) => {
    const parts = [];
    if (after !== null) parts.push(['>=', value, scale(after)]);
    if (before !== null) parts.push(['<=', value, scale(before)]);
    return parts;
  };
  const ms = (t) => t;
  const day = (t) => Math.floor(t / DAY_MS);
  for (const layer of TIMED) {
    const parts = within(['get', 'captured_at'], ms);
    if (layer === 'frames-heading') parts.unshift(['has', 'heading']);
    map.setFilter(layer, parts.length ? ['all', ...parts] : (layer === 'frames-heading' ? ['has', 'heading'] : null));
  }
  const coverage = within(['get', 'last_seen'], day);
  map.setFilter('coverage', coverage.length ? ['all', ...coverage] : null);
  setHashParams({
    after: after === null ? null : new Date(after).toISOString().slice(0, 10),
    before: before === null ? null : new Date(before).toISOString().slice(0, 10),
  });
}

/** Marks a frame on the map (or clears the mark). */
export function select(map, position) {
  const source = map.getSource('selected');
  if (!source) return;
  source.setData({
    type: 'FeatureCollection',
    features: position ? [{ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: position } }] : [],
  });
}
