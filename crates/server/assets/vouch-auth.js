// vouch-auth.js: the browser client SDK of vouch's phone identity API (v3).
//
// Proves that the person in front of the browser holds the phone of a flow that the
// customer's server started with POST /v3/start, /v3/verify or /v3/unify (which
// returned the flow's authToken). Mobile flows try the network first (mobile auth) and
// fall back to a one-time code sent by SMS; desktop flows send an Instant Link and wait
// for it to be opened on the phone. Then the AuthFinishStep runs, where the customer's
// server asks vouch for the outcome (/v3/validate, /v3/verify-status, …).
//
//   import { AuthenticatorBuilder } from 'https://vouch.example/sdk/vouch-auth.js';
//   const authenticator = new AuthenticatorBuilder()
//     .withAuthFinishStep(({ authId }) => myBackend.validate(authId))
//     .withOtpFallback(otpStart, otpFinish)            // mobile flows
//     .withInstantLinkFallback(linkStart, linkRetry)   // desktop flows
//     .build();
//   const result = await authenticator.authenticate(authToken);
//
// An ES module without dependencies. Served by every vouch server at /sdk/vouch-auth.js
// and published as the npm package @vouch/auth (sdk/auth/).

/** What an OTP finish step resolves with, as `resultType`. */
export const OtpFinishResultType = Object.freeze({
  /** `input.otp` holds the code the person typed. */
  OnSuccess: 0,
  /** Send a new code (to the same number). */
  OnResendOtp: 1,
  /** Ask for another number (the start step runs again with phoneNumberNeeded true). */
  OnMobileNumberChange: 2,
});

/** What an Instant Link retry step resolves with (a number, or `{resultType}`). */
export const InstantLinkResultType = Object.freeze({
  /** Send the link again to the same number. */
  OnResend: 0,
  /** Ask for another number (the start step runs again with phoneNumberNeeded true). */
  OnMobileNumberChange: 1,
});

/** The error every failure of the SDK is: `code` is machine-readable, `status` the HTTP status when the server answered. */
export class VouchAuthError extends Error {
  constructor(message, { code = 'error', status = 0, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'VouchAuthError';
    this.code = code;
    this.status = status;
  }
}

/** Most times one start step may be asked again for a number the server refused. */
const MAX_NUMBER_PROMPTS = 5;
/** How long to wait for the operator's answer after a network-authentication redirect. */
const REDIRECT_WAIT_MS = 5000;
/** Connection errors in a row on the event stream before giving up. */
const MAX_STREAM_ERRORS = 5;
/** An Instant Link lives 3 minutes; the stream says `timeout` after that. */
const LINK_WAIT_MS = 3 * 60 * 1000 + 15 * 1000;

function defaultBaseUrl() {
  try {
    const here = new URL(import.meta.url);
    if (here.protocol === 'http:' || here.protocol === 'https:') return here.origin;
  } catch (_) {
    // Not a URL (some bundlers): use the page's origin below.
  }
  if (typeof location !== 'undefined' && location.origin && location.origin !== 'null') {
    return location.origin;
  }
  return '';
}

function normaliseBaseUrl(value) {
  if (value === undefined || value === null || value === '') return defaultBaseUrl();
  if (typeof value !== 'string') throw new TypeError('baseUrl must be a string such as "https://vouch.example"');
  let url;
  try {
    url = new URL(value, typeof location !== 'undefined' ? location.href : undefined);
  } catch (_) {
    throw new TypeError(`baseUrl "${value}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`baseUrl must be an http or https URL, not "${value}"`);
  }
  return url.href.replace(/\/+$/, '');
}

/** A step given as a function or as an object with execute(). */
function stepOf(what, step) {
  if (typeof step === 'function') return step;
  if (step && typeof step.execute === 'function') return (...args) => step.execute(...args);
  throw new TypeError(`${what} must be a function or an object with an execute() method`);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function reasonText(reason) {
  if (reason instanceof Error) return reason.message;
  if (typeof reason === 'string' && reason.trim()) return reason.trim();
  if (reason && typeof reason.message === 'string') return reason.message;
  return '';
}

/** Whether the browser looks like a phone or tablet. */
function detectMobileWeb() {
  const nav = typeof navigator !== 'undefined' ? navigator : null;
  if (!nav) return false;
  if (nav.userAgentData && nav.userAgentData.mobile === true) return true;
  const ua = String(nav.userAgent || '');
  if (/Android|iPhone|iPod|iPad|Windows Phone|IEMobile|BlackBerry|BB10|Opera Mini|Mobile|Silk|Kindle/i.test(ua)) {
    return true;
  }
  // iPadOS asks for desktop pages: a "Macintosh" with a touch screen is an iPad.
  return /Macintosh/.test(ua) && Number(nav.maxTouchPoints || 0) > 1;
}

/** Builds an {@link Authenticator}. Every `with…` method returns the builder. */
export class AuthenticatorBuilder {
  /** @param {{baseUrl?: string}} [options] baseUrl: the vouch server (default: where this script was loaded from). */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('AuthenticatorBuilder takes an options object such as {baseUrl: "https://vouch.example"}');
    }
    this._config = {
      baseUrl: normaliseBaseUrl(options.baseUrl),
      authFinish: null,
      otpStart: null,
      otpFinish: null,
      linkStart: null,
      linkRetry: null,
      mobileAuth: 'fetch',
      role: 'primary',
    };
  }

  /** Whether the browser looks like a phone or tablet (use the `mobile` flow type then). */
  isMobileWeb() {
    return detectMobileWeb();
  }

  /** The step that runs once possession is proven: `({authId}) => Promise`; authenticate() resolves with what it returns. */
  withAuthFinishStep(step) {
    this._config.authFinish = stepOf('The AuthFinishStep', step);
    return this;
  }

  /**
   * The SMS one-time code, for mobile flows.
   * start: `(phoneNumberNeeded, phoneValidationError) => Promise<{phoneNumber} | null>`.
   * finish: `(otpError) => Promise<{input: {otp}, resultType: 0} | {resultType: 1} | {resultType: 2}>`.
   * Either rejects to cancel.
   */
  withOtpFallback(startStep, finishStep) {
    this._config.otpStart = stepOf('The OTP start step', startStep);
    this._config.otpFinish = stepOf('The OTP finish step', finishStep);
    return this;
  }

  /**
   * The Instant Link, for desktop flows.
   * start: `(phoneNumberNeeded, phoneValidationError) => Promise<{phoneNumber} | null>`.
   * retry (optional, offered when the link expired unopened):
   * `() => Promise<0 | 1 | {resultType}>` (InstantLinkResultType), or reject to stop.
   */
  withInstantLinkFallback(startStep, retryStep) {
    this._config.linkStart = stepOf('The Instant Link start step', startStep);
    this._config.linkRetry = retryStep === undefined || retryStep === null ? null : stepOf('The Instant Link retry step', retryStep);
    return this;
  }

  /** How mobile auth reaches the operator: only "fetch" (the default) is implemented. */
  withMobileAuthImplementation(implementation) {
    if (implementation !== 'fetch' && implementation !== 'default') {
      throw new TypeError(`Mobile auth implementation "${implementation}" is not supported: use "fetch"`);
    }
    this._config.mobileAuth = 'fetch';
    return this;
  }

  /** "primary" (the device that proves possession) or "secondary" (a desktop waiting for the phone). */
  withRole(role) {
    if (role !== 'primary' && role !== 'secondary') {
      throw new TypeError(`Role must be "primary" or "secondary", not "${role}"`);
    }
    this._config.role = role;
    return this;
  }

  /** The authenticator. */
  build() {
    return new Authenticator({ ...this._config });
  }
}

/** Runs the possession steps of one flow: `authenticate(authToken)`. */
export class Authenticator {
  constructor(config) {
    this._config = config;
    this._running = false;
  }

  /** Whether the browser looks like a phone or tablet. */
  isMobileWeb() {
    return detectMobileWeb();
  }

  /** The vouch server this authenticator talks to. */
  get baseUrl() {
    return this._config.baseUrl;
  }

  /**
   * Proves possession for the flow of `authToken`, then runs the AuthFinishStep with
   * `{authId}` (the correlation id) and resolves with what it returns. Rejects with a
   * {@link VouchAuthError} when possession fails or a step rejects.
   */
  async authenticate(authToken) {
    if (typeof authToken !== 'string' || authToken.trim() === '') {
      throw new VouchAuthError('authenticate() needs the authToken that /v3/start, /v3/verify or /v3/unify returned', { code: 'invalid_argument' });
    }
    if (!this._config.authFinish) {
      throw new VouchAuthError('No AuthFinishStep: call withAuthFinishStep(fn) on the builder', { code: 'not_configured' });
    }
    if (this._running) {
      throw new VouchAuthError('authenticate() is already running for this authenticator', { code: 'in_progress' });
    }
    this._running = true;
    try {
      const flow = new Flow(this._config, authToken.trim());
      const session = await flow.possess();
      return await this._config.authFinish({ authId: session.correlationId });
    } finally {
      this._running = false;
    }
  }
}

/** One run of authenticate(). */
class Flow {
  constructor(config, token) {
    this.config = config;
    this.token = token;
  }

  url(path) {
    return `${this.config.baseUrl}${path}`;
  }

  async call(method, path, body) {
    const headers = { Accept: 'application/json', Authorization: `Bearer ${this.token}` };
    const init = { method, headers, credentials: 'omit', cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(this.url(path), init);
    } catch (e) {
      throw new VouchAuthError(`Could not reach the verification server at ${this.config.baseUrl}: ${reasonText(e) || 'network error'}`, { code: 'network_error', cause: e });
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const message = (data && (data.error || data.message)) || `The verification server answered ${response.status} to ${method} ${path}`;
      const code = data && typeof data.code === 'string' ? data.code : `http_${response.status}`;
      throw new VouchAuthError(String(message), { code, status: response.status });
    }
    return data || {};
  }

  session() {
    return this.call('GET', '/v3/sdk/session');
  }

  /** Ends the flow as failed (a step rejected); never throws. */
  async cancel() {
    try {
      await this.call('POST', '/v3/sdk/cancel');
    } catch (_) {
      // The flow fails at validate anyway.
    }
  }

  /** Runs a step; a rejection cancels the flow. */
  async step(name, fn, ...args) {
    try {
      return await fn(...args);
    } catch (reason) {
      await this.cancel();
      const why = reasonText(reason);
      throw new VouchAuthError(why ? `${name} was cancelled: ${why}` : `${name} was cancelled`, { code: 'cancelled', cause: reason });
    }
  }

  /** Proves possession; resolves with the final session. */
  async possess() {
    const session = await this.session();
    const decided = this.decided(session);
    if (decided) return decided;
    if (session.flowType === 'mobile') return this.mobile(session);
    if (session.flowType === 'desktop') return this.desktop(session);
    throw new VouchAuthError(`Unknown flow type "${session.flowType}"`, { code: 'unsupported_flow' });
  }

  /** The session if possession is already decided (success), an error if it failed, else null. */
  decided(session) {
    if (session.possession === 'success' || session.possession === 'not_applicable') return session;
    if (session.possession === 'failed') {
      throw new VouchAuthError('Phone possession could not be proven for this verification', { code: 'possession_failed' });
    }
    return null;
  }

  async mobile(session) {
    if ((session.methods || []).includes('mobile_auth') && !session.phoneNumberNeeded) {
      const done = await this.mobileAuth();
      if (done) return done;
    }
    if (!this.config.otpStart || !this.config.otpFinish) {
      throw new VouchAuthError('The network could not verify this phone and no OTP fallback is configured: call withOtpFallback(start, finish)', { code: 'not_configured' });
    }
    return this.otp(session);
  }

  /** Network authentication: the session when it decided, null to fall back to the OTP. */
  async mobileAuth() {
    let answer;
    try {
      answer = await this.call('POST', '/v3/sdk/mobile-auth');
    } catch (e) {
      if (e.status === 0 || e.status >= 500) return null;
      throw e;
    }
    switch (answer.status) {
      case 'success':
        return this.session();
      case 'failed':
        throw new VouchAuthError('The mobile network reports that this device does not hold the phone number', { code: 'possession_failed' });
      case 'redirect':
        return this.followRedirect(answer.url);
      default:
        return null;
    }
  }

  /** The operator authenticates the device through its own URL, then calls vouch back. */
  async followRedirect(url) {
    if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return null;
    try {
      await fetch(url, { mode: 'no-cors', credentials: 'omit', redirect: 'follow', cache: 'no-store' });
    } catch (_) {
      return null;
    }
    const until = Date.now() + REDIRECT_WAIT_MS;
    while (Date.now() < until) {
      const session = await this.session();
      const decided = this.decided(session);
      if (decided) return decided;
      await sleep(500);
    }
    return null;
  }

  /** Asks the start step for a number (when needed) and sends; loops on refused numbers. */
  async sendWith(startName, start, path, needed) {
    let error;
    let askNumber = needed;
    for (let prompt = 0; prompt < MAX_NUMBER_PROMPTS; prompt += 1) {
      const input = await this.step(startName, start, askNumber, error);
      const phoneNumber = input && typeof input.phoneNumber === 'string' ? input.phoneNumber.trim() : '';
      if (askNumber && !phoneNumber) {
        error = 'Enter a phone number';
        continue;
      }
      try {
        return await this.call('POST', path, phoneNumber ? { phoneNumber } : {});
      } catch (e) {
        if (e.status === 400 && (phoneNumber || !askNumber)) {
          // A number the server cannot read, or the flow has none: ask (again).
          error = e.message;
          askNumber = true;
          continue;
        }
        throw e;
      }
    }
    await this.cancel();
    throw new VouchAuthError(`No valid phone number after ${MAX_NUMBER_PROMPTS} tries: ${error}`, { code: 'invalid_phone_number' });
  }

  async otp(session) {
    const { otpStart, otpFinish } = this.config;
    // Once a text went out, the flow has a number: a resend asks for none.
    let numberNeeded = Boolean(session.phoneNumberNeeded);
    const send = async (changeNumber) => {
      await this.sendWith('The OTP start step', otpStart, '/v3/sdk/otp/start', changeNumber || numberNeeded);
      numberNeeded = false;
    };
    await send(false);
    let otpError;
    for (;;) {
      const result = await this.step('The OTP finish step', otpFinish, otpError);
      const type = result && result.resultType !== undefined ? Number(result.resultType) : OtpFinishResultType.OnSuccess;
      if (type === OtpFinishResultType.OnResendOtp || type === OtpFinishResultType.OnMobileNumberChange) {
        try {
          await send(type === OtpFinishResultType.OnMobileNumberChange);
          otpError = undefined;
        } catch (e) {
          if (e.code !== 'too_many_sends') throw e;
          otpError = { code: e.code, message: e.message };
        }
        continue;
      }
      if (type !== OtpFinishResultType.OnSuccess) {
        throw new VouchAuthError(`The OTP finish step resolved with an unknown resultType ${result.resultType}`, { code: 'invalid_step_result' });
      }
      const otp = result && result.input && result.input.otp !== undefined && result.input.otp !== null ? String(result.input.otp).trim() : '';
      if (!otp) {
        otpError = { code: 'otp_required', message: 'Enter the code from the text message' };
        continue;
      }
      try {
        await this.call('POST', '/v3/sdk/otp/finish', { otp });
        return this.session();
      } catch (e) {
        if (e.status === 400 && (e.code === 'otp_invalid' || e.code === 'otp_expired' || e.code === 'bad_request')) {
          otpError = { code: e.code, message: e.message };
          continue;
        }
        if (e.code === 'possession_done') {
          const decided = this.decided(await this.session());
          if (decided) return decided;
        }
        if (e.status === 403 || e.code === 'possession_failed') {
          throw new VouchAuthError(e.message, { code: 'possession_failed', status: e.status });
        }
        throw e;
      }
    }
  }

  async desktop(session) {
    const { linkStart, linkRetry } = this.config;
    if (!linkStart) {
      throw new VouchAuthError('This is a desktop flow: configure the Instant Link with withInstantLinkFallback(start, retry?)', { code: 'not_configured' });
    }
    let changeNumber = false;
    let numberNeeded = Boolean(session.phoneNumberNeeded);
    for (;;) {
      await this.sendWith('The Instant Link start step', linkStart, '/v3/sdk/instant-link/start', changeNumber || numberNeeded);
      numberNeeded = false;
      const outcome = await this.waitForLink();
      if (outcome === 'success') return this.session();
      if (outcome === 'failed') {
        throw new VouchAuthError('Phone possession could not be proven for this verification', { code: 'possession_failed' });
      }
      // Expired unopened (unless it was opened as the stream ended).
      const last = this.decided(await this.session());
      if (last) return last;
      if (!linkRetry) {
        throw new VouchAuthError('The Instant Link expired before it was opened on the phone', { code: 'link_expired' });
      }
      const answer = await this.step('The Instant Link retry step', linkRetry);
      const type = answer !== null && typeof answer === 'object' ? Number(answer.resultType) : Number(answer);
      if (type === InstantLinkResultType.OnResend) changeNumber = false;
      else if (type === InstantLinkResultType.OnMobileNumberChange) changeNumber = true;
      else throw new VouchAuthError(`The Instant Link retry step resolved with an unknown result ${JSON.stringify(answer)}`, { code: 'invalid_step_result' });
    }
  }

  /** Waits for the link to be opened: 'success', 'failed' or 'timeout'. */
  waitForLink() {
    if (typeof EventSource === 'undefined') return this.pollForLink();
    return new Promise((resolve, reject) => {
      const source = new EventSource(this.url(`/v3/sdk/events?token=${encodeURIComponent(this.token)}`));
      let errors = 0;
      let finished = false;
      let timer = null;
      const finish = (outcome, error) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        source.close();
        if (error) reject(error);
        else resolve(outcome);
      };
      timer = setTimeout(() => finish('timeout'), LINK_WAIT_MS);
      source.addEventListener('open', () => {
        errors = 0;
      });
      source.addEventListener('possession', (event) => {
        let possession = '';
        try {
          possession = JSON.parse(event.data).possession;
        } catch (_) {
          possession = '';
        }
        finish(possession === 'success' || possession === 'not_applicable' ? 'success' : 'failed');
      });
      source.addEventListener('timeout', () => finish('timeout'));
      // Both the server's `error` event and a lost connection: ask the session.
      source.addEventListener('error', () => {
        if (finished) return;
        errors += 1;
        this.session().then(
          (s) => {
            if (s.possession === 'success' || s.possession === 'not_applicable') finish('success');
            else if (s.possession === 'failed') finish('failed');
            else if (errors >= MAX_STREAM_ERRORS || source.readyState === 2) {
              finish(null, new VouchAuthError('Lost the connection to the verification server while waiting for the Instant Link', { code: 'network_error' }));
            }
          },
          (e) => {
            if (errors >= MAX_STREAM_ERRORS || source.readyState === 2) finish(null, e);
          },
        );
      });
    });
  }

  /** Without EventSource: asks the session every second. */
  async pollForLink() {
    const until = Date.now() + LINK_WAIT_MS;
    while (Date.now() < until) {
      const s = await this.session();
      if (s.possession === 'success' || s.possession === 'not_applicable') return 'success';
      if (s.possession === 'failed') return 'failed';
      await sleep(1000);
    }
    return 'timeout';
  }
}

export default { AuthenticatorBuilder, Authenticator, OtpFinishResultType, InstantLinkResultType, VouchAuthError };
