// Drives vouch's phone verification example page (/dev/phone-demo, which runs the client
// SDK /sdk/vouch-auth.js) in Debian's Chromium, for crates/server/tests/phone_browser.rs,
// which starts the server, creates the OAuth client and checks the outcome through the API.
// The texts are read from the dev inbox (GET /dev/sms), as a person reads their phone.
//
//   node phone.mjs '{"url": "http://127.0.0.1:PORT", "clientId": "...", "clientSecret": "...",
//                    "phone": "+12015550100", "flow": "mobile", "mobile": true,
//                    "wrongCodeFirst": true, "resend": false, "cancel": false,
//                    "screenshots": "dir"}'
//
// The Instant Link lands on the customer's site: a page this driver serves on a loopback
// port (the flow's finalTargetUrl; Playwright cannot route a redirect's target).
//
// Prints one JSON line: {detectedFlow, states, otpErrorText, resultText, validated,
// correlationId, validation, errorText, smsSent, texts, finalTargetUrl, linkLanding,
// linkLandingText, sameDocument, steps, log, failure}. With VOUCH_E2E_LOCAL_ASSETS=1 the SDK and the page are served from
// crates/server/assets/ instead of the server (to edit them without rebuilding it).
import { chromium } from 'playwright-core';
import { devInbox } from './inbox.mjs';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cfg = JSON.parse(process.argv[2]);
const STEP_TIMEOUT = 30_000;
const base = cfg.url.replace(/\/+$/, '');
fs.mkdirSync(cfg.screenshots, { recursive: true });

const IPHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 '
  + '(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const phoneContext = { userAgent: IPHONE_UA, isMobile: true, hasTouch: true, viewport: { width: 390, height: 844 } };

const sms = devInbox(base, STEP_TIMEOUT);
const inbox = sms.list;
const nextText = sms.next;

const browser = await chromium.launch({
  executablePath: process.env.VOUCH_CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const out = { steps: [], texts: [] };
// The customer's site, where the Instant Link sends the phone.
const site = http.createServer((req, res) => {
  res.setHeader('content-type', 'text/html');
  res.end('<!doctype html><title>Customer site</title><h1>Customer site: continue on your computer</h1>');
});
await new Promise((r) => site.listen(0, '127.0.0.1', r));
out.finalTargetUrl = `http://127.0.0.1:${site.address().port}/phone-verified`;
try {
  const context = await browser.newContext(cfg.mobile ? { ...phoneContext, locale: 'en-US' } : {
    locale: 'en-US', viewport: { width: 1100, height: 900 },
  });
  if (process.env.VOUCH_E2E_LOCAL_ASSETS === '1') {
    const assets = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../crates/server/assets');
    await context.route(`${base}/sdk/vouch-auth.js`, (route) => route.fulfill({
      status: 200, contentType: 'text/javascript', body: fs.readFileSync(path.join(assets, 'vouch-auth.js')),
    }));
    await context.route(`${base}/dev/phone-demo`, (route) => route.fulfill({
      status: 200, contentType: 'text/html', body: fs.readFileSync(path.join(assets, 'phone-demo.html')),
    }));
    out.localAssets = true;
  }
  // Every state the page goes through (body[data-state]).
  await context.addInitScript(() => {
    window.__states = [];
    document.addEventListener('DOMContentLoaded', () => {
      const note = () => {
        const s = document.body.dataset.state;
        if (window.__states[window.__states.length - 1] !== s) window.__states.push(s);
      };
      note();
      new MutationObserver(note).observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
    });
  });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') process.stderr.write(`console: ${m.text()}\n`); });
  page.on('pageerror', (e) => process.stderr.write(`pageerror: ${e.message}\n`));
  let n = 0;
  const shot = async (name, p = page) => {
    n += 1;
    out.steps.push(name);
    await p.screenshot({ path: path.join(cfg.screenshots, `${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  const state = async (states, timeout = STEP_TIMEOUT) => {
    await page.waitForSelector(states.map((s) => `body[data-state="${s}"]`).join(', '), { timeout, state: 'attached' });
    return page.evaluate(() => document.body.dataset.state);
  };
  const seen = new Set((await inbox(cfg.phone)).map((m) => m.id));
  const before = seen.size;

  const resp = await page.goto(`${base}/dev/phone-demo`);
  out.httpStatus = resp.status();
  await page.waitForSelector('body[data-ready="true"]', { timeout: STEP_TIMEOUT, state: 'attached' });
  out.detectedFlow = await page.evaluate(() => document.body.dataset.detectedFlow);
  await page.fill('#client-id', cfg.clientId);
  await page.fill('#client-secret', cfg.clientSecret);
  await page.fill('#phone', cfg.phone);
  await page.selectOption('#flow-type', cfg.flow);
  if (cfg.flow === 'desktop') await page.fill('#final-target-url', out.finalTargetUrl);
  await shot('form');
  await page.click('#start');
  let at = await state(['otp-start', 'link-start', 'done']);

  if (at === 'otp-start') {
    await shot('otp-start');
    await page.click('#otp-send');
    await state(['otp-finish']);
    const text = await nextText(cfg.phone, seen);
    out.texts.push(text.body);
    let code = (text.body.match(/code is (\d{4,8})/) || [])[1];
    if (!code) throw new Error(`no code in the text: ${text.body}`);
    if (cfg.resend) {
      // "Send a new code": a second text, whose code replaces the first.
      await page.click('#otp-resend');
      await page.waitForFunction(() => window.__states.filter((s) => s === 'otp-finish').length >= 2, null, { timeout: STEP_TIMEOUT });
      const again = await nextText(cfg.phone, seen);
      out.texts.push(again.body);
      code = (again.body.match(/code is (\d{4,8})/) || [])[1];
      await shot('otp-resent');
    }
    if (cfg.wrongCodeFirst) {
      const wrong = code.split('').map((d) => String((Number(d) + 1) % 10)).join('');
      await page.fill('#otp-code', wrong);
      await page.click('#otp-submit');
      await page.waitForFunction(() => document.body.dataset.state === 'otp-finish'
        && document.getElementById('otp-error').textContent.trim() !== '', null, { timeout: STEP_TIMEOUT });
      out.otpErrorText = (await page.textContent('#otp-error')).trim();
      await shot('otp-wrong-code');
    }
    if (cfg.cancel) {
      await page.click('#otp-cancel');
    } else {
      await page.fill('#otp-code', code);
      await shot('otp-code');
      await page.click('#otp-submit');
    }
    at = await state(['done']);
  } else if (at === 'link-start') {
    await shot('link-start');
    await page.click('#link-send');
    await state(['link-wait']);
    await page.evaluate(() => { window.__e2eMarker = 'same-document'; });
    const text = await nextText(cfg.phone, seen);
    out.texts.push(text.body);
    const link = (text.body.match(/https?:\/\/\S+\/l\/[A-Za-z0-9_-]+/) || [])[0];
    if (!link) throw new Error(`no link in the text: ${text.body}`);
    await shot('link-wait');
    // The phone: another browser context, as another device.
    const phone = await browser.newContext(phoneContext);
    const handset = await phone.newPage();
    const landed = await handset.goto(link);
    out.linkStatus = landed.status();
    out.linkLanding = handset.url();
    out.linkLandingText = (await handset.textContent('h1')).trim();
    await shot('phone-opened-link', handset);
    at = await state(['done']);
    out.sameDocument = await page.evaluate(() => window.__e2eMarker === 'same-document');
    await phone.close();
  }

  if (at === 'done') {
    out.resultText = (await page.textContent('#result')).trim();
    out.validated = await page.evaluate(() => document.body.dataset.validated === 'true');
    out.correlationId = (await page.textContent('#correlation-id')).trim();
    out.errorText = (await page.textContent('#error')).trim();
    const json = (await page.textContent('#result-json')).trim();
    out.validation = json ? JSON.parse(json) : null;
    await shot('done');
  }
  out.states = await page.evaluate(() => window.__states);
  out.log = await page.evaluate(() => [...document.querySelectorAll('#log li')].map((li) => li.textContent));
  out.smsSent = (await inbox(cfg.phone)).length - before;
} catch (e) {
  out.failure = String(e && e.stack || e);
} finally {
  await browser.close();
  site.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
