// What the browser checks share: Debian's headless Chromium, the verdict they print (one JSON
// line: {ok, steps: [{name, ok, detail}], console_errors, screenshots}), console watching,
// screenshots, and waiting on the page's map and viewer.
// Chromium comes from Debian (`/usr/bin/chromium`, or $CHROMIUM); never `npx playwright install`.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const TIMEOUT = 60_000;

/** One check run: its verdict, steps and screenshots. */
export class Run {
  constructor(outDir) {
    this.outDir = outDir;
    mkdirSync(outDir, { recursive: true });
    this.verdict = { ok: false, steps: [], console_errors: [], screenshots: [] };
    /** While true, failed resource loads (4xx, refused) are expected, not console errors. */
    this.expectingFailures = false;
  }

  record(name, ok, detail) {
    this.verdict.steps.push({ name, ok, detail });
    if (!ok) throw new Error(`${name}: ${JSON.stringify(detail)}`);
  }

  async shot(page, name) {
    const path = join(this.outDir, `${name}.png`);
    await page.screenshot({ path });
    this.verdict.screenshots.push(path);
  }

  /** Counts the page's console errors and uncaught exceptions against the run. */
  watch(page, label = '') {
    const prefix = label ? `${label}: ` : '';
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const text = message.text();
      const expected = text.startsWith('Failed to load resource: the server responded with a status of 4')
        || text.startsWith('Failed to load resource: net::ERR_CONNECTION_REFUSED');
      if (this.expectingFailures && expected) return;
      this.verdict.console_errors.push(`${prefix}${text}`);
    });
    page.on('pageerror', (error) => this.verdict.console_errors.push(`${prefix}uncaught: ${error.message}`));
  }

  /** Prints the verdict and exits 0 when every step passed. */
  finish(err) {
    if (err) this.verdict.error = err.message;
    else this.verdict.ok = true;
    console.log(JSON.stringify(this.verdict));
    process.exit(this.verdict.ok ? 0 : 1);
  }
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // No GPU here: WebGL through SwiftShader, which Chromium only allows when asked.
    args: ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
  });
}

/** Waits until the page started and the map drew every tile it asked for. */
export async function mapIdle(page) {
  await page.waitForFunction(() => window.waymark?.ready === true, null, { timeout: TIMEOUT });
  await page.waitForFunction(() => {
    const map = window.waymark.map;
    return map && map.loaded() && map.areTilesLoaded() && !map.isMoving();
  }, null, { timeout: TIMEOUT, polling: 200 });
}

export async function renderedCount(page, layer) {
  return page.evaluate((id) => window.waymark.map.queryRenderedFeatures({ layers: [id] }).length, layer);
}

export async function jumpTo(page, zoom, lat, lon) {
  await page.evaluate(([z, la, lo]) => window.waymark.map.jumpTo({ zoom: z, center: [lo, la] }), [zoom, lat, lon]);
  await mapIdle(page);
}

export async function viewerFrame(page) {
  return page.evaluate(() => {
    const panel = document.getElementById('viewer');
    const image = document.getElementById('viewer-image');
    return {
      open: !panel.hidden,
      id: image.dataset.frame ?? null,
      src: image.getAttribute('src'),
      loaded: image.complete && image.naturalWidth > 0,
      width: image.naturalWidth,
    };
  });
}

export async function waitForViewer(page, id) {
  await page.waitForFunction((want) => {
    const image = document.getElementById('viewer-image');
    return !document.getElementById('viewer').hidden && image.dataset.frame === want && image.complete && image.naturalWidth > 0;
  }, id, { timeout: TIMEOUT });
  return viewerFrame(page);
}

export async function noticeText(page) {
  await page.waitForSelector('#notice:not([hidden])', { timeout: TIMEOUT });
  return page.textContent('#notice-text');
}
