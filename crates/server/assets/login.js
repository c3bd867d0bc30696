// vouch admin console: sign-in and first password. Uses the helpers of console.js
// (loaded first) against the JSON API:
//   POST /api/auth/login {email, password}
//     -> {success, token, enrollmentRequired} (signed in: the cookie is set), or
//     -> {requires_2fa, methods: {passkey, face}, sessionToken}: a second step,
//        POST /api/auth/2fa/passkey/authenticate-options + .../authenticate, or
//        POST /api/auth/2fa/face with 8 camera frames.
//   POST /api/auth/setup {token, password} (the setup link's page).
//   POST /api/auth/bootstrap {token, orgName, email, password} (a fresh install's
//     first-run link) -> signed in like a login.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const C = window.VouchConsole;
  const error = $('error');
  const status = $('status');
  const say = (t) => { status.textContent = t || ''; };
  const fail = (t) => { error.textContent = t || ''; if (t) say(''); };

  function signedIn(body) {
    say('Signed in.');
    window.location.assign(body && body.enrollmentRequired ? '/admin/security' : '/admin');
  }

  // ---- sign in ---------------------------------------------------------------------

  const loginForm = $('login-form');
  if (loginForm) {
    let sessionToken = null;
    const second = $('second-factor');
    const usePasskey = $('use-passkey');
    const useFace = $('use-face');
    const loginButton = $('login');

    loginForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      fail('');
      const email = $('email').value.trim();
      const password = $('password').value;
      if (!email || !password) {
        fail('Enter your e-mail and password.');
        return;
      }
      loginButton.disabled = true;
      say('Signing in…');
      const res = await C.api('POST', '/api/auth/login', { email, password });
      loginButton.disabled = false;
      if (!res.ok) {
        fail(C.errorText(res, 'Sign-in failed.'));
        return;
      }
      const body = res.body;
      if (body.requires_2fa) {
        sessionToken = body.sessionToken;
        const methods = body.methods || {};
        loginForm.hidden = true;
        second.hidden = false;
        usePasskey.hidden = !methods.passkey;
        useFace.hidden = !methods.face;
        say(methods.passkey || methods.face ? 'Confirm it is you.' : 'No second factor is available for this account.');
        return;
      }
      if (body.success) {
        signedIn(body);
        return;
      }
      fail('Unexpected answer from the server.');
    });

    usePasskey.addEventListener('click', async () => {
      fail('');
      if (!window.PublicKeyCredential || !navigator.credentials) {
        fail('This browser does not support passkeys.');
        return;
      }
      usePasskey.disabled = true;
      try {
        const opts = await C.api('POST', '/api/auth/2fa/passkey/authenticate-options', { sessionToken });
        if (!opts.ok) throw new Error(C.errorText(opts));
        say('Follow your browser\'s prompt…');
        const cred = await navigator.credentials.get({ publicKey: C.requestOptions(opts.body.options) });
        if (!cred) throw new Error('No passkey was used.');
        const res = await C.api('POST', '/api/auth/2fa/passkey/authenticate', {
          sessionToken,
          credential: C.credentialJson(cred),
        });
        if (!res.ok || !res.body.success) throw new Error(C.errorText(res, 'The passkey was not accepted.'));
        signedIn(res.body);
      } catch (e) {
        fail(e && e.name === 'NotAllowedError' ? 'The passkey prompt was cancelled.' : String(e.message || e));
      } finally {
        usePasskey.disabled = false;
      }
    });

    useFace.addEventListener('click', async () => {
      fail('');
      useFace.disabled = true;
      usePasskey.disabled = true;
      const video = $('face-video');
      try {
        $('face-step').hidden = false;
        const frames = await C.captureFrames(video, $('face-prompt'), 8, 200);
        const res = await C.api('POST', '/api/auth/2fa/face', { sessionToken, frames });
        if (!res.ok || !res.body.success) throw new Error(C.errorText(res, 'The face scan was not accepted.'));
        signedIn(res.body);
      } catch (e) {
        fail(e && e.name === 'NotAllowedError' ? 'Camera access was refused.' : String(e.message || e));
        $('face-prompt').textContent = '';
      } finally {
        video.hidden = true;
        useFace.disabled = false;
        usePasskey.disabled = false;
      }
    });
  }

  // ---- first password (setup link) ---------------------------------------------------

  const setupForm = $('setup-form');
  if (setupForm) {
    const token = setupForm.dataset.token || '';
    // The token is a credential: keep it out of the address bar and history.
    if (window.history && window.history.replaceState) window.history.replaceState(null, '', '/admin/setup');
    setupForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      fail('');
      const password = $('password').value;
      if (password !== $('password-confirm').value) {
        fail('The two passwords differ.');
        return;
      }
      $('setup').disabled = true;
      say('Saving…');
      const res = await C.api('POST', '/api/auth/setup', { token, password });
      $('setup').disabled = false;
      if (!res.ok) {
        fail(C.errorText(res, 'The password could not be set.'));
        return;
      }
      setupForm.hidden = true;
      say('Your password is set. You can sign in now.');
      $('to-login').hidden = false;
    });
  }

  // ---- first organisation and admin (a fresh install's link) --------------------------

  const bootstrapForm = $('bootstrap-form');
  if (bootstrapForm) {
    const token = bootstrapForm.dataset.token || '';
    if (window.history && window.history.replaceState) window.history.replaceState(null, '', '/admin/bootstrap');
    bootstrapForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      fail('');
      const password = $('password').value;
      if (password !== $('password-confirm').value) {
        fail('The two passwords differ.');
        return;
      }
      $('bootstrap').disabled = true;
      say('Creating…');
      const res = await C.api('POST', '/api/auth/bootstrap', {
        token,
        orgName: $('org-name').value.trim(),
        email: $('email').value.trim(),
        password,
      });
      $('bootstrap').disabled = false;
      if (!res.ok || !res.body.success) {
        fail(C.errorText(res, 'The organisation could not be created.'));
        return;
      }
      say('Signed in.');
      window.location.assign('/admin?done=welcome');
    });
  }
})();
