// vouch admin console: the few things the server-rendered pages cannot do alone.
// - Helpers shared with login.js (window.VouchConsole): JSON calls, base64url <->
//   ArrayBuffer, WebAuthn credential JSON, camera frames for face 2FA.
// - Confirmation of destructive forms (form[data-confirm]), copy buttons (data-copy).
// - Security page: "Add a passkey" (navigator.credentials.create) and face 2FA
//   enrolment (explicit consent, 8 frames while the admin blinks).
// Data the script needs comes in data- attributes (the CSP allows no inline script).
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);

  // ---- base64url <-> ArrayBuffer -------------------------------------------------

  function b64uToBuf(s) {
    const b64 = String(s).replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '==='.slice((b64.length + 3) % 4);
    const bin = atob(padded);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bufToB64u(buf) {
    const bytes = new Uint8Array(buf);
    let bin = '';
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // ---- WebAuthn ------------------------------------------------------------------

  // The server's options may come as {publicKey: {...}} (webauthn-rs) or bare.
  function publicKeyOf(options) {
    return Object.assign({}, (options && options.publicKey) || options || {});
  }

  function creationOptions(options) {
    const pk = publicKeyOf(options);
    pk.challenge = b64uToBuf(pk.challenge);
    if (pk.user) pk.user = Object.assign({}, pk.user, { id: b64uToBuf(pk.user.id) });
    if (Array.isArray(pk.excludeCredentials)) {
      pk.excludeCredentials = pk.excludeCredentials.map((c) => Object.assign({}, c, { id: b64uToBuf(c.id) }));
    }
    return pk;
  }

  function requestOptions(options) {
    const pk = publicKeyOf(options);
    pk.challenge = b64uToBuf(pk.challenge);
    if (Array.isArray(pk.allowCredentials)) {
      pk.allowCredentials = pk.allowCredentials.map((c) => Object.assign({}, c, { id: b64uToBuf(c.id) }));
    }
    return pk;
  }

  // A PublicKeyCredential as JSON with base64url fields (what webauthn-rs reads).
  function credentialJson(cred) {
    const r = cred.response;
    const response = { clientDataJSON: bufToB64u(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = bufToB64u(r.attestationObject);
      if (typeof r.getTransports === 'function') response.transports = r.getTransports();
    }
    if (r.authenticatorData) response.authenticatorData = bufToB64u(r.authenticatorData);
    if (r.signature) response.signature = bufToB64u(r.signature);
    if (r.userHandle) response.userHandle = bufToB64u(r.userHandle);
    const ext = typeof cred.getClientExtensionResults === 'function' ? cred.getClientExtensionResults() : {};
    return {
      id: cred.id,
      rawId: bufToB64u(cred.rawId),
      type: cred.type,
      response,
      extensions: ext || {},
    };
  }

  // ---- JSON calls ----------------------------------------------------------------

  // POSTs (or other methods) JSON; the session's CSRF token rides in x-csrf-token when
  // the page has one. Resolves to {ok, status, body}.
  async function api(method, path, body) {
    const headers = { accept: 'application/json' };
    const csrf = document.body.dataset.csrf;
    if (csrf) headers['x-csrf-token'] = csrf;
    const init = { method, headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (e) {
      return { ok: false, status: 0, body: { error: 'No connection to the server.' } };
    }
    let parsed = null;
    try { parsed = await r.json(); } catch (e) { /* not JSON */ }
    return { ok: r.ok, status: r.status, body: parsed || {} };
  }

  function errorText(res, fallback) {
    return (res.body && (res.body.error || res.body.message)) || fallback || ('Error ' + res.status);
  }

  // ---- camera ---------------------------------------------------------------------

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Opens the front camera into `video`, shows `prompt` texts, takes `count` JPEG
  // frames `gap` ms apart (data URLs), and closes the camera.
  async function captureFrames(video, prompt, count, gap) {
    const say = (t) => { if (prompt) prompt.textContent = t; };
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error('This browser cannot open the camera.');
    }
    say('Opening the camera…');
    const stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } },
      audio: false,
    });
    try {
      video.hidden = false;
      video.srcObject = stream;
      await video.play().catch(() => {});
      for (let i = 0; i < 50 && !video.videoWidth; i++) await sleep(100);
      if (!video.videoWidth) throw new Error('The camera gave no picture.');
      say('Look at the camera…');
      await sleep(800);
      say('Blink now');
      const canvas = document.createElement('canvas');
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const ctx = canvas.getContext('2d');
      const frames = [];
      for (let i = 0; i < count; i++) {
        ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
        frames.push(canvas.toDataURL('image/jpeg', 0.85));
        if (i + 1 < count) await sleep(gap);
      }
      say('Checking…');
      return frames;
    } finally {
      for (const t of stream.getTracks()) t.stop();
      video.srcObject = null;
    }
  }

  window.VouchConsole = {
    b64uToBuf, bufToB64u, creationOptions, requestOptions, credentialJson, api, errorText, captureFrames,
  };

  // ---- every console page ---------------------------------------------------------

  for (const form of document.querySelectorAll('form[data-confirm]')) {
    form.addEventListener('submit', (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  }

  for (const button of document.querySelectorAll('button[data-copy]')) {
    button.addEventListener('click', async () => {
      const source = $(button.dataset.copy);
      if (!source || !navigator.clipboard) return;
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = 'Copied';
      } catch (e) {
        button.textContent = 'Copy failed: select the text';
      }
    });
  }

  // ---- security page: passkeys -------------------------------------------------------

  const addPasskey = $('add-passkey');
  if (addPasskey) {
    const status = $('passkey-status');
    addPasskey.addEventListener('click', async () => {
      status.textContent = '';
      if (!window.PublicKeyCredential || !navigator.credentials) {
        status.textContent = 'This browser does not support passkeys.';
        return;
      }
      addPasskey.disabled = true;
      try {
        const opts = await api('POST', '/api/auth/2fa/passkey/register-options', {});
        if (!opts.ok) throw new Error(errorText(opts));
        status.textContent = 'Follow your browser\'s prompt…';
        const cred = await navigator.credentials.create({ publicKey: creationOptions(opts.body.options) });
        if (!cred) throw new Error('No passkey was created.');
        const name = ($('passkey-name').value || '').trim();
        const done = await api('POST', '/api/auth/2fa/passkey/register', {
          credential: credentialJson(cred),
          name: name || undefined,
        });
        if (!done.ok) throw new Error(errorText(done));
        status.textContent = 'Passkey added.';
        window.location.reload();
      } catch (e) {
        status.textContent = e && e.name === 'NotAllowedError' ? 'The passkey prompt was cancelled.' : String(e.message || e);
      } finally {
        addPasskey.disabled = false;
      }
    });
  }

  // ---- security page: face 2FA enrolment ----------------------------------------------

  const faceStart = $('face-start');
  if (faceStart) {
    const consent = $('face-consent');
    const prompt = $('face-prompt');
    const video = $('face-video');
    const sync = () => { faceStart.disabled = !consent.checked; };
    consent.addEventListener('change', sync);
    sync();
    faceStart.addEventListener('click', async () => {
      if (!consent.checked) return;
      faceStart.disabled = true;
      try {
        const frames = await captureFrames(video, prompt, 8, 200);
        const res = await api('POST', '/api/auth/2fa/face/enroll', { consent: true, frames });
        if (!res.ok) throw new Error(errorText(res));
        prompt.textContent = 'Face 2FA is set up.';
        window.location.reload();
      } catch (e) {
        prompt.textContent = e && e.name === 'NotAllowedError' ? 'Camera access was refused.' : String(e.message || e);
      } finally {
        video.hidden = true;
        sync();
      }
    });
  }
})();
