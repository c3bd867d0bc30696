// Drives vouch's hosted verification page in Debian's Chromium with a fake camera, for
// crates/server/tests/hosted_browser.rs, which starts the server, creates the sessions and
// checks the results through the API and the webhook. One run = one browser.
//
//   node drive.mjs '{"url": "...", "y4m": "face.y4m", "document": "passport.jpg",
//                    "screenshots": "dir", "iframe": false, "locale": "en-US",
//                    "redirectPrefix": "https://client.example/", "grantCamera": true}'
//
// Prints one JSON line: {result, error, errorText, postMessage, redirectedTo, lang, texts}.
import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { runHostedFlow } from './hosted.mjs';

const cfg = JSON.parse(process.argv[2]);
const STEP_TIMEOUT = 120_000;
fs.mkdirSync(cfg.screenshots, { recursive: true });

const args = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
  '--use-fake-device-for-media-stream',
];
if (cfg.grantCamera !== false) args.push('--use-fake-ui-for-media-stream');
if (cfg.y4m) args.push(`--use-file-for-fake-video-capture=${cfg.y4m}`);

const browser = await chromium.launch({
  executablePath: process.env.VOUCH_CHROMIUM || '/usr/bin/chromium',
  args,
});
const out = { steps: [] };
let host = null;
try {
  const context = await browser.newContext({
    locale: cfg.locale || 'en-US',
    viewport: cfg.mobile ? { width: 390, height: 844 } : { width: 1100, height: 900 },
  });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') process.stderr.write(`console: ${m.text()}\n`); });
  page.on('pageerror', (e) => process.stderr.write(`pageerror: ${e.message}\n`));
  if (cfg.redirectPrefix) {
    await page.route(cfg.redirectPrefix + '**', (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: '<h1>client app</h1>' }));
  }
  let frame;
  if (cfg.review) {
    // The review page: type the key, load the queue, decide one session with a note.
    const { key, sessionId, decision, note } = cfg.review;
    let n = 0;
    const shot = async (name) => {
      n += 1;
      out.steps.push(name);
      await page.screenshot({ path: path.join(cfg.screenshots, `${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
    };
    await page.goto(cfg.url);
    await page.fill('#api-key', key);
    await page.click('#load');
    const card = `.session[data-id="${sessionId}"]`;
    await page.waitForSelector(`${card} .images img`, { timeout: STEP_TIMEOUT });
    out.queueText = await page.textContent('#queue-status');
    out.cardText = await page.textContent(card);
    await shot('queue');
    await page.fill(`${card} textarea`, note);
    await page.click(`${card} button.${decision === 'APPROVED' ? 'approve' : 'reject'}`);
    await page.waitForSelector(`${card}[data-decided]`, { timeout: STEP_TIMEOUT });
    out.outcome = await page.textContent(`${card} .outcome`);
    await shot('decided');
    process.stdout.write(JSON.stringify(out) + '\n');
    await browser.close();
    process.exit(0);
  }
  if (cfg.iframe) {
    // The client's site on another origin, embedding the page as the spec shows.
    host = http.createServer((req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><html><body><h1>Client site</h1>
        <iframe id="kyc" src="${cfg.url}" allow="camera; microphone"
          style="width: 100%; height: 760px; border: none;"></iframe>
        <script>
          window.received = [];
          window.addEventListener('message', (event) => {
            if (event.data?.type === 'provefy:complete') window.received.push(event.data);
          });
        </script></body></html>`);
    });
    await new Promise((r) => host.listen(0, '127.0.0.1', r));
    await page.goto(`http://127.0.0.1:${host.address().port}/`);
    const handle = await page.waitForSelector('#kyc');
    frame = await handle.contentFrame();
    await frame.waitForSelector('#app, #message');
  } else {
    const resp = await page.goto(cfg.url);
    out.httpStatus = resp.status();
    frame = page.mainFrame();
  }
  let n = 0;
  const shot = async (name) => {
    n += 1;
    out.steps.push(name);
    await page.screenshot({ path: path.join(cfg.screenshots, `${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  out.lang = await frame.evaluate(() => document.documentElement.lang);
  out.title = await frame.evaluate(() => document.querySelector('h1')?.textContent);
  if (cfg.onlyRender) {
    await shot('page');
    out.texts = await frame.evaluate(() => document.body.innerText);
  } else {
    const visible = (id) => frame.waitForSelector(`#${id}:not([hidden])`, { timeout: STEP_TIMEOUT });
    const at = await runHostedFlow(frame, cfg, shot, STEP_TIMEOUT);
    if (at === 'step-error') {
      out.error = await frame.evaluate(() => document.getElementById('app').dataset.error);
      out.errorText = await frame.textContent('#error-text');
      await shot('error');
    } else {
      await visible('step-done');
      out.result = await frame.evaluate(() => document.getElementById('app').dataset.result);
      out.doneText = await frame.textContent('#done-text');
      await shot('done');
      if (cfg.iframe) {
        await page.waitForFunction(() => window.received.length > 0, null, { timeout: 10_000 });
        out.postMessage = await page.evaluate(() => window.received[0]);
      } else if (cfg.redirectPrefix) {
        await page.waitForURL((u) => u.href.startsWith(cfg.redirectPrefix), { timeout: 10_000 });
        out.redirectedTo = page.url();
        await shot('redirected');
      }
    }
  }
} catch (e) {
  out.failure = String(e && e.stack || e);
} finally {
  await browser.close();
  if (host) host.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
