// Drives Debian's headless Chromium over the web map of a running `waymark serve` and prints
// one JSON verdict on stdout: {ok, steps: [{name, ok, detail}], console_errors, screenshots}.
//
//   node check.mjs <base-url> <screenshot-dir> <facts.json>
//
// facts.json says what the server holds: {token, name, frame: {id, lat, lon}, search: {text,
// frame}, rewards: {epoch, root, amount}}. Any console error or uncaught exception fails the
// run, except the "Failed to load resource" lines of the requests the bad-input step makes on
// purpose.

import { readFileSync } from 'node:fs';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import {
  Run, TIMEOUT, launch, mapIdle, renderedCount, jumpTo, waitForViewer, noticeText,
} from './browser.mjs';

const [base, outDir, factsPath] = process.argv.slice(2);
if (!base || !outDir || !factsPath) {
  console.error('usage: node check.mjs <base-url> <screenshot-dir> <facts.json>');
  process.exit(2);
}
const facts = JSON.parse(readFileSync(factsPath, 'utf8'));
const run = new Run(outDir);
const record = (...args) => run.record(...args);
const shot = (...args) => run.shot(...args);

const browser = await launch();
let failure = null;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, permissions: ['clipboard-read', 'clipboard-write'] });
  const page = await context.newPage();
  run.watch(page);

  const { frame } = facts;
  // 1. The map renders coverage (zoom 11: coverage is drawn up to z11).
  await page.goto(`${base}/#map=11/${frame.lat}/${frame.lon}`);
  await mapIdle(page);
  const coverage = await renderedCount(page, 'coverage');
  const notice = await page.isVisible('#notice');
  await shot(page, '01-coverage');
  record('map renders coverage', coverage > 0, { coverage });
  record('no message over a healthy map', !notice, { notice: await page.textContent('#notice') });

  // 2. At street level: frames with headings, sequences.
  await jumpTo(page, 17.5, frame.lat, frame.lon);
  const frames = await renderedCount(page, 'frames');
  const sequences = await renderedCount(page, 'sequences');
  await shot(page, '02-frames');
  record('map renders frames and sequences', frames > 0 && sequences > 0, { frames, sequences });

  // 3. A click on the frame opens the viewer with its image.
  const point = await page.evaluate(([lon, lat]) => {
    const map = window.waymark.map;
    const p = map.project([lon, lat]);
    const box = map.getCanvas().getBoundingClientRect();
    const under = map.queryRenderedFeatures(p, { layers: ['frames'] }).map((f) => f.properties.id);
    return { x: box.left + p.x, y: box.top + p.y, under };
  }, [frame.lon, frame.lat]);
  await page.mouse.click(point.x, point.y);
  const opened = await waitForViewer(page, frame.id);
  await mapIdle(page);
  await shot(page, '03-viewer');
  record('a frame click opens the viewer with its image', opened.src === `/api/v1/frames/${frame.id}/image.jpg` && opened.loaded, { ...opened, under: point.under });

  // Keyboard: → goes to the next frame of the sequence and the map follows; Esc closes.
  const next = await page.evaluate(() => window.waymark.viewer.frame.sequence.next);
  if (next) {
    await page.keyboard.press('ArrowRight');
    const stepped = await waitForViewer(page, next);
    await mapIdle(page);
    const center = await page.evaluate(() => window.waymark.map.getCenter().toArray());
    const followed = await page.evaluate(() => {
      const f = window.waymark.viewer.frame;
      const c = window.waymark.map.getCenter();
      return Math.abs(c.lng - f.lon) < 1e-4 && Math.abs(c.lat - f.lat) < 1e-4;
    });
    await shot(page, '04-viewer-next');
    record('→ shows the next frame and the map follows', stepped.id === next && followed, { next, center });
    await page.keyboard.press('ArrowLeft');
    await waitForViewer(page, frame.id);
  }
  const hash = await page.evaluate(() => window.location.hash);
  record('the permalink names the frame', hash.includes(`frame=${frame.id}`), { hash });
  await page.keyboard.press('Escape');
  await page.waitForSelector('#viewer', { state: 'hidden', timeout: TIMEOUT });

  // 5. Search finds the known item; picking it flies there and opens it.
  await page.fill('#search-input', facts.search.text);
  await page.press('#search-input', 'Enter');
  const result = `#results-list button[data-frame="${facts.search.frame}"]`;
  await page.waitForSelector(result, { timeout: TIMEOUT });
  const resultCount = await page.locator('#results-list button').count();
  await shot(page, '05-search');
  await page.click(result);
  const picked = await waitForViewer(page, facts.search.frame);
  await mapIdle(page);
  await shot(page, '06-search-picked');
  record('search finds the known item and opens it', picked.id === facts.search.frame, { text: facts.search.text, results: resultCount });
  await page.keyboard.press('Escape');

  // 6. The dashboard shows the contributor's devices, captures and frame outcomes.
  await page.click('#dashboard-open');
  await page.fill('#token', facts.token);
  await page.press('#token', 'Enter');
  // Only the newest capture starts unfolded: unfold the one holding the frame, as a user would.
  const outcome = `[data-frame="${frame.id}"][data-status="accepted"]`;
  const frameOutcome = `#captures ${outcome}`;
  await page.waitForSelector(frameOutcome, { state: 'attached', timeout: TIMEOUT });
  if (!(await page.isVisible(frameOutcome))) {
    await page.click(`#captures details:has(${outcome}) > summary`);
  }
  await page.waitForSelector(frameOutcome, { timeout: TIMEOUT });
  const dashboard = await page.evaluate(() => ({
    name: document.getElementById('account-name').textContent,
    devices: document.querySelectorAll('#devices li').length,
    frames: document.querySelectorAll('#captures [data-frame]').length,
    rewards: document.querySelector('#rewards tbody').textContent.trim(),
    coverage: [...document.querySelectorAll('#coverage li[data-epoch]')].map((li) => Number(li.dataset.cells)),
    leaders: [...document.querySelectorAll('#leaderboard li')].map((li) => li.textContent),
    trust: { ppm: document.getElementById('trust').dataset.ppm, text: document.getElementById('trust').textContent },
  }));
  await shot(page, '07-dashboard');
  record('the dashboard shows the account\'s trust: full, with no fraud finding',
    dashboard.trust.ppm === '1000000' && dashboard.trust.text.includes('Trust 100 %'), dashboard.trust);
  record('the dashboard shows the contributor\'s frames', dashboard.devices > 0 && dashboard.frames > 0 && dashboard.rewards.length > 0, dashboard);
  record('the dashboard lists the cells the contributor mapped first, by epoch', dashboard.coverage.length > 0 && dashboard.coverage.every((n) => n > 0), dashboard.coverage);
  record('the leaderboard ranks the contributor by fresh coverage', dashboard.leaders.some((l) => l.startsWith(facts.name)), dashboard.leaders);

  // The closed epoch's reward, and its Merkle proof: copied, then checked with OpenZeppelin's
  // StandardMerkleTree against the root the server published.
  const rewardRow = `#rewards tbody tr[data-epoch="${facts.rewards.epoch}"]`;
  await page.waitForSelector(rewardRow, { timeout: TIMEOUT });
  const shownAmount = (await page.locator(`${rewardRow} td.amount`).textContent()).trim();
  await page.click(`${rewardRow} button`);
  await page.waitForFunction((row) => {
    const cell = document.querySelector(`${row} td:last-child`);
    return cell && (cell.querySelector('textarea') || cell.textContent.includes('copied'));
  }, rewardRow, { timeout: TIMEOUT });
  const copied = await page.evaluate(async (row) => {
    const area = document.querySelector(`${row} textarea`);
    return area ? area.value : navigator.clipboard.readText();
  }, rewardRow);
  await shot(page, '07b-proof-copied');
  const proof = JSON.parse(copied);
  const verifies = Boolean(proof.address) && StandardMerkleTree.verify(
    facts.rewards.root, ['address', 'uint256'], [proof.address, proof.claim_amount], proof.proof);
  record('the dashboard shows the rewards and copies a proof that verifies',
    shownAmount === facts.rewards.amount && proof.merkle_root === facts.rewards.root && verifies,
    { epoch: facts.rewards.epoch, shownAmount, root: proof.merkle_root, siblings: proof.proof.length, verifies });
  await page.click('#signout');
  await page.click('[data-close="dashboard"]');

  // 7. Bad input: a visible message, never a blank page or an exception.
  run.expectingFailures = true;
  const unknown = '0'.repeat(64);
  await page.evaluate((id) => window.waymark.viewer.show(id), unknown);
  const unknownText = await noticeText(page);
  await shot(page, '08-unknown-frame');
  record('an unknown frame is a message', unknownText.includes('cannot be shown'), { text: unknownText });
  await page.click('#notice-close');
  await page.fill('#search-input', '   ');
  await page.press('#search-input', 'Enter');
  const emptyText = await noticeText(page);
  record('an empty search is a message', emptyText.includes('Type something'), { text: emptyText });
  await page.click('#notice-close');
  await page.click('#dashboard-open');
  await page.fill('#token', 'wm_not-a-real-token');
  await page.press('#token', 'Enter');
  const tokenText = await noticeText(page);
  await shot(page, '09-bad-token');
  record('a wrong token is a message', tokenText.includes('Sign-in failed'), { text: tokenText });
  await page.click('[data-close="dashboard"]');
  await page.click('#notice-close');
  // The API down: every API request is refused; the search says so and the map stays.
  await page.route('**/api/v1/**', (route) => route.abort('connectionrefused'));
  await page.fill('#search-input', facts.search.text);
  await page.press('#search-input', 'Enter');
  const downText = await noticeText(page);
  await shot(page, '09b-api-down');
  record('the API down is a message', downText.includes('cannot be reached'), { text: downText });
  await page.unroute('**/api/v1/**');
  await page.click('#notice-close');
  run.expectingFailures = false;

  // 8. A phone-sized screen: the viewer becomes a bottom sheet over the map.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const phonePage = await phone.newPage();
  run.watch(phonePage, 'phone');
  await phonePage.goto(`${base}/#map=16/${frame.lat}/${frame.lon}&frame=${frame.id}`);
  await mapIdle(phonePage);
  const phoneViewer = await waitForViewer(phonePage, frame.id);
  const fits = await phonePage.evaluate(() => {
    const box = document.getElementById('viewer').getBoundingClientRect();
    return box.width <= window.innerWidth && box.bottom <= window.innerHeight + 1;
  });
  await shot(phonePage, '10-phone');
  record('a phone-sized screen shows the map and the viewer', phoneViewer.loaded && fits, { fits });

  record('no console errors', run.verdict.console_errors.length === 0, run.verdict.console_errors);
} catch (err) {
  failure = err;
} finally {
  await browser.close();
  run.finish(failure);
}
