// The vendor's own browser SDK, unmodified (npm @prove-identity/prove-auth, installed in
// tests/e2e/node_modules by scripts/install-deps.sh; its licence allows installing it for
// tests, not copying it, so it is never committed), against vouch, in Debian's Chromium.
// For crates/server/tests/phone_browser.rs, which starts vouch and an OAuth client.
//
// This driver plays a customer: a site on its own loopback origin (so the SDK's calls to
// vouch are cross-origin, as on a real site) whose page loads the SDK's release bundle and
// whose server calls vouch's /token, /v3/start and /v3/validate. The page uses the SDK
// the way the vendor's documentation writes it: isMobileWeb() picks the flow type, then
// AuthenticatorBuilder with withOtpFallback (phone) or withInstantLinkFallback (desktop)
// and authenticate(authToken). Texts are read from vouch's dev inbox, as a person reads
// their phone.
//
//   node prove_auth.mjs '{"url": "http://127.0.0.1:PORT", "clientId": "...", "clientSecret": "...",
//                         "scenario": "otp" | "otp-no-retry" | "link", "phone": "+12015550100",
//                         "screenshots": "dir"}'
//
// Prints one JSON line: {scenario, isMobileWeb, log, authenticated, rejected, validation,
// correlationId, texts, linkLanding, failure}.
import { chromium } from 'playwright-core';
import { devInbox } from './inbox.mjs';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';

const cfg = JSON.parse(process.argv[2]);
const STEP_TIMEOUT = 30_000;
const base = cfg.url.replace(/\/+$/, '');
fs.mkdirSync(cfg.screenshots, { recursive: true });
const require = createRequire(import.meta.url);
const bundle = path.join(path.dirname(require.resolve('@prove-identity/prove-auth/package.json')),
  'build/bundle/release/prove-auth.js');

const ANDROID_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) '
  + 'Chrome/126.0.0.0 Mobile Safari/537.36';
const phoneContext = { userAgent: ANDROID_UA, isMobile: true, hasTouch: true, viewport: { width: 390, height: 844 } };

const sms = devInbox(base, STEP_TIMEOUT);
const inbox = sms.list;
const nextText = sms.next;

// ---- the customer's server -----------------------------------------------------------

async function accessToken() {
  const r = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: cfg.clientId, client_secret: cfg.clientSecret }),
  });
  if (!r.ok) throw new Error(`/token: ${r.status} ${await r.text()}`);
  return (await r.json()).access_token;
}

async function v3(pathName, body) {
  const r = await fetch(`${base}${pathName}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await accessToken()}` },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

const page = `<!doctype html><html><head><meta charset="utf-8"><title>Customer sign-up</title>
<script src="/prove-auth.js"></script></head><body><h1>Customer sign-up</h1><p id="state">ready</p>
<script>
  window.__log = [];
  const note = (...e) => { window.__log.push(e); document.getElementById('state').textContent = e.join(' '); };
  window.isMobile = () => new proveAuth.AuthenticatorBuilder().build().isMobileWeb();
  async function call(p, body) {
    const r = await fetch(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return r.json();
  }
  window.start = (flowType, phoneNumber, allowOTPRetry) => call('/api/start', { flowType, phoneNumber, allowOTPRetry });
  window.validate = (correlationId) => call('/api/validate', { correlationId });
  // The code the person types, given by the driver.
  window.codes = [];
  window.typeCode = (c) => { const w = window.codeWaiter; window.codeWaiter = null; if (w) w(c); else window.codes.push(c); };
  const nextCode = () => new Promise((r) => { if (window.codes.length) r(window.codes.shift()); else window.codeWaiter = r; });
  const finish = (input) => { note('finish', input.authId); return Promise.resolve(); };
  window.runOtp = (authToken) => {
    const otpStart = (phoneNumberNeeded, err) => {
      note('otp-start', phoneNumberNeeded, err ? err.message : '');
      return Promise.resolve(phoneNumberNeeded ? { phoneNumber: window.PHONE } : null);
    };
    const otpFinish = async (err) => {
      note('otp-finish', err ? err.message : '');
      const otp = await nextCode();
      return { resultType: proveAuth.OtpFinishResultType.OnSuccess, input: { otp } };
    };
    const a = new proveAuth.AuthenticatorBuilder()
      .withAuthFinishStep(finish)
      .withMobileAuthImplementation('fetch')
      .withOtpFallback(otpStart, otpFinish)
      .build();
    window.outcome = a.authenticate(authToken).then(() => 'authenticated', (e) => 'rejected: ' + e.message);
  };
  window.runLink = (authToken) => {
    const linkStart = (phoneNumberNeeded, err) => {
      note('link-start', phoneNumberNeeded, err ? err.message : '');
      return Promise.resolve(phoneNumberNeeded ? { phoneNumber: window.PHONE } : null);
    };
    const a = new proveAuth.AuthenticatorBuilder()
      .withAuthFinishStep(finish)
      .withInstantLinkFallback(linkStart)
      .withRole('secondary')
      .build();
    window.outcome = a.authenticate(authToken).then(() => 'authenticated', (e) => 'rejected: ' + e.message);
  };
</script></body></html>`;

let siteUrl;
const site = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/') {
      res.setHeader('content-type', 'text/html');
      return res.end(page);
    }
    if (req.method === 'GET' && url.pathname === '/prove-auth.js') {
      res.setHeader('content-type', 'text/javascript');
      return res.end(fs.readFileSync(bundle));
    }
    if (req.method === 'GET' && url.pathname === '/phone-verified') {
      res.setHeader('content-type', 'text/html');
      return res.end('<!doctype html><title>Customer site</title><h1>Phone verified: continue on your computer</h1>');
    }
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? JSON.parse(raw) : {};
    let answer;
    if (url.pathname === '/api/start') {
      const start = { flowType: body.flowType, phoneNumber: body.phoneNumber, allowOTPRetry: body.allowOTPRetry };
      if (body.flowType === 'desktop') start.finalTargetUrl = `${siteUrl}/phone-verified`;
      answer = await v3('/v3/start', start);
    } else if (url.pathname === '/api/validate') {
      answer = await v3('/v3/validate', { correlationId: body.correlationId });
    } else {
      res.statusCode = 404;
      return res.end('{}');
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(answer));
  } catch (e) {
    res.statusCode = 500;
    res.end(JSON.stringify({ error: String(e) }));
  }
});
await new Promise((r) => site.listen(0, '127.0.0.1', r));
siteUrl = `http://127.0.0.1:${site.address().port}`;

// ---- the person ----------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: process.env.VOUCH_CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const out = { scenario: cfg.scenario, texts: [] };
const seen = new Set((await inbox(cfg.phone)).map((m) => m.id));
try {
  const mobile = cfg.scenario !== 'link';
  const context = await browser.newContext(mobile ? phoneContext : { viewport: { width: 1100, height: 900 } });
  const tab = await context.newPage();
  tab.on('console', (m) => { if (m.type() === 'error') (out.console ||= []).push(m.text()); });
  await tab.goto(siteUrl);
  out.isMobileWeb = await tab.evaluate(() => window.isMobile());
  const flowType = out.isMobileWeb ? 'mobile' : 'desktop';
  const started = await tab.evaluate(([f, p, retry]) => { window.PHONE = p; return window.start(f, p, retry); },
    [flowType, cfg.phone, cfg.scenario === 'otp']);
  if (started.status !== 200) throw new Error(`/v3/start: ${JSON.stringify(started)}`);
  out.correlationId = started.body.correlationId;
  out.authTokenClaims = JSON.parse(Buffer.from(started.body.authToken.split('.')[1], 'base64url').toString());

  if (mobile) {
    await tab.evaluate((t) => window.runOtp(t), started.body.authToken);
    let text = await nextText(cfg.phone, seen);
    out.texts.push(text.body);
    const code = (text.body.match(/code is (\d{4,8})/) || [])[1];
    if (!code) throw new Error(`no code in the text: ${text.body}`);
    const wrong = code.split('').map((d) => String((Number(d) + 1) % 10)).join('');
    await tab.evaluate((c) => window.typeCode(c), wrong);
    if (cfg.scenario === 'otp') {
      // The SDK asks the page again with the server's OtpError; the right code then.
      await tab.waitForFunction(() => window.__log.filter((e) => e[0] === 'otp-finish').length >= 2, null, { timeout: STEP_TIMEOUT });
      await tab.evaluate((c) => window.typeCode(c), code);
    }
  } else {
    await tab.evaluate((t) => window.runLink(t), started.body.authToken);
    const text = await nextText(cfg.phone, seen);
    out.texts.push(text.body);
    const link = (text.body.match(/https?:\/\/\S+/) || [])[0];
    if (!link) throw new Error(`no link in the text: ${text.body}`);
    await tab.screenshot({ path: path.join(cfg.screenshots, '1-desktop-waiting.png') });
    // The person opens the link on their phone (another browser).
    const phone = await browser.newContext(phoneContext);
    const phoneTab = await phone.newPage();
    await phoneTab.goto(link);
    out.linkLanding = phoneTab.url();
    await phoneTab.screenshot({ path: path.join(cfg.screenshots, '2-phone-landing.png') });
    await phone.close();
  }
  const outcome = await tab.evaluate(() => Promise.race([
    window.outcome,
    new Promise((r) => setTimeout(() => r('timeout'), 30000)),
  ]));
  out.authenticated = outcome === 'authenticated';
  if (outcome.startsWith('rejected')) out.rejected = outcome.slice('rejected: '.length);
  if (outcome === 'timeout') throw new Error('authenticate() neither resolved nor rejected in 30 s');
  out.log = await tab.evaluate(() => window.__log);
  out.validation = (await tab.evaluate((id) => window.validate(id), out.correlationId));
  await tab.screenshot({ path: path.join(cfg.screenshots, '3-done.png') });
} catch (e) {
  out.failure = String(e && e.stack || e);
} finally {
  await browser.close();
  site.close();
}
console.log(JSON.stringify(out));
