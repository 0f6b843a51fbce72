// The account dashboard: sign in with the API token (kept in this browser's localStorage
// only), then devices, the account's trust (its devices' reputation, each fraud case with
// its reason, advice and decision, and an appeal form), rewards per epoch (coverage and map use apart) with the Merkle proof
// to copy, the cells mapped first per epoch, captures with every frame's outcome and the
// advice for rejects; and, for map consumers, the credit balance, API keys and what was spent
// per day and per area. Public: the leaderboard and each epoch's emission beside what map
// use paid.

import {
  getJson, sendJson, formatTime, h, notify, clearNotice, meteringInfo, consumerKey, setConsumerKey,
} from '/assets/api.js';

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
    document.getElementById('key-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.createKey(document.getElementById('key-name').value.trim());
    });
  }

  async open() {
    this.panel.hidden = false;
    this.loadLeaderboard();
    this.loadEpochs();
    const saved = window.localStorage.getItem(TOKEN_KEY);
    if (saved && this.account.hidden) await this.signIn(saved);
    else if (this.account.hidden) document.getElementById('token').focus();
  }

  signOut() {
    window.localStorage.removeItem(TOKEN_KEY);
    this.token = null;
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
    this.token = token;
    this.form.hidden = true;
    this.account.hidden = false;
    document.getElementById('account-name').textContent = me.name;
    this.renderDevices(me.devices);
    await this.loadTrust(token);
    this.renderCaptures(captures.captures);
    await this.loadRewards(me.id);
    await this.loadCoverage(token);
    await this.loadMapUse();
  }

  renderDevices(devices) {
    document.getElementById('devices').replaceChildren(...(devices.length
      ? devices.map((d) => h('li', {}, `${d.label || 'Dashcam'} · ${d.public_key.slice(0, 12)}… · ${d.status}`))
      : [h('li', {}, 'No devices yet: register your dashcam with waymark-agent.')]));
  }

  /** The account's trust: the least reputation of its devices, and every fraud case. */
  async loadTrust(token) {
    const summary = document.getElementById('trust');
    const list = document.getElementById('cases');
    let trust;
    try {
      trust = await getJson('/api/v1/contributors/me/reputation', { token });
    } catch (err) {
      summary.textContent = `Your trust cannot be loaded: ${err.message}`;
      list.replaceChildren();
      return;
    }
    const percent = Math.floor(trust.reputation_ppm / 10000);
    const cases = trust.devices.flatMap((d) => d.cases.map((c) => ({ ...c, label: d.label || 'Dashcam' })));
    const standing = cases.filter((c) => c.status !== 'cleared').length;
    summary.dataset.ppm = String(trust.reputation_ppm);
    summary.textContent = standing
      ? `Trust ${percent} %: ${standing} fraud ${standing === 1 ? 'finding stands' : 'findings stand'}. Your rewards are weighted by it; clean driving earns it back (${trust.rule}).`
      : `Trust ${percent} %: no fraud finding stands against your devices.`;
    list.replaceChildren(...cases.map((c) => h('li', { dataset: { case: c.id, status: c.status } },
      h('span', { class: `badge ${c.status === 'cleared' ? 'accepted' : 'rejected'}` }, c.status),
      ` ${c.reason.replaceAll('-', ' ')} · ${c.frames} ${c.frames === 1 ? 'frame' : 'frames'} · ${c.label} · ${formatTime(c.first_frame_at)}`,
      h('span', { class: 'advice' }, c.advice),
      c.decision_note ? h('span', { class: 'note' }, `Reviewer: ${c.decision_note}`) : null,
      c.appeal ? h('span', { class: 'note' }, `Your appeal: ${c.appeal}`) : null,
      (c.status === 'open' || c.status === 'confirmed') && !c.appeal ? this.appealForm(c.id, token) : null,
    )));
  }

  /** A one-line form that appeals case `id` (once) and reloads the trust panel. */
  appealForm(id, token) {
    const text = h('textarea', { name: 'appeal', maxlength: '2000', placeholder: 'Why this was not fraud (once per case)', required: true });
    return h('form', {
      class: 'appeal',
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await sendJson('POST', `/api/v1/reviews/${encodeURIComponent(id)}/appeal`, { token, body: { text: text.value } });
          notify('Appeal sent: a reviewer will look at the case again.');
        } catch (err) {
          notify(`The appeal was not sent: ${err.message}`, { error: true });
        }
        await this.loadTrust(token);
      },
    }, text, h('button', { type: 'submit' }, 'Appeal'));
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
      body.replaceChildren(h('tr', {}, h('td', { colspan: 6 }, `Rewards cannot be loaded: ${err.message}`)));
      return;
    }
    if (!rewards.length) {
      body.replaceChildren(h('tr', {}, h('td', { colspan: 6 }, 'No closed epoch has paid you yet; epochs close weekly.')));
      return;
    }
    // Epochs closed before the parts were kept have only the total (all of it coverage).
    const coverage = (r) => (r.emission_amount === null ? r.amount : String(BigInt(r.emission_amount) + BigInt(r.bounty_amount ?? '0')));
    body.replaceChildren(...rewards.map((r) => h('tr', { dataset: { epoch: r.epoch } },
      h('td', {}, r.epoch),
      h('td', { class: 'coverage-amount' }, coverage(r)),
      h('td', { class: 'consumption-amount' }, r.consumption_amount ?? '0'),
      h('td', { class: 'discovery-amount' }, r.discovery_amount ?? '0'),
      h('td', { class: 'amount' }, r.amount),
      h('td', {}, h('button', { type: 'button', class: 'link', onclick: (event) => this.copyProof(r.epoch, contributor, event.target) }, 'copy proof')),
    )));
  }

  /** Each closed epoch's emission (the subsidy) beside what map consumers' spending paid:
   * the handover from one to the other, newest first. */
  async loadEpochs() {
    const body = document.querySelector('#epochs tbody');
    let epochs;
    try {
      epochs = await getJson('/api/v1/rewards/epochs');
    } catch (err) {
      body.replaceChildren(h('tr', {}, h('td', { colspan: 3 }, `Epochs cannot be loaded: ${err.message}`)));
      return;
    }
    const closed = epochs.filter((e) => e.state === 'closed').reverse().slice(0, 12);
    body.replaceChildren(...(closed.length
      ? closed.map((e) => h('tr', { dataset: { epoch: e.epoch } },
        h('td', {}, e.epoch), h('td', {}, e.emission), h('td', { class: 'pool' }, e.consumption_pool ?? '0')))
      : [h('tr', {}, h('td', { colspan: 3 }, 'No epoch has closed yet.'))]));
  }

  /** The account as a map consumer: terms, balance, keys and spend. */
  async loadMapUse() {
    const metering = meteringInfo();
    document.getElementById('metering-terms').textContent = metering.enabled
      ? `Coverage tiles above zoom ${metering.free_max_zoom}, full-resolution frames and search need an API key; `
        + `they cost ${metering.prices.tiles}, ${metering.prices.imagery} and ${metering.prices.search} credits per H3 cell-week they touch.`
      : 'This server does not meter map use: everything is open without a key.';
    let usage;
    let keys;
    try {
      usage = await getJson('/api/v1/usage?days=30', { token: this.token });
      keys = await getJson('/api/v1/keys', { token: this.token });
    } catch (err) {
      document.getElementById('balance').textContent = `cannot be loaded (${err.message})`;
      return;
    }
    document.getElementById('balance').textContent = String(usage.balance);
    this.renderKeys(keys.keys);
    const none = (columns) => [h('tr', {}, h('td', { colspan: columns }, 'Nothing spent yet.'))];
    document.querySelector('#spend-by-day tbody').replaceChildren(...(usage.by_day.length
      ? usage.by_day.map((d) => h('tr', { dataset: { day: d.day, kind: d.kind } },
        h('td', {}, d.day), h('td', {}, d.kind), h('td', {}, String(d.cell_weeks)), h('td', { class: 'credits' }, String(d.credits))))
      : none(4)));
    document.querySelector('#spend-by-area tbody').replaceChildren(...(usage.by_area.length
      ? usage.by_area.map((a) => h('tr', { dataset: { cell: a.cell, kind: a.kind } },
        h('td', {}, h('code', {}, a.cell)), h('td', {}, a.kind), h('td', { class: 'credits' }, String(a.credits))))
      : none(3)));
  }

  renderKeys(keys) {
    const inUse = consumerKey();
    document.getElementById('keys').replaceChildren(...(keys.length
      ? keys.map((k) => h('li', { dataset: { key: k.id, revoked: String(k.revoked_at !== null) } },
        h('code', {}, `wmk_${k.id}_…`), ` ${k.name || 'unnamed'} · ${k.scopes.join(', ')}`,
        inUse?.startsWith(`wmk_${k.id}_`) ? h('span', { class: 'badge accepted' }, 'used by this map') : null,
        k.revoked_at === null
          ? h('button', { type: 'button', class: 'link', onclick: () => this.revokeKey(k.id) }, 'revoke')
          : h('span', { class: 'badge rejected' }, 'revoked')))
      : [h('li', {}, 'No API keys yet.')]));
  }

  async createKey(name) {
    let created;
    try {
      created = await sendJson('POST', '/api/v1/keys', { token: this.token, body: { name } });
    } catch (err) {
      notify(`The key cannot be created: ${err.message}`, { error: true });
      return;
    }
    const box = document.getElementById('new-key');
    box.replaceChildren(
      h('p', {}, 'Your new key, shown only this once: copy it now.'),
      h('input', { id: 'new-key-text', readonly: true, value: created.key, 'aria-label': 'New API key' }),
      h('button', {
        type: 'button',
        onclick: () => {
          setConsumerKey(created.key);
          window.location.reload();
        },
      }, 'Use it on this map'),
    );
    box.hidden = false;
    await this.loadMapUse();
  }

  async revokeKey(id) {
    try {
      await sendJson('DELETE', `/api/v1/keys/${encodeURIComponent(id)}`, { token: this.token });
    } catch (err) {
      notify(`The key cannot be revoked: ${err.message}`, { error: true });
      return;
    }
    if (consumerKey()?.startsWith(`wmk_${id}_`)) setConsumerKey(null);
    await this.loadMapUse();
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
