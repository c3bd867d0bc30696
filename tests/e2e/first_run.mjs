// A newcomer's first run in Debian's Chromium, for crates/cli/tests/first_run.rs, which
// starts `vouch serve` on an empty data folder and hands over the one-time setup link it
// printed: the organisation and first admin are created on the link's page, an API key
// is created in the console (its secret read once), then "Try a verification" opens the
// hosted flow, where the fake camera plays a face that blinks and a passport with the
// same face is uploaded; the page's redirect lands on the session's console page.
//
//   node first_run.mjs '{"link": "...", "y4m": "face.y4m", "document": "passport.jpg",
//                        "screenshots": "dir", "email": "...", "password": "..."}'
//
// Prints one JSON line: {apiKey, sessionId, result, sessionUrl, sessionText, welcome,
// replayed} or {failure}.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { runHostedFlow } from './hosted.mjs';

const cfg = JSON.parse(process.argv[2]);
const T = 120_000;
fs.mkdirSync(cfg.screenshots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.VOUCH_CHROMIUM || '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-video-capture=${cfg.y4m}`,
  ],
});
const out = { steps: [] };
try {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => process.stderr.write(`pageerror: ${e.message}\n`));
  let n = 0;
  const shot = async (name) => {
    n += 1;
    out.steps.push(name);
    await page.screenshot({ path: path.join(cfg.screenshots, `${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  const origin = new URL(cfg.link).origin;

  // 1. The setup link: the organisation and the first admin.
  await page.goto(cfg.link);
  await page.waitForSelector('#bootstrap-form');
  await shot('setup');
  await page.fill('#org-name', 'First Run Ltd');
  await page.fill('#email', cfg.email);
  await page.fill('#password', cfg.password);
  await page.fill('#password-confirm', cfg.password);
  await page.click('#bootstrap');
  await page.waitForURL((u) => u.pathname === '/admin', { timeout: T });
  out.welcome = await page.textContent('.notice');
  await shot('welcome');

  // 2. An API key for the application, shown once.
  await page.click('#start-key');
  await page.waitForSelector('#create-key');
  await page.fill('#key-name', 'My app');
  await Promise.all([page.waitForNavigation(), page.click('#create-key button[type=submit]')]);
  await page.waitForSelector('#new-key-secret', { timeout: T });
  out.apiKey = (await page.textContent('#new-key-secret')).trim();
  await shot('key-created');

  // 3. Try a verification: the hosted flow on the console's origin.
  await page.goto(`${origin}/admin`);
  await page.check('input[name=kind][value=document]');
  await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/verify/'), { timeout: T }), page.click('#try')]);
  const at = await runHostedFlow(page.mainFrame(), { document: cfg.document }, shot, T);
  if (at === 'step-error') {
    out.error = await page.textContent('#error-text');
    await shot('error');
    throw new Error(`the hosted flow ended in an error: ${out.error}`);
  }
  out.result = await page.evaluate(() => document.getElementById('app').dataset.result);
  await shot('done');

  // 4. Back in the console, on the session's page.
  await page.waitForURL((u) => u.pathname.startsWith('/admin/sessions/'), { timeout: T });
  out.sessionUrl = page.url();
  out.sessionId = new URL(out.sessionUrl).pathname.split('/').pop();
  out.sessionText = await page.textContent('main');
  await shot('session');

  // 5. The link is spent: opening it again offers no form.
  await page.goto(cfg.link);
  out.replayed = await page.textContent('#error');
  await shot('link-spent');
} catch (e) {
  out.failure = String((e && e.stack) || e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
