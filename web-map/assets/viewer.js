// The frame viewer: the public (blurred) image with its detections drawn as boxes, its
// metadata, and previous/next along the sequence with the map following. Keys: ← → Esc.

import {
  getJson, formatTime, h, notify, clearNotice, setHashParams, meteringInfo, consumerKey, withKey,
} from '/assets/api.js';

const SVG = 'http://www.w3.org/2000/svg';

export class Viewer {
  /** `onShow(frame)` is called with every frame shown (the map follows it). */
  constructor({ onShow, onClose }) {
    this.panel = document.getElementById('viewer');
    this.image = document.getElementById('viewer-image');
    this.boxes = document.getElementById('viewer-boxes');
    this.previous = document.getElementById('viewer-prev');
    this.next = document.getElementById('viewer-next');
    this.frame = null;
    this.loading = null;
    this.onShow = onShow;
    this.onClose = onClose;
    this.previous.addEventListener('click', () => this.step('previous'));
    this.next.addEventListener('click', () => this.step('next'));
    // Capture phase: while the viewer is open, ← → Esc are its keys, not the map's panning.
    window.addEventListener('keydown', (event) => this.key(event), true);
  }

  get open() {
    return !this.panel.hidden;
  }

  key(event) {
    if (!this.open || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
    if (event.key === 'ArrowLeft') this.step('previous');
    else if (event.key === 'ArrowRight') this.step('next');
    else if (event.key === 'Escape') this.close();
    else return;
    event.preventDefault();
    event.stopPropagation();
  }

  step(direction) {
    const id = this.frame?.sequence?.[direction];
    if (id) this.show(id);
  }

  /** Loads and shows frame `id`; an unknown frame is a message, and the viewer closes. */
  async show(id) {
    this.loading = id;
    let frame;
    try {
      frame = await getJson(`/api/v1/frames/${encodeURIComponent(id)}`);
    } catch (err) {
      if (this.loading !== id) return;
      this.close();
      notify(err.status === 404 || err.status === 400
        ? `Frame ${id.slice(0, 12)}… cannot be shown: ${err.message}`
        : `The frame cannot be loaded: ${err.message}`, { error: true });
      return;
    }
    if (this.loading !== id) return;
    clearNotice();
    this.frame = frame;
    this.render(frame);
    this.panel.hidden = false;
    setHashParams({ frame: frame.id });
    this.onShow?.(frame);
  }

  close() {
    this.panel.hidden = true;
    this.frame = null;
    this.loading = null;
    setHashParams({ frame: null });
    this.onClose?.();
  }

  render(frame) {
    this.image.dataset.frame = frame.id;
    this.boxes.replaceChildren();
    this.image.onload = () => this.drawBoxes(frame);
    this.image.onerror = () => notify(`The image of frame ${frame.id.slice(0, 12)}… cannot be loaded.`, { error: true });
    // With metering on, full resolution needs an API key; the thumbnail is free.
    const full = !meteringInfo().enabled || consumerKey();
    this.image.src = full ? withKey(frame.image) : frame.thumbnail;
    if (this.image.complete && this.image.naturalWidth) this.drawBoxes(frame);
    document.getElementById('viewer-caption').textContent =
      'Faces and licence plates are blurred before any frame is published.'
      + (full ? '' : ' Full resolution needs an API key: My dashboard → Map use.');
    this.previous.disabled = !frame.sequence?.previous;
    this.next.disabled = !frame.sequence?.next;
    const rows = [
      ['Captured', formatTime(frame.captured_at)],
      ['Position', `${frame.lat.toFixed(6)}, ${frame.lon.toFixed(6)}`],
      ['Heading', frame.heading === null ? 'unknown' : `${Math.round(frame.heading)}°`],
      ['Quality', frame.quality === null ? 'unknown' : `${Math.round(frame.quality * 100)} %`],
      ['Contributor', frame.contributor.name],
      ['Sequence', frame.sequence?.id ?? 'none'],
      ['Frame id', frame.id],
    ];
    document.getElementById('viewer-meta').replaceChildren(
      ...rows.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
    );
    const signs = frame.detections.filter((d) => d.kind === 'sign');
    const hidden = frame.detections.length - signs.length;
    document.getElementById('viewer-detections').replaceChildren(
      ...signs.map((d) => h('li', {}, `${readable(d.class)} sign, ${Math.round(d.confidence * 100)} % sure`)),
      ...(hidden ? [h('li', {}, `${hidden} face or plate region${hidden === 1 ? '' : 's'} blurred`)] : []),
      ...(frame.detections.length ? [] : [h('li', {}, 'No signs detected.')]),
    );
  }

  drawBoxes(frame) {
    const width = frame.width || this.image.naturalWidth;
    const height = frame.height || this.image.naturalHeight;
    this.boxes.setAttribute('viewBox', `0 0 ${width} ${height}`);
    this.boxes.replaceChildren(...frame.detections.map((d) => {
      const rect = document.createElementNS(SVG, 'rect');
      rect.setAttribute('x', d.box.x);
      rect.setAttribute('y', d.box.y);
      rect.setAttribute('width', d.box.w);
      rect.setAttribute('height', d.box.h);
      rect.setAttribute('class', d.kind);
      const title = document.createElementNS(SVG, 'title');
      title.textContent = d.kind === 'sign' ? readable(d.class) : `${d.kind} (blurred)`;
      rect.append(title);
      return rect;
    }));
  }
}

/** `speed-limit-50` → `speed limit 50`. */
export function readable(signClass) {
  return (signClass ?? 'unknown').replaceAll(/[-_]/g, ' ');
}
