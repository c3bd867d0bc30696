// Drives vouch's admin console (/admin) in Debian's Chromium, for
// crates/server/tests/console_browser.rs, which starts the server on
// http://localhost:PORT (passkeys need a domain), creates the admins and the sessions
// and checks the outcome through the store and the API. One run = one browser.
//
//   node console.mjs '{"origin": "http://localhost:PORT", "scenario": "passkey",
//                      "email": "...", "password": "...", "screenshots": "dir",
//                      "y4m": "face.y4m", ...}'
//
// Scenarios: passkey (sign in, add a passkey with a virtual authenticator, sign out,
// sign in with it), face-enrol (sign in, enrol face 2FA on the security page with the
// fake camera), face-login (sign in with a face scan), review (approve a session of the
// review queue with a reason), keys (create a key, pause at a checkpoint, revoke it).
//
// A checkpoint prints {"checkpoint": name, ...} and waits for one JSON line on stdin
// (the test checks something from outside the browser, then answers). The last line
// printed is the result: {done: true, steps, ...} or {failure, steps, ...}.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

const cfg = JSON.parse(process.argv[2]);
const T = 60_000;
fs.mkdirSync(cfg.screenshots, { recursive: true });

const args = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];
if (cfg.y4m) {
  args.push('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${cfg.y4m}`);
}

let stdinLines = null;
async function checkpoint(name, data) {
  process.stdout.write(JSON.stringify({ checkpoint: name, ...data }) + '\n');
  if (!stdinLines) stdinLines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const { value, done } = await stdinLines.next();
  if (done) throw new Error(`stdin closed at checkpoint ${name}`);
  const reply = JSON.parse(value);
  if (reply.abort) throw new Error(`aborted at checkpoint ${name}: ${reply.abort}`);
  return reply;
}

const out = { steps: [], consoleErrors: [], pageErrors: [], dialogs: [], httpErrors: [] };
const browser = await chromium.launch({
  executablePath: process.env.VOUCH_CHROMIUM || '/usr/bin/chromium',
  args,
});
let page = null;
try {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1200, height: 900 } });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') {
      out.consoleErrors.push(m.text());
      process.stderr.write(`console: ${m.text()}\n`);
    }
  });
  page.on('pageerror', (e) => {
    out.pageErrors.push(e.message);
    process.stderr.write(`pageerror: ${e.message}\n`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) out.httpErrors.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  page.on('dialog', async (d) => {
    out.dialogs.push(d.message());
    await d.accept();
  });

  let n = 0;
  const shot = async (name) => {
    n += 1;
    out.steps.push(name);
    await page.screenshot({ path: path.join(cfg.screenshots, `${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  const url = (p) => cfg.origin + p;
  const text = async (sel) => ((await page.textContent(sel)) || '').trim();

  // Waits for the page to reach `pathname` (and `search`, when given); fails early with
  // the text of `errorSel` when the page shows an error there instead.
  async function arrive(pathname, errorSel, search) {
    const ok = page
      .waitForURL((u) => u.pathname === pathname && (!search || u.search.includes(search)), { timeout: T })
      .then(() => null);
    const bad = page
      .waitForFunction((sel) => {
        const el = document.querySelector(sel);
        const t = el && el.textContent.trim();
        // Progress texts are not errors.
        return t && !/…$|^Passkey added\.$|^Signed in\.$|^Face 2FA is set up\.$/.test(t) ? t : null;
      }, errorSel, { timeout: T, polling: 100 })
      .then((h) => h.jsonValue())
      .catch(() => new Promise(() => {}));
    const err = await Promise.race([ok, bad]);
    if (err) throw new Error(`${errorSel} says: ${err} (at ${page.url()})`);
  }

  // Sign-in with e-mail and password; returns the path the page went to, or
  // '2fa' when it asks for a second factor.
  async function signIn(label) {
    await page.goto(url('/admin/login'));
    await page.waitForSelector('#login-form');
    await page.fill('#email', cfg.email);
    await page.fill('#password', cfg.password);
    await shot(`${label}-login`);
    await page.click('#login');
    const first = await Promise.race([
      page.waitForURL((u) => u.pathname !== '/admin/login', { timeout: T }).then(() => 'moved'),
      page.waitForSelector('#second-factor:not([hidden])', { timeout: T }).then(() => '2fa'),
      page.waitForSelector('#error:not(:empty)', { timeout: T }).then(() => 'error'),
    ]);
    if (first === 'error') throw new Error(`sign-in failed: ${await text('#error')}`);
    if (first === '2fa') {
      out.secondFactor = {
        passkey: await page.isVisible('#use-passkey'),
        face: await page.isVisible('#use-face'),
        status: await text('#status'),
      };
      await shot(`${label}-second-factor`);
      return '2fa';
    }
    await page.waitForLoadState('load');
    await shot(`${label}-signed-in`);
    return new URL(page.url()).pathname;
  }

  async function signOut(label) {
    await page.click('#logout');
    await page.waitForURL((u) => u.pathname === '/admin/login', { timeout: T });
    await page.waitForSelector('#login-form');
    await shot(`${label}-signed-out`);
  }

  // The camera is open and the capture runs (the footage shows in the video).
  async function blinkPrompt() {
    await page.waitForSelector('#face-video:not([hidden])', { timeout: T });
    await page.waitForFunction(() => /^(Blink now|Checking…)$/.test(document.getElementById('face-prompt')?.textContent || ''),
      null, { timeout: T, polling: 50 });
  }

  // After a second factor: the console's overview.
  async function landed(label) {
    await arrive('/admin', '#error');
    await page.waitForSelector('nav.side');
    out.landedAt = new URL(page.url()).pathname;
    out.landedTitle = await text('main h1');
    out.banner = await page.isVisible('#enrol-banner');
    out.who = await text('nav .who');
    await shot(`${label}-console`);
  }

  switch (cfg.scenario) {
    case 'passkey': {
      out.firstLanding = await signIn('first');
      if (out.firstLanding !== '/admin/security') throw new Error(`first sign-in landed on ${out.firstLanding}`);
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
          hasUserVerification: true, isUserVerified: true,
        },
      });
      await page.fill('#passkey-name', cfg.passkeyName);
      await shot('security-before');
      await page.click('#add-passkey');
      const added = page.waitForSelector('#passkeys tr[data-passkey]', { timeout: T }).then(() => null);
      const refused = page
        .waitForFunction(() => {
          const t = document.getElementById('passkey-status')?.textContent.trim();
          return t && !/…$|^Passkey added\.$/.test(t) ? t : null;
        }, null, { timeout: T, polling: 100 })
        .then((h) => h.jsonValue())
        .catch(() => new Promise(() => {}));
      const err = await Promise.race([added, refused]);
      if (err) throw new Error(`adding the passkey failed: ${err}`);
      out.passkeyRow = await text('#passkeys tr[data-passkey]');
      out.credentials = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials.length;
      await shot('security-passkey-added');
      await signOut('first');
      if ((await signIn('second')) !== '2fa') throw new Error('the second sign-in did not ask for 2FA');
      await page.click('#use-passkey');
      await landed('passkey');
      const used = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
      out.signCount = used.length ? used[0].signCount : null;
      await page.goto(url('/admin/security'));
      out.passkeyRowAfter = await text('#passkeys tr[data-passkey]');
      await shot('security-after');
      break;
    }
    case 'face-enrol': {
      out.firstLanding = await signIn('enrol');
      if (out.firstLanding !== '/admin/security') throw new Error(`sign-in landed on ${out.firstLanding}`);
      out.startDisabledBeforeConsent = await page.isDisabled('#face-start');
      await page.check('#face-consent');
      await shot('consent');
      await page.click('#face-start');
      await blinkPrompt();
      await shot('scanning');
      const done = page.waitForFunction(() => /is set up/.test(document.getElementById('face-status')?.textContent || ''),
        null, { timeout: T, polling: 100 }).then(() => null);
      const refused = page
        .waitForFunction(() => {
          const t = document.getElementById('face-prompt')?.textContent.trim();
          return t && !/…$|^Blink now$|^Face 2FA is set up\.$/.test(t) ? t : null;
        }, null, { timeout: T, polling: 100 })
        .then((h) => h.jsonValue())
        .catch(() => new Promise(() => {}));
      const err = await Promise.race([done, refused]);
      if (err) throw new Error(`face enrolment failed: ${err}`);
      out.faceStatus = await text('#face-status');
      await shot('enrolled');
      await signOut('enrol');
      break;
    }
    case 'face-login': {
      if ((await signIn('face')) !== '2fa') throw new Error('sign-in did not ask for 2FA');
      await page.click('#use-face');
      await blinkPrompt();
      await shot('face-scanning');
      await landed('face');
      break;
    }
    case 'review': {
      out.firstLanding = await signIn('review');
      await page.goto(url('/admin/review'));
      const card = `article.case[data-session="${cfg.sessionId}"]`;
      await page.waitForSelector(card);
      out.queueCount = await text('#queue-count');
      out.cardText = await text(card);
      await shot('queue');
      await page.fill(`${card} textarea[name="reason"]`, cfg.reason);
      await shot('reason');
      await page.click(`${card} button.approve`);
      await arrive('/admin/review', '#error', 'done=approved');
      out.notice = await text('#notice');
      out.stillQueued = await page.isVisible(card);
      out.queueCountAfter = await text('#queue-count');
      await shot('approved');
      await page.goto(url(`/admin/sessions/${cfg.sessionId}`));
      out.decision = await text('#session-decision');
      await shot('session');
      await page.goto(url('/admin/audit'));
      out.auditHasReason = (await page.textContent('body')).includes(cfg.reason);
      await shot('audit');
      break;
    }
    case 'keys': {
      out.firstLanding = await signIn('keys');
      await page.goto(url('/admin/keys'));
      await page.waitForSelector('#create-key');
      await page.fill('#key-name', cfg.keyName);
      await shot('keys');
      await page.click('#create-key-submit');
      await page.waitForSelector('#new-key-secret', { timeout: T });
      const secret = await text('#new-key-secret');
      const id = await text('#new-key-id');
      out.keyId = id;
      await shot('key-created');
      const reply = await checkpoint('key-created', { keyId: id, secret });
      out.whoamiBefore = reply.whoami;
      await page.goto(url('/admin/keys'));
      const row = `#keys tr[data-key="${id}"]`;
      await page.waitForSelector(row);
      out.rowBefore = await text(row);
      await shot('keys-listed');
      await page.click(`${row} form[action$="/revoke"] button`);
      await arrive('/admin/keys', '#error', 'done=revoked');
      out.notice = await text('#notice');
      out.rowAfter = await text(row);
      out.revokeButtonLeft = await page.isVisible(`${row} form[action$="/revoke"] button`);
      await shot('key-revoked');
      break;
    }
    default:
      throw new Error(`unknown scenario ${cfg.scenario}`);
  }
  out.done = true;
} catch (e) {
  out.failure = String((e && e.stack) || e);
  if (page) {
    out.failedAt = page.url();
    await page.screenshot({ path: path.join(cfg.screenshots, '99-failure.png'), fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close().catch(() => {});
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(0);
