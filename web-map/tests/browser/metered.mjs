// The web map with metering on, as a map consumer uses it, in Debian's headless Chromium:
// anonymous, the map overzooms the free tiles (never a 401 for a tile), the viewer shows the
// free thumbnail and search says a key is needed; signed in, the dashboard creates an API key
// and the page uses it for deeper tiles, full-resolution frames and search; then it shows the
// credits spent per day and per area, and revoking the key takes it off the page.
//
//   node metered.mjs <base-url> <screenshot-dir> <facts.json>
//
// facts.json: {token, frame: {id, lat, lon}, credits, free_max_zoom}. Prints one JSON verdict.

import { readFileSync } from 'node:fs';
import {
  Run, TIMEOUT, launch, mapIdle, renderedCount, waitForViewer, noticeText,
} from './browser.mjs';

const [base, outDir, factsPath] = process.argv.slice(2);
if (!base || !outDir || !factsPath) {
  console.error('usage: node metered.mjs <base-url> <screenshot-dir> <facts.json>');
  process.exit(2);
}
const facts = JSON.parse(readFileSync(factsPath, 'utf8'));
const run = new Run(outDir);
const { frame } = facts;

/** The z of a tile URL, or null. */
function tileZoom(url) {
  const match = new URL(url).pathname.match(/^\/tiles\/(\d+)\/\d+\/\d+\.mvt$/);
  return match ? Number(match[1]) : null;
}

const browser = await launch();
let failure = null;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  run.watch(page);
  const tiles = [];
  page.on('response', (response) => {
    const z = tileZoom(response.url());
    if (z !== null) tiles.push({ z, status: response.status(), keyed: new URL(response.url()).searchParams.has('key') });
  });

  // 1. Anonymous at street level: only free tiles are asked for, and the map still draws.
  await page.goto(`${base}/#map=15.5/${frame.lat}/${frame.lon}`);
  await mapIdle(page);
  const sequences = await renderedCount(page, 'sequences');
  const anonymous = tiles.splice(0);
  await run.shot(page, 'm01-anonymous-overzoom');
  run.record('anonymous, the map overzooms the free tiles and asks for none that needs a key',
    sequences > 0 && anonymous.length > 0 && anonymous.every((t) => t.z <= facts.free_max_zoom && t.status === 200),
    { sequences, tiles: anonymous });

  // 2. The viewer shows the free thumbnail and says what full resolution needs.
  await page.evaluate((id) => window.waymark.viewer.show(id), frame.id);
  const thumb = await waitForViewer(page, frame.id);
  const caption = await page.textContent('#viewer-caption');
  run.record('anonymous, the viewer shows the free thumbnail',
    thumb.src.endsWith(`/api/v1/frames/${frame.id}/thumbnail.jpg`) && caption.includes('API key'), { ...thumb, caption });
  await page.keyboard.press('Escape');

  // 3. Search needs a key: the page says so.
  run.expectingFailures = true;
  await page.fill('#search-input', `${frame.lat},${frame.lon}`);
  await page.press('#search-input', 'Enter');
  const refused = await noticeText(page);
  await run.shot(page, 'm02-search-needs-key');
  run.record('anonymous, search says an API key is needed', refused.includes('API key'), { text: refused });
  await page.click('#notice-close');
  run.expectingFailures = false;

  // 4. Signed in: the terms and the balance; a new key, used on this map.
  await page.click('#dashboard-open');
  await page.fill('#token', facts.token);
  await page.press('#token', 'Enter');
  await page.waitForFunction((credits) => document.getElementById('balance').textContent === String(credits),
    facts.credits, { timeout: TIMEOUT });
  const terms = await page.textContent('#metering-terms');
  run.record('the dashboard shows the terms and the balance', terms.includes(`zoom ${facts.free_max_zoom}`), { terms });
  await page.fill('#key-name', 'browser');
  await page.click('#key-form button');
  await page.waitForSelector('#new-key-text', { timeout: TIMEOUT });
  const key = await page.inputValue('#new-key-text');
  // The key is shown as soon as it is made; the list is reloaded after: wait for it.
  await page.waitForSelector('#keys li[data-revoked="false"]', { timeout: TIMEOUT }).catch(() => {});
  const listed = await page.locator('#keys li[data-revoked="false"]').count();
  await run.shot(page, 'm03-new-key');
  run.record('a new key is shown once and listed', key.startsWith('wmk_') && listed === 1, { listed });
  // The button reloads the page: wait for a page without the marker set on this one (a
  // load event may come and go before a listener is attached).
  await page.evaluate(() => { window.beforeReload = true; });
  await page.click('#new-key button');
  await page.waitForFunction(() => !window.beforeReload && window.waymark?.ready === true, null, { timeout: TIMEOUT });
  await mapIdle(page);

  // 5. With the key: deeper tiles, the full-resolution frame and search.
  const frames = await renderedCount(page, 'frames');
  const keyedTiles = tiles.splice(0);
  const deep = keyedTiles.filter((t) => t.z > facts.free_max_zoom);
  await run.shot(page, 'm04-keyed-map');
  run.record('with the key the map asks for deeper tiles, with the key, and draws frames',
    frames > 0 && deep.length > 0 && deep.every((t) => t.keyed && t.status === 200), { frames, tiles: keyedTiles });
  await page.evaluate((id) => window.waymark.viewer.show(id), frame.id);
  const full = await waitForViewer(page, frame.id);
  run.record('with the key the viewer shows full resolution',
    full.src.includes(`/api/v1/frames/${frame.id}/image.jpg?key=wmk_`) && full.width > 400, full);
  await page.keyboard.press('Escape');
  await page.fill('#search-input', `${frame.lat},${frame.lon}`);
  await page.press('#search-input', 'Enter');
  await page.waitForSelector(`#results-list button[data-frame="${frame.id}"]`, { timeout: TIMEOUT });
  run.record('with the key search finds the frame', true, {});
  await page.click('[data-close="results"]');

  // 6. The spend, per day and per area, once the server has written it (every second here).
  await page.waitForTimeout(1_500);
  await page.click('#dashboard-open');
  await page.waitForSelector('#spend-by-day tbody tr[data-kind="imagery"]', { timeout: TIMEOUT });
  const spend = await page.evaluate(() => ({
    balance: Number(document.getElementById('balance').textContent),
    byDay: [...document.querySelectorAll('#spend-by-day tbody tr[data-day]')].map((tr) => ({
      kind: tr.dataset.kind, credits: Number(tr.querySelector('.credits').textContent),
    })),
    areas: [...document.querySelectorAll('#spend-by-area tbody tr[data-cell]')].map((tr) => tr.dataset.cell),
  }));
  const spent = spend.byDay.reduce((sum, d) => sum + d.credits, 0);
  await run.shot(page, 'm05-spend');
  run.record('the dashboard shows the credits spent per day and per area',
    ['tiles', 'imagery', 'search'].every((kind) => spend.byDay.some((d) => d.kind === kind && d.credits > 0))
      && spend.areas.length > 0 && spend.balance === facts.credits - spent,
    { ...spend, spent });

  // 7. Revoking the key takes it off this page.
  await page.click('#keys li[data-revoked="false"] button');
  await page.waitForSelector('#keys li[data-revoked="true"]', { timeout: TIMEOUT });
  const stored = await page.evaluate(() => window.localStorage.getItem('waymark-key'));
  run.record('a revoked key is listed as revoked and no longer used by the page', stored === null, { stored });

  run.record('no console errors', run.verdict.console_errors.length === 0, run.verdict.console_errors);
} catch (err) {
  failure = err;
} finally {
  await browser.close();
  run.finish(failure);
}
