// The hosted page's digital-ID step in Debian's Chromium, for
// crates/server/tests/digital_id.rs: consent, "Use my digital ID", the QR code and wallet
// link of the OpenID4VP request; then the test wallet (tests/wallet/wallet.py, another
// process, as a phone would be) answers that link, and the page, which polls, finishes.
//
//   node digital_id.mjs '{"url": "...", "screenshots": "dir",
//                         "wallet": ["python", "wallet.py", "present", "DIR"], "mode": "ok"}'
//
// Prints one JSON line: {link, qrWidth, claimsText, dcApiOffered, wallet, result} or
// {failure}.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const cfg = JSON.parse(process.argv[2]);
const T = 60_000;
fs.mkdirSync(cfg.screenshots, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.VOUCH_CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const out = { steps: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on('pageerror', (e) => process.stderr.write(`pageerror: ${e.message}\n`));
  let n = 0;
  const shot = async (name) => {
    n += 1;
    out.steps.push(name);
    await page.screenshot({ path: path.join(cfg.screenshots, `${String(n).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
  await page.goto(cfg.url);
  await page.waitForSelector('#step-consent:not([hidden])', { timeout: T });
  out.consentText = await page.textContent('#step-consent');
  await shot('consent');
  await page.check('#consent');
  await page.click('#consent-continue');
  await page.waitForSelector('#step-digital-id:not([hidden])', { timeout: T });
  await shot('digital-id');
  await page.click('#digital-id-start');
  await page.waitForSelector('#digital-id-offer:not([hidden])', { timeout: T });
  await page.waitForFunction(() => document.getElementById('digital-id-qr').naturalWidth > 0, null, { timeout: T });
  out.qrWidth = await page.evaluate(() => document.getElementById('digital-id-qr').naturalWidth);
  out.link = await page.getAttribute('#digital-id-link', 'href');
  out.claimsText = await page.textContent('#digital-id-claims');
  out.dcApiOffered = !(await page.isHidden('#digital-id-dcapi'));
  out.digitalCredentialApi = await page.evaluate(() => typeof window.DigitalCredential !== 'undefined');
  await shot('qr-code');
  // The phone: the wallet opens the link and answers the server.
  const [cmd, ...args] = cfg.wallet;
  out.wallet = JSON.parse(execFileSync(cmd, [...args, out.link, cfg.mode || 'ok'], { encoding: 'utf8' }).trim().split('\n').pop());
  await page.waitForSelector('#step-done:not([hidden]), #step-error:not([hidden])', { timeout: T });
  out.result = await page.evaluate(() => document.getElementById('app').dataset.result || null);
  out.error = await page.evaluate(() => document.getElementById('app').dataset.error || null);
  await shot('done');
} catch (e) {
  out.failure = String((e && e.stack) || e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out) + '\n');
