// vouch review queue: a plain page for deciding sessions that await review, until the
// admin console exists. It calls the API with the API key typed into it (kept in this
// tab's sessionStorage only): GET /api/v1/verify?overallResult=REVIEW,
// the sessions' kept images, and POST /api/v1/verify/{id}/review.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const keyInput = $('api-key');
  const list = $('queue');
  const status = $('queue-status');
  keyInput.value = sessionStorage.getItem('vouch-review-key') || '';
  const urls = [];

  function api(path, init) {
    const headers = Object.assign({ authorization: 'Bearer ' + keyInput.value.trim() }, (init && init.headers) || {});
    return fetch(path, Object.assign({}, init, { headers }));
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  const SCORES = ['livenessScore', 'estimatedAge', 'similarityScore', 'ocrConfidence', 'documentType', 'blink', 'turn', 'reasons', 'reason'];

  function checkRows(checks) {
    const table = el('table', { class: 'checks' });
    for (const [name, c] of Object.entries(checks || {})) {
      const tr = el('tr');
      tr.append(el('th', {}, name), el('td', { class: 'result ' + String(c.result).toLowerCase() }, c.result || c.status));
      const details = SCORES.filter((k) => c[k] !== undefined && c[k] !== null)
        .map((k) => k + ': ' + (Array.isArray(c[k]) ? c[k].join(', ') : c[k])).join(' · ');
      tr.append(el('td', {}, details));
      table.append(tr);
    }
    return table;
  }

  async function images(id, box) {
    const r = await api('/api/v1/verify/' + encodeURIComponent(id) + '/images');
    if (!r.ok) return;
    const { images } = await r.json();
    for (const im of images) {
      const b = await api('/api/v1/verify/' + encodeURIComponent(id) + '/images/' + encodeURIComponent(im.name));
      if (!b.ok) continue;
      const url = URL.createObjectURL(await b.blob());
      urls.push(url);
      const fig = el('figure');
      fig.append(el('img', { src: url, alt: im.name }), el('figcaption', {}, im.name));
      box.append(fig);
    }
  }

  async function decide(s, card, decision) {
    const note = card.querySelector('textarea').value.trim();
    for (const b of card.querySelectorAll('button')) b.disabled = true;
    const r = await api('/api/v1/verify/' + encodeURIComponent(s.id) + '/review', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(note ? { decision, note } : { decision }),
    });
    const out = card.querySelector('.outcome');
    if (r.ok) {
      card.dataset.decided = decision;
      out.textContent = decision === 'APPROVED' ? 'Approved.' : 'Rejected.';
    } else {
      let msg = 'Error ' + r.status;
      try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
      out.textContent = msg;
      for (const b of card.querySelectorAll('button')) b.disabled = false;
    }
  }

  async function load() {
    sessionStorage.setItem('vouch-review-key', keyInput.value.trim());
    while (urls.length) URL.revokeObjectURL(urls.pop());
    list.replaceChildren();
    status.textContent = 'Loading…';
    let r;
    try {
      r = await api('/api/v1/verify?overallResult=REVIEW&limit=50');
    } catch (e) {
      status.textContent = 'No connection to the server.';
      return;
    }
    if (!r.ok) {
      let msg = 'Error ' + r.status;
      try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
      status.textContent = msg;
      return;
    }
    const page = await r.json();
    status.textContent = page.total === 0 ? 'Nothing awaits review.' : page.total + ' session(s) await review.';
    for (const s of page.data) {
      const card = el('article', { class: 'session', 'data-id': s.id });
      card.append(el('h2', {}, s.externalRef ? s.externalRef + ' — ' + s.id : s.id));
      card.append(el('p', { class: 'muted' }, 'Created ' + s.createdAt + '; checks: ' + s.requestedChecks.join(', ')));
      card.append(checkRows(s.checks));
      const pics = el('div', { class: 'images' });
      card.append(pics);
      const note = el('textarea', { rows: '2', maxlength: '1000', placeholder: 'Reason (kept in the audit log)' });
      const approve = el('button', { class: 'approve' }, 'Approve');
      const reject = el('button', { class: 'reject' }, 'Reject');
      approve.addEventListener('click', () => decide(s, card, 'APPROVED'));
      reject.addEventListener('click', () => decide(s, card, 'REJECTED'));
      card.append(note, el('div', { class: 'actions' }), el('p', { class: 'outcome', 'aria-live': 'polite' }));
      card.querySelector('.actions').append(approve, reject);
      list.append(card);
      images(s.id, pics);
    }
  }

  $('load').addEventListener('click', load);
  keyInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') load(); });
})();
