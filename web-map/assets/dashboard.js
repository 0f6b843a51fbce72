// The contributor dashboard: sign in with the API token (kept in this browser's
// localStorage only), then devices, rewards per epoch with the Merkle proof to copy, the
// cells mapped first per epoch, and captures with every frame's outcome and the advice for
// rejects.

import { getJson, formatTime, h, notify, clearNotice } from '/assets/api.js';

const TOKEN_KEY = 'waymark-token';

export class Dashboard {
  /** `onFrame(id)` opens an accepted frame in the viewer. */
  constructor({ onFrame }) {
    this.panel = document.getElementById('dashboard');
    this.form = document.getElementById('signin');
    this.account = document.getElementById('account');
    this.onFrame = onFrame;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.signIn(document.getElementById('token').value.trim());
    });
    document.getElementById('signout').addEventListener('click', () => this.signOut());
  }

  async open() {
    this.panel.hidden = false;
    this.loadLeaderboard();
    const saved = window.localStorage.getItem(TOKEN_KEY);
    if (saved && this.account.hidden) await this.signIn(saved);
    else if (this.account.hidden) document.getElementById('token').focus();
  }

  signOut() {
    window.localStorage.removeItem(TOKEN_KEY);
    this.account.hidden = true;
    this.form.hidden = false;
    document.getElementById('token').value = '';
  }

  async signIn(token) {
    if (!token) {
      notify('Paste the API token you got when you created your account (it starts with wm_).');
      return;
    }
    let me;
    let captures;
    try {
      me = await getJson('/api/v1/contributors/me', { token });
      captures = await getJson('/api/v1/contributors/me/captures', { token });
    } catch (err) {
      if (err.status === 401) window.localStorage.removeItem(TOKEN_KEY);
      notify(err.status === 401 ? `Sign-in failed: ${err.message}` : `The dashboard cannot be loaded: ${err.message}`, { error: true });
      return;
    }
    clearNotice();
    window.localStorage.setItem(TOKEN_KEY, token);
    this.form.hidden = true;
    this.account.hidden = false;
    document.getElementById('account-name').textContent = me.name;
    this.renderDevices(me.devices);
    this.renderCaptures(captures.captures);
    await this.loadRewards(me.id);
    await this.loadCoverage(token);
  }

  renderDevices(devices) {
    document.getElementById('devices').replaceChildren(...(devices.length
      ? devices.map((d) => h('li', {}, `${d.label || 'Dashcam'} · ${d.public_key.slice(0, 12)}… · ${d.status}`))
      : [h('li', {}, 'No devices yet: register your dashcam with waymark-agent.')]));
  }

  renderCaptures(captures) {
    const list = document.getElementById('captures');
    if (!captures.length) {
      list.replaceChildren(h('p', {}, 'No captures uploaded yet.'));
      return;
    }
    list.replaceChildren(...captures.map((capture, i) => h('details', { class: 'capture', open: i === 0, dataset: { capture: capture.id } },
      h('summary', {}, `${formatTime(capture.received_at)} · ${capture.state} `,
        h('span', { class: 'counts' }, `${capture.counts.accepted} accepted, ${capture.counts.rejected} rejected, ${capture.counts.pending} pending`)),
      h('ul', { class: 'frames' }, capture.frames.map((f) => h('li', { dataset: { frame: f.sha256, status: f.status } },
        h('span', { class: `badge ${f.status}` }, f.status),
        f.status === 'accepted'
          ? h('a', { href: `#frame=${f.sha256}`, onclick: (event) => { event.preventDefault(); this.onFrame(f.sha256); } },
            `frame ${f.index + 1}`, f.quality === null ? '' : ` · quality ${Math.round(f.quality * 100)} %`)
          : h('span', {}, `frame ${f.index + 1}`),
        f.reject_reason ? h('span', { class: 'advice' }, `${f.reject_reason.replaceAll('-', ' ')}${f.advice ? `: ${f.advice}` : ''}`) : null,
      ))),
    )));
  }

  /** The cells this contributor mapped first, per reward epoch. */
  async loadCoverage(token) {
    const list = document.getElementById('coverage');
    let coverage;
    try {
      coverage = await getJson('/api/v1/contributors/me/coverage', { token });
    } catch (err) {
      list.replaceChildren(h('li', {}, `Your coverage cannot be loaded: ${err.message}`));
      return;
    }
    if (!coverage.epochs.length) {
      list.replaceChildren(h('li', {}, 'No cell mapped first by you yet: drive where nobody has.'));
      return;
    }
    list.replaceChildren(...coverage.epochs.map((e) => h('li', { dataset: { epoch: e.epoch, cells: String(e.cells.length) } },
      `${e.epoch} · ${e.cells.length} ${e.cells.length === 1 ? 'cell' : 'cells'} mapped first`)));
  }

  async loadRewards(contributor) {
    const body = document.querySelector('#rewards tbody');
    let rewards;
    try {
      rewards = await getJson(`/api/v1/rewards/contributors/${contributor}`);
    } catch (err) {
      body.replaceChildren(h('tr', {}, h('td', { colspan: 3 }, `Rewards cannot be loaded: ${err.message}`)));
      return;
    }
    if (!rewards.length) {
      body.replaceChildren(h('tr', {}, h('td', { colspan: 3 }, 'No closed epoch has paid you yet; epochs close weekly.')));
      return;
    }
    body.replaceChildren(...rewards.map((r) => h('tr', { dataset: { epoch: r.epoch } },
      h('td', {}, r.epoch),
      h('td', {}, r.amount),
      h('td', {}, h('button', { type: 'button', class: 'link', onclick: (event) => this.copyProof(r.epoch, contributor, event.target) }, 'copy proof')),
    )));
  }

  /** The public leaderboard: who was last to map the most cells this past week. */
  async loadLeaderboard() {
    const list = document.getElementById('leaderboard');
    let board;
    try {
      board = await getJson('/api/v1/rewards/leaderboard?days=7');
    } catch (err) {
      list.replaceChildren(h('li', {}, `The leaderboard cannot be loaded: ${err.message}`));
      return;
    }
    list.replaceChildren(...(board.leaders.length
      ? board.leaders.map((l) => h('li', { dataset: { contributor: l.contributor } },
        h('strong', {}, l.name), ` · ${l.fresh_cells} fresh cell${l.fresh_cells === 1 ? '' : 's'}`))
      : [h('li', {}, 'Nobody has mapped anything this week yet: be the first.')]));
  }

  async copyProof(epoch, contributor, button) {
    let proof;
    try {
      proof = await getJson(`/api/v1/rewards/epochs/${encodeURIComponent(epoch)}/contributors/${contributor}`);
    } catch (err) {
      notify(`The proof cannot be loaded: ${err.message}`, { error: true });
      return;
    }
    const text = JSON.stringify(proof, null, 2);
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'copied';
    } catch {
      // No clipboard access (e.g. plain HTTP on another host): show it to copy by hand.
      button.replaceWith(h('textarea', { readonly: true, rows: 6, cols: 30 }, text));
    }
  }
}
