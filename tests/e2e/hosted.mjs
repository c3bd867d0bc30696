// The hosted verification page's steps as a person takes them, shared by drive.mjs and
// first_run.mjs: consent, the selfie with the fake camera (the page prompts a blink),
// then the document upload when the session asks for one.
//
//   const at = await runHostedFlow(frame, { document, documentType }, shot, timeoutMs);
//
// Returns the id of the section the page ended on: 'step-done' or 'step-error'.
export async function runHostedFlow(frame, cfg, shot, timeout) {
  const visible = (id) => frame.waitForSelector(`#${id}:not([hidden])`, { timeout });
  // One of several sections, whichever shows first.
  const first = async (ids) => {
    const el = await frame.waitForSelector(ids.map((id) => `#${id}:not([hidden])`).join(', '), { timeout });
    return el.getAttribute('id');
  };
  await visible('step-consent');
  await shot('consent');
  await frame.check('#consent');
  await frame.click('#consent-continue');
  let at = await first(['step-selfie', 'step-document', 'step-working', 'step-error', 'step-done']);
  if (at === 'step-selfie') {
    await shot('selfie');
    await frame.click('#selfie-start');
    const prompting = await frame.waitForSelector('#app[data-prompt="promptBlink"], #step-error:not([hidden])', { timeout });
    if ((await prompting.getAttribute('id')) === 'app') await shot('selfie-blink');
    at = await first(['step-error', 'step-working']);
    if (at === 'step-working') {
      // Caught while the prompts run (the capture takes about two seconds).
      await shot('selfie-analysing');
      at = await first(['step-document', 'step-error', 'step-done']);
    }
  }
  if (at === 'step-document') {
    await shot('document');
    await frame.click(`.choice[data-doc="${cfg.documentType || 'passport'}"]`);
    await frame.setInputFiles('#doc-file', cfg.document);
    await visible('doc-use');
    await shot('document-preview');
    await frame.click('#doc-use');
    at = await first(['step-done', 'step-error']);
  }
  return at;
}
