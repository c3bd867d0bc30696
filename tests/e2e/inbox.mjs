// vouch's dev SMS inbox (GET /dev/sms), read by the browser drivers as a person reads
// their phone: phone.mjs (vouch's SDK) and prove_auth.mjs (the vendor's SDK).

/** An inbox of the server at `base`: `list(to)` newest first, `next(to, seen)` waits for
 *  a text not in `seen` (ids; it is added) for up to `timeoutMs`. */
export function devInbox(base, timeoutMs = 30_000) {
  async function list(to) {
    const r = await fetch(`${base}/dev/sms?to=${encodeURIComponent(to)}&limit=1000`);
    if (!r.ok) throw new Error(`GET /dev/sms: ${r.status} ${await r.text()}`);
    return (await r.json()).messages;
  }
  async function next(to, seen) {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const fresh = (await list(to)).filter((m) => !seen.has(m.id));
      if (fresh.length > 0) {
        seen.add(fresh[0].id);
        return fresh[0];
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no new text to ${to} within ${timeoutMs / 1000} s`);
  }
  return { list, next };
}
