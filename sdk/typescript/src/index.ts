// @vouch/sdk: a typed client for vouch's biometric identity API — 1:N verify, enrolment
// and Human Presence Tokens — with the method names of the Proof SDK
// (../shared/spec/biometric-identity-api.md), so code written against it moves by
// changing the base URL and credentials. Works wherever `fetch` exists (Node ≥ 18,
// browsers, React Native).

/** Client settings. */
export interface ProofClientOptions {
  /** The vouch server, e.g. `https://id.example.com`. */
  baseUrl: string;
  /** API key (`vk_live_…`) for verify and enroll. */
  apiKey?: string;
  /** Service token (`vst_…`) for presence sessions and tokens. */
  serviceToken?: string;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
  /** Per-request timeout in milliseconds (default 30,000). */
  timeoutMs?: number;
}

/** What the client says about the device (all optional). */
export interface DeviceInfo {
  userAgent?: string;
  cameraWidth?: number;
  cameraHeight?: number;
  screenWidth?: number;
  screenHeight?: number;
  latitude?: number;
  longitude?: number;
  country?: string;
}

/** One check of the verification pipeline. */
export interface CheckResult {
  check: string;
  pass: boolean;
  score: number;
  weight: number;
  hardFail?: boolean;
  message?: string;
}

/** The answer of `verify`. Not verified is an answer, not an exception. */
export interface VerifyResult {
  verified: boolean;
  userId?: string;
  email?: string | null;
  confidence?: number;
  compositeScore?: number;
  checkResults?: CheckResult[];
  /** Why it was not verified ("Identity not recognised", or the failing check). */
  reason?: string;
}

export interface VerifyRequest {
  /** A data URL or base64 image. */
  image?: string;
  /** Several frames of one capture. */
  images?: string[];
  /** A verification profile, by id or slug. */
  profile?: string;
  deviceInfo?: DeviceInfo;
}

export interface EnrollRequest {
  image: string;
  email: string;
}

export interface EnrollResult {
  enrolled: boolean;
  userId: string;
}

export interface CreatePresenceSessionRequest {
  orgId: string;
  purpose: string;
  email?: string;
  nonce?: string;
  ttlSeconds?: number;
}

export interface PresenceSession {
  sessionId: string;
  verifyUrl: string;
  expiresAt: string;
}

export type PresenceStatus = "PENDING" | "VERIFIED" | "EXPIRED" | "CANCELLED";

export interface PresenceSessionState {
  sessionId: string;
  status: PresenceStatus;
  purpose?: string;
  verifiedEmail?: string | null;
  verifiedAt?: string | null;
  expiresAt: string;
}

export interface PresenceToken {
  token: string;
  jti: string;
  verifiedEmail: string;
  verifiedAt: string;
}

export interface VerifyPresenceTokenRequest {
  token: string;
  expectedOrgId: string;
  expectedEmail?: string;
  expectedNonce?: string;
  /** Redeem the token: a second redemption answers invalid. */
  redeem?: boolean;
}

export interface PresenceClaims {
  valid: boolean;
  error?: string;
  sub?: string;
  orgId?: string;
  userId?: string;
  sessionId?: string;
  purpose?: string;
  nonce?: string | null;
  jti?: string;
  checks?: { compositeScore?: number; liveness?: number };
  issuedAt?: string;
  expiresAt?: string;
}

/** Any error answer of the server. */
export class ProofError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
    readonly body: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
/** 400: missing or invalid fields. */
export class ValidationError extends ProofError {}
/** 401: missing or invalid API key or service token. */
export class AuthenticationError extends ProofError {}
/** 403: the credential may not do this (wrong kind, other organisation, e-mail lock). */
export class ForbiddenError extends ProofError {}
/** 404: no such resource in your organisation. */
export class NotFoundError extends ProofError {}
/** 409: not in the expected state (e.g. a token before the person is verified). */
export class ConflictError extends ProofError {}
/** 410: expired. */
export class GoneError extends ProofError {}
/** 422: the image or capture could not be used. */
export class UnprocessableError extends ProofError {}
/** 429: rate limited; `retryAfterSeconds` from the server. */
export class RateLimitError extends ProofError {
  retryAfterSeconds?: number;
}
/** `waitForPresence` gave up, or the session ended without verification. */
export class PresenceTimeoutError extends Error {
  constructor(
    message: string,
    readonly lastStatus: PresenceStatus | undefined,
  ) {
    super(message);
    this.name = "PresenceTimeoutError";
  }
}

const ERRORS: Record<number, typeof ProofError> = {
  400: ValidationError,
  401: AuthenticationError,
  403: ForbiddenError,
  404: NotFoundError,
  409: ConflictError,
  410: GoneError,
  422: UnprocessableError,
  429: RateLimitError,
};

/** The client. */
export class ProofClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly options: ProofClientOptions) {
    if (!options.baseUrl) throw new TypeError("baseUrl is required");
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  private async request<T>(
    method: string,
    path: string,
    auth: "apiKey" | "serviceToken",
    body?: unknown,
    accept: number[] = [],
  ): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (auth === "apiKey") {
      if (!this.options.apiKey) throw new TypeError("this call needs apiKey");
      headers["x-api-key"] = this.options.apiKey;
    } else {
      if (!this.options.serviceToken) throw new TypeError("this call needs serviceToken");
      headers.authorization = `Bearer ${this.options.serviceToken}`;
    }
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await this.fetchImpl(this.baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    let json: any = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok || accept.includes(res.status)) return json as T;
    const message = (json && (json.error || json.message)) || `HTTP ${res.status}`;
    const Kind = ERRORS[res.status] ?? ProofError;
    const err = new Kind(message, res.status, json?.code, json);
    if (err instanceof RateLimitError) {
      const after = Number(res.headers.get("retry-after"));
      if (Number.isFinite(after)) err.retryAfterSeconds = after;
    }
    throw err;
  }

  /** 1:N verify. A probe that matches nobody, or fails the pipeline, resolves with
   * `verified: false` and the reason; bad input rejects with a typed error. */
  async verify(req: VerifyRequest): Promise<VerifyResult> {
    const r = await this.request<VerifyResult & { error?: string }>(
      "POST", "/api/verify", "apiKey", req, [422]);
    if (!r.verified && r.reason === undefined && r.error !== undefined) r.reason = r.error;
    if (r.verified === undefined && r.error) {
      // A 422 about the image itself (no face…) is an error, not a verdict.
      throw new UnprocessableError(r.error, 422, (r as any).code, r);
    }
    return r;
  }

  /** Enrols a face for the person with this e-mail. */
  enroll(req: EnrollRequest): Promise<EnrollResult> {
    return this.request("POST", "/api/enroll", "apiKey", req);
  }

  /** Opens a presence session; send `verifyUrl` to the human. */
  createPresenceSession(req: CreatePresenceSessionRequest): Promise<PresenceSession> {
    return this.request("POST", "/api/presence/sessions", "serviceToken", req);
  }

  /** A presence session's state. */
  getPresenceSession(sessionId: string): Promise<PresenceSessionState> {
    return this.request("GET", `/api/presence/sessions/${encodeURIComponent(sessionId)}`, "serviceToken");
  }

  /** Polls until VERIFIED (every `intervalMs`, default 2 s; gives up after `timeoutMs`,
   * default 5 min, or when the session expires or is cancelled). */
  async waitForPresence(
    sessionId: string,
    opts: { intervalMs?: number; timeoutMs?: number } = {},
  ): Promise<PresenceSessionState> {
    const interval = opts.intervalMs ?? 2000;
    const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
    let last: PresenceSessionState | undefined;
    for (;;) {
      last = await this.getPresenceSession(sessionId);
      if (last.status === "VERIFIED") return last;
      if (last.status === "EXPIRED" || last.status === "CANCELLED") {
        throw new PresenceTimeoutError(`presence session ${last.status}`, last.status);
      }
      if (Date.now() + interval > deadline) {
        throw new PresenceTimeoutError("timed out waiting for presence", last.status);
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  }

  /** The signed Human Presence Token of a VERIFIED session. */
  getPresenceToken(sessionId: string): Promise<PresenceToken> {
    return this.request("GET", `/api/presence/sessions/${encodeURIComponent(sessionId)}/token`, "serviceToken");
  }

  /** Checks a token (signature, expiry, organisation, e-mail, nonce) → its claims. */
  verifyPresenceToken(req: VerifyPresenceTokenRequest): Promise<PresenceClaims> {
    return this.request("POST", "/api/presence/verify-token", "serviceToken", req);
  }

  /** The public keys that sign tokens (verify them offline with any JOSE library). */
  getJwks(): Promise<{ keys: Array<Record<string, string>> }> {
    return this.fetchImpl(`${this.baseUrl}/.well-known/jwks.json`).then((r) => r.json());
  }
}
