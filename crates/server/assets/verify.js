// vouch hosted verification page. Served by the binary as /assets/verify.js; no build step.
// The page's HTML (routes/page.rs) holds the steps and the texts in the visitor's language;
// this script runs the capture against POST {page}/selfie, /document and /complete, and
// the digital ID step against POST {page}/digital-id (a QR code and wallet link for an
// OpenID4VP request; the page polls GET {page}/digital-id/{id} until the wallet answered,
// or hands a Digital Credentials API response to POST {page}/digital-id/{id}/dc-api).
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const accent = document.body.dataset.accent;
  if (accent && /^#[0-9a-fA-F]{6}$/.test(accent)) {
    document.documentElement.style.setProperty('--accent', accent);
  }
  const app = $('app');
  if (!app) return; // a message page (expired, complete…): nothing to run
  const T = JSON.parse($('vouch-i18n').textContent);
  const base = location.pathname.replace(/\/+$/, '');
  const steps = app.dataset.steps.split(',').filter(Boolean);
  const done = new Set(app.dataset.done.split(',').filter(Boolean));
  const sections = ['step-consent', 'step-digital-id', 'step-selfie', 'step-document', 'step-working', 'step-error', 'step-done'];
  // Frames of the selfie: taken every FRAME_MS while the prompts change, so that a blink
  // or a turn at any moment of the sequence lands on at least one frame.
  const FRAME_MS = 200;
  const PROMPTS = [['promptLook', 2], ['promptBlink', 4], ['promptTurn', 2]];
  const MAX_SIDE = 1600; // camera shots and large uploads are scaled down to this
  const MAX_UPLOAD_SIDE = 4000; // uploads within these limits are sent unchanged
  const MAX_UPLOAD_BYTES = 6 * 1024 * 1024;
  let stream = null;
  let retry = null;

  function show(id) {
    for (const s of sections) $(s).hidden = s !== id;
    window.scrollTo(0, 0);
  }

  function progress(stepName) {
    const total = steps.length + 1;
    const n = stepName === 'done' ? total : Math.max(1, steps.indexOf(stepName) + 1);
    $('progress-bar').style.width = Math.round((100 * (n - 1)) / total) + '%';
    $('progress-text').textContent = T.stepOf.replace('{n}', Math.min(n, total)).replace('{total}', total);
    if (stepName === 'done') $('progress-bar').style.width = '100%';
  }

  function message(code) {
    return T['err.' + code] || T['err.generic'];
  }

  // A failure the user can retry: its message and a button that runs `again`.
  function fail(code, again) {
    stopCamera();
    const fatal = ['session_expired', 'session_cancelled', 'already_complete', 'awaiting_review', 'not_found'];
    $('error-title').textContent = {
      session_expired: T.expiredTitle, session_cancelled: T.cancelledTitle,
      already_complete: T.completeTitle, awaiting_review: T.reviewTitle, not_found: T.notFoundTitle,
    }[code] || T.errorTitle;
    $('error-text').textContent = message(code);
    $('error-retry').hidden = fatal.includes(code);
    retry = again;
    app.dataset.error = code;
    show('step-error');
  }

  $('error-retry').addEventListener('click', () => {
    delete app.dataset.error;
    if (retry) retry();
  });

  async function post(path, body) {
    let r;
    try {
      r = await fetch(base + '/' + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body || {}),
      });
    } catch (e) {
      return { ok: false, code: 'network' };
    }
    let json = {};
    try { json = await r.json(); } catch (e) { /* not JSON */ }
    if (r.ok) return { ok: true, body: json };
    const code = r.status === 404 ? 'not_found' : json.code || 'generic';
    return { ok: false, code };
  }

  function working(key) {
    $('working-text').textContent = T[key];
    show('step-working');
  }

  function stopCamera() {
    if (stream) for (const t of stream.getTracks()) t.stop();
    stream = null;
  }

  async function startCamera(video, facing) {
    stopCamera();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error('camera_unavailable');
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: facing, width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
    } catch (e) {
      const denied = e && (e.name === 'NotAllowedError' || e.name === 'SecurityError');
      throw new Error(denied ? 'camera_denied' : 'camera_unavailable');
    }
    video.srcObject = stream;
    await video.play().catch(() => {});
    // Wait for the first decoded frame.
    for (let i = 0; i < 50 && !video.videoWidth; i++) await sleep(100);
    if (!video.videoWidth) throw new Error('camera_unavailable');
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function grab(source, width, height, maxSide, quality) {
    const scale = Math.min(1, maxSide / Math.max(width, height));
    const c = document.createElement('canvas');
    c.width = Math.round(width * scale);
    c.height = Math.round(height * scale);
    c.getContext('2d').drawImage(source, 0, 0, c.width, c.height);
    return c.toDataURL('image/jpeg', quality);
  }

  // ---- steps ----

  function next() {
    const todo = steps.find((s) => !done.has(s));
    if (todo === 'digital_id') return digitalIdStep();
    if (todo === 'selfie') return selfieStep();
    if (todo === 'document') return documentStep();
    return finish();
  }

  function consentStep() {
    progress(steps[0] || 'done');
    show('step-consent');
    const box = $('consent');
    const go = $('consent-continue');
    box.addEventListener('change', () => { go.disabled = !box.checked; });
    go.addEventListener('click', () => { if (box.checked) next(); });
  }

  // Digital ID: an OpenID4VP request shown as a QR code and a wallet link; the wallet
  // answers the server directly, the page waits for it.
  const POLL_MS = 1500;
  let waitingFor = null;

  function digitalIdStep() {
    progress('digital_id');
    waitingFor = null;
    $('digital-id-offer').hidden = true;
    $('digital-id-start').hidden = false;
    show('step-digital-id');
  }

  async function getJson(path) {
    try {
      const r = await fetch(base + '/' + path, { headers: { accept: 'application/json' } });
      const json = await r.json().catch(() => ({}));
      return r.ok ? { ok: true, body: json } : { ok: false, code: r.status === 404 ? 'not_found' : json.code || 'generic' };
    } catch (e) {
      return { ok: false, code: 'network' };
    }
  }

  async function startDigitalId() {
    $('digital-id-start').hidden = true;
    const r = await post('digital-id');
    if (!r.ok) return fail(r.code, digitalIdStep);
    const b = r.body;
    $('digital-id-claims').textContent = (b.claims || []).join(', ');
    $('digital-id-qr').src = b.qrCode;
    $('digital-id-link').href = b.walletLink;
    app.dataset.requestUri = b.requestUri;
    // Same device: the browser's Digital Credentials API, where it exists.
    const dc = b.dcApi && typeof window.DigitalCredential !== 'undefined' && navigator.credentials;
    $('digital-id-dcapi').hidden = !dc;
    $('digital-id-dcapi').onclick = dc ? () => useThisDevice(b.requestId, b.dcApi) : null;
    $('digital-id-offer').hidden = false;
    waitFor(b.requestId);
  }

  async function useThisDevice(id, dcApi) {
    try {
      const cred = await navigator.credentials.get({
        mediation: 'required',
        digital: { requests: [{ protocol: dcApi.protocol, data: { request: dcApi.request } }] },
      });
      const data = typeof cred.data === 'string' ? JSON.parse(cred.data) : cred.data;
      const r = await post('digital-id/' + id + '/dc-api', { response: data.response });
      if (!r.ok) fail('digital_id_declined', digitalIdStep);
    } catch (e) {
      fail('digital_id_declined', digitalIdStep);
    }
  }

  async function waitFor(id) {
    waitingFor = id;
    while (waitingFor === id) {
      await sleep(POLL_MS);
      if (waitingFor !== id) return;
      const r = await getJson('digital-id/' + id);
      if (!r.ok) return fail(r.code, digitalIdStep);
      if (r.body.status === 'received') {
        waitingFor = null;
        done.add('digital_id');
        return next();
      }
      if (r.body.status === 'expired') {
        waitingFor = null;
        return fail('session_expired_request', digitalIdStep);
      }
    }
  }

  if ($('digital-id-start')) $('digital-id-start').addEventListener('click', startDigitalId);

  function selfieStep() {
    progress('selfie');
    $('selfie-prompt').textContent = '';
    $('selfie-start').hidden = false;
    show('step-selfie');
  }

  $('selfie-start').addEventListener('click', captureSelfie);

  async function captureSelfie() {
    const video = $('selfie-video');
    $('selfie-start').hidden = true;
    try {
      await startCamera(video, 'user');
    } catch (e) {
      return fail(e.message, selfieStep);
    }
    const frames = [];
    const prompt = $('selfie-prompt');
    for (const [key, count] of PROMPTS) {
      prompt.textContent = T[key];
      app.dataset.prompt = key;
      for (let i = 0; i < count; i++) {
        await sleep(FRAME_MS);
        frames.push(grab(video, video.videoWidth, video.videoHeight, 640, 0.9));
      }
    }
    delete app.dataset.prompt;
    stopCamera();
    working('checking');
    const r = await post('selfie', { frames });
    if (!r.ok) return fail(r.code, selfieStep);
    done.add('selfie');
    next();
  }

  // Document: type, then front (and back for a licence), by camera or upload.
  let sides = [];
  let images = {};
  let current = null;

  function documentStep() {
    progress('document');
    $('doc-choose').hidden = false;
    $('doc-capture').hidden = true;
    show('step-document');
  }

  for (const b of document.querySelectorAll('.choice')) {
    b.addEventListener('click', () => {
      sides = b.dataset.back ? ['front', 'back'] : ['front'];
      images = {};
      app.dataset.document = b.dataset.doc;
      captureSide(sides[0]);
    });
  }

  async function captureSide(side) {
    current = side;
    $('doc-choose').hidden = true;
    $('doc-capture').hidden = false;
    $('doc-side').textContent = side === 'front' ? T.documentFront : T.documentBack;
    $('doc-preview').hidden = true;
    $('doc-use').hidden = true;
    $('doc-retake').hidden = true;
    $('doc-shoot').hidden = false;
    $('doc-file').value = '';
    show('step-document');
    const video = $('doc-video');
    video.hidden = false;
    try {
      await startCamera(video, 'environment');
    } catch (e) {
      // No camera: the upload remains; say why once.
      video.hidden = true;
      $('doc-shoot').hidden = true;
      $('doc-side').textContent = (side === 'front' ? T.documentFront : T.documentBack) + ' ' + message(e.message);
    }
  }

  function preview(dataUrl) {
    stopCamera();
    images[current] = dataUrl;
    $('doc-video').hidden = true;
    const img = $('doc-preview');
    img.src = dataUrl;
    img.hidden = false;
    $('doc-shoot').hidden = true;
    $('doc-use').hidden = false;
    $('doc-retake').hidden = false;
  }

  $('doc-shoot').addEventListener('click', () => {
    const v = $('doc-video');
    if (!v.videoWidth) return;
    preview(grab(v, v.videoWidth, v.videoHeight, MAX_SIDE, 0.92));
  });

  $('doc-retake').addEventListener('click', () => captureSide(current));

  $('doc-file').addEventListener('change', (ev) => {
    const file = ev.target.files && ev.target.files[0];
    if (!file) return;
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => {
      URL.revokeObjectURL(url);
      const w = img.naturalWidth;
      const h = img.naturalHeight;
      if (Math.max(w, h) <= MAX_UPLOAD_SIDE && file.size <= MAX_UPLOAD_BYTES && /^image\/(jpeg|png)$/.test(file.type)) {
        // Sent as it is: every re-encoding costs the reader detail.
        const reader = new FileReader();
        reader.onload = () => preview(reader.result);
        reader.onerror = () => fail('unreadable_image', () => captureSide(current));
        reader.readAsDataURL(file);
      } else {
        preview(grab(img, w, h, MAX_SIDE, 0.92));
      }
    };
    img.onerror = () => {
      URL.revokeObjectURL(url);
      fail('unreadable_image', () => captureSide(current));
    };
    img.src = url;
  });

  $('doc-use').addEventListener('click', async () => {
    const i = sides.indexOf(current);
    if (i + 1 < sides.length) return captureSide(sides[i + 1]);
    working('checking');
    const body = { front: images.front };
    if (images.back) body.back = images.back;
    const r = await post('document', body);
    if (!r.ok) return fail(r.code, () => captureSide('front'));
    done.add('document');
    next();
  });

  async function finish() {
    progress('done');
    working('finishing');
    const r = await post('complete');
    if (!r.ok) return fail(r.code, finish);
    const { sessionId, overallResult, redirectUrl } = r.body;
    $('done-text').textContent = T['result' + overallResult] || '';
    app.dataset.result = overallResult;
    show('step-done');
    if (window.parent !== window) {
      // Embedded: tell the host page (only the session id and the decision).
      window.parent.postMessage({ type: 'provefy:complete', data: { sessionId, overallResult } }, '*');
    } else if (redirectUrl) {
      $('done-redirect').hidden = false;
      setTimeout(() => location.assign(redirectUrl), 1500);
    }
  }

  if (steps.every((s) => done.has(s)) && steps.length) {
    finish();
  } else {
    consentStep();
  }
})();
