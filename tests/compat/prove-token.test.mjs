// Compatibility test: vouch's OAuth 2.0 client-credentials endpoint
// (POST /token) against the real npm package @prove-identity/prove-api@0.9.6.
//
// The package is a Speakeasy-generated SDK (class `Proveapi`). It fetches
// tokens in two ways, and both are exercised here against a real `vouch serve`:
//   1. explicitly, `sdk.v3.v3TokenRequest({clientId, clientSecret, grantType})`
//      (funcs/v3V3TokenRequest.js);
//   2. implicitly, through its preset ClientCredentialsHook
//      (hooks/clientcredentials.js) when the SDK is built with
//      `security: {clientID, clientSecret}` and any v3 operation is called.
//
// Every request the SDK sends goes through a recording fetcher, so the tests
// assert on the exact wire request as well as on the SDK's parsed result.
//
// Run: ./run.sh   (or `node --test prove-token.test.mjs` after `npm ci`).
// VOUCH_BIN overrides the binary (default ../../target/debug/vouch).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Proveapi } from "@prove-identity/prove-api";
import { HTTPClient } from "@prove-identity/prove-api/lib/http.js";
import {
  Error401,
  SDKError,
  SDKValidationError,
} from "@prove-identity/prove-api/models/errors/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const VOUCH_BIN = path.resolve(
  here,
  process.env.VOUCH_BIN ?? "../../target/debug/vouch",
);

let dataDir;
let server;
let serverLog = "";
let baseURL;
let orgId;
let clientId;
let clientSecret;

function vouch(...args) {
  const out = execFileSync(VOUCH_BIN, ["--data-dir", dataDir, ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out);
}

// Starts `vouch serve` on an OS-chosen port and resolves with the base URL
// taken from the "vouch listening on http://..." log line.
function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(
      VOUCH_BIN,
      ["--data-dir", dataDir, "serve", "--listen", "127.0.0.1:0"],
      {
        env: { ...process.env, NO_COLOR: "1" },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    server = child;
    const timer = setTimeout(
      () => reject(new Error(`vouch did not start in 20s; log:\n${serverLog}`)),
      20_000,
    );
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      serverLog += chunk;
      // eslint-disable-next-line no-control-regex
      const plain = serverLog.replace(/\x1b\[[0-9;]*m/g, "");
      const m = plain.match(/vouch listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`vouch exited early (${code ?? signal}); log:\n${serverLog}`),
      );
    });
  });
}

async function waitHealthy(url) {
  const deadline = Date.now() + 20_000;
  let last;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`/healthz never answered 200 (${last}); log:\n${serverLog}`);
}

function stopServer() {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill("SIGTERM");
  }
}
// Backstop: never leave a server behind, whatever happens to the test run.
process.on("exit", stopServer);

// An SDK whose every HTTP exchange is recorded: {method, url, headers, body, status}.
function recordingSdk(options = {}) {
  const exchanges = [];
  const httpClient = new HTTPClient({
    fetcher: async (input, init) => {
      const req = new Request(input, init);
      const body = await req.clone().text();
      const res = await fetch(req);
      exchanges.push({
        method: req.method,
        url: new URL(req.url),
        headers: Object.fromEntries(req.headers),
        body,
        status: res.status,
        responseBody: await res.clone().text(),
      });
      return res;
    },
  });
  const sdk = new Proveapi({ serverURL: baseURL, httpClient, ...options });
  return { sdk, exchanges };
}

async function whoami(accessToken) {
  const res = await fetch(`${baseURL}/api/v1/whoami`, {
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  return { status: res.status, body: await res.json() };
}

function assertClientCredentialsForm(exchange, secret) {
  assert.equal(exchange.method, "POST");
  assert.equal(exchange.url.pathname, "/token");
  assert.equal(
    exchange.headers["content-type"],
    "application/x-www-form-urlencoded",
  );
  assert.equal(exchange.headers.authorization, undefined, "no HTTP auth header");
  const form = new URLSearchParams(exchange.body);
  assert.deepEqual([...form.keys()].sort(), [
    "client_id",
    "client_secret",
    "grant_type",
  ]);
  assert.equal(form.get("grant_type"), "client_credentials");
  assert.equal(form.get("client_id"), clientId);
  assert.equal(form.get("client_secret"), secret);
}

before(async () => {
  assert.ok(existsSync(VOUCH_BIN), `vouch binary not found at ${VOUCH_BIN}`);
  dataDir = mkdtempSync(path.join(tmpdir(), "vouch-compat-prove-"));
  ({ orgId } = vouch("org", "create", "--name", "prove-compat"));
  ({ clientId, clientSecret } = vouch(
    "oauth-client", "create", "--org", orgId, "--name", "prove-sdk",
  ));
  baseURL = await startServer();
  await waitHealthy(baseURL);
});

after(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((r) => server.once("exit", r));
    stopServer();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (server.exitCode === null && server.signalCode === null) {
      server.kill("SIGKILL");
    }
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("v3TokenRequest obtains a working Bearer token from vouch", async () => {
  const { sdk, exchanges } = recordingSdk();

  const res = await sdk.v3.v3TokenRequest({
    clientId,
    clientSecret,
    grantType: "client_credentials",
  });

  // What the package put on the wire.
  assert.equal(exchanges.length, 1);
  const [ex] = exchanges;
  assertClientCredentialsForm(ex, clientSecret);
  assert.equal(ex.headers.accept, "application/json");
  // Field order as the SDK serialises its model (client_id, client_secret, grant_type).
  assert.deepEqual([...new URLSearchParams(ex.body).keys()], [
    "client_id",
    "client_secret",
    "grant_type",
  ]);

  // What the package made of vouch's answer.
  assert.equal(res.httpMeta.response.status, 200);
  const tok = res.v3TokenResponse;
  assert.ok(tok, "SDK parsed a V3TokenResponse");
  assert.equal(tok.tokenType, "Bearer");
  assert.equal(tok.expiresIn, 3600);
  assert.equal(typeof tok.accessToken, "string");
  assert.ok(tok.accessToken.length > 0);

  // The token is accepted by vouch's API.
  const who = await whoami(tok.accessToken);
  assert.equal(who.status, 200, JSON.stringify(who.body));
  assert.equal(who.body.kind, "oauth_client");
  assert.equal(who.body.orgId, orgId);
});

test("v3TokenRequest with a wrong secret fails with 401 invalid_client", async () => {
  const { sdk, exchanges } = recordingSdk();

  let caught;
  await assert.rejects(
    sdk.v3.v3TokenRequest({
      clientId,
      clientSecret: "vcs_definitely-not-the-secret",
      grantType: "client_credentials",
    }),
    (err) => {
      caught = err;
      return true;
    },
  );

  assert.equal(exchanges.length, 1);
  assertClientCredentialsForm(exchanges[0], "vcs_definitely-not-the-secret");
  assert.equal(exchanges[0].status, 401);
  const errBody = JSON.parse(exchanges[0].responseBody);
  // One body serves both readers: RFC 6749 (error, error_description) and the
  // SDK's Error401 schema ({code?: integer, message: string}).
  assert.equal(errBody.error, "invalid_client");
  assert.equal(errBody.code, 401);
  assert.equal(typeof errBody.message, "string");
  assert.ok(caught instanceof Error401, `unexpected error type: ${caught?.name}: ${caught?.message}`);
});

test(
  "a wrong secret surfaces as the SDK's typed Error401",
  async () => {
    const { sdk } = recordingSdk();
    await assert.rejects(
      sdk.v3.v3TokenRequest({
        clientId,
        clientSecret: "vcs_definitely-not-the-secret",
        grantType: "client_credentials",
      }),
      (err) => err instanceof Error401,
    );
  },
);

test("the SDK's client-credentials security hook fetches a token from vouch", async () => {
  const { sdk, exchanges } = recordingSdk({
    security: { clientID: clientId, clientSecret },
  });

  // Any v3 operation makes the hook fetch a token first.
  const started = await sdk.v3.v3StartRequest({
    flowType: "desktop",
    phoneNumber: "2001001695",
    finalTargetUrl: "https://client.example/done",
  });
  assert.equal(started.httpMeta.response.status, 200);

  assert.ok(exchanges.length >= 2, JSON.stringify(exchanges.map((e) => e.url.pathname)));
  const [tokenEx, opEx] = exchanges;
  assertClientCredentialsForm(tokenEx, clientSecret);
  assert.equal(tokenEx.status, 200, tokenEx.responseBody);
  const { access_token: accessToken } = JSON.parse(tokenEx.responseBody);

  assert.equal(opEx.url.pathname, "/v3/start");
  assert.equal(opEx.headers.authorization, `Bearer ${accessToken}`);

  const who = await whoami(accessToken);
  assert.equal(who.status, 200, JSON.stringify(who.body));
  assert.equal(who.body.kind, "oauth_client");
  assert.equal(who.body.orgId, orgId);
});

test("the security hook refuses to call on when vouch rejects the secret", async () => {
  const { sdk, exchanges } = recordingSdk({
    security: { clientID: clientId, clientSecret: "vcs_definitely-not-the-secret" },
  });

  await assert.rejects(
    sdk.v3.v3StartRequest({ flowType: "desktop", phoneNumber: "2001001686" }),
  );
  assert.equal(exchanges.length, 1, "no v3 call after a failed token request");
  assert.equal(exchanges[0].url.pathname, "/token");
  assert.equal(exchanges[0].status, 401);
});

// ---- the phone flows, field for field ----------------------------------------------
// token, start, validate, challenge and complete go through the package itself (its
// zod schemas parse every response); verify, verify-status and unify are driven with
// raw HTTP because 0.9.6 types their status fields as empty objects (see README).

function flowSdk() {
  return recordingSdk({ security: { clientID: clientId, clientSecret } });
}

async function rawV3(path, body, token) {
  const res = await fetch(`${baseURL}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function accessToken() {
  const { sdk } = recordingSdk();
  const res = await sdk.v3.v3TokenRequest({
    clientId,
    clientSecret,
    grantType: "client_credentials",
  });
  return res.v3TokenResponse.accessToken;
}

test("Pre-Fill through the package: start, validate, challenge, complete (sandbox user 2001001695)", async () => {
  const { sdk, exchanges } = flowSdk();

  const start = await sdk.v3.v3StartRequest({ flowType: "mobile", phoneNumber: "2001001695" });
  const s = start.v3StartResponse;
  assert.ok(s, JSON.stringify(start));
  assert.match(s.correlationId, /^[0-9a-f-]{36}$/);
  assert.equal(s.authToken.split(".").length, 3, "authToken is a JWT");
  assert.deepEqual(Object.keys(s.next), ["v3-validate"]);
  const claims = JSON.parse(Buffer.from(s.authToken.split(".")[1], "base64url"));
  assert.equal(claims.sub, s.correlationId, "the token is bound to the flow");
  assert.ok(claims.exp - claims.iat <= 15 * 60 && claims.exp - claims.iat > 14 * 60);

  const validate = await sdk.v3.v3ValidateRequest({ correlationId: s.correlationId });
  const v = validate.v3ValidateResponse;
  assert.equal(v.success, true);
  assert.equal(v.challengeMissing, true);
  assert.equal(v.phoneNumber, "2001001695");
  assert.ok("v3-challenge" in v.next, JSON.stringify(v.next));

  const challenge = await sdk.v3.v3ChallengeRequest({
    correlationId: s.correlationId,
    dob: "1981-07-14",
  });
  const c = challenge.v3ChallengeResponse;
  assert.equal(c.success, true);
  assert.equal(c.individual.firstName, "Milo");
  assert.equal(c.individual.lastName, "Pinson");
  assert.equal(c.individual.dob, "1981-07-14");
  assert.equal(c.individual.addresses[0].city, "San Antonio");
  assert.deepEqual(Object.keys(c.next), ["v3-complete"]);

  const complete = await sdk.v3.v3CompleteRequest({
    correlationId: s.correlationId,
    individual: {
      firstName: c.individual.firstName,
      lastName: c.individual.lastName,
      dob: c.individual.dob,
      ssn: c.individual.ssn,
      addresses: c.individual.addresses,
    },
  });
  const done = complete.v3CompleteResponse;
  assert.equal(done.success, true);
  assert.deepEqual(done.next, { done: "done" });
  // The AML block the SDK types is there (empty: vouch screens no lists yet).
  assert.equal(done.kyc.totalHits, 0);
  assert.deepEqual(done.kyc.amlTypeLists, []);
  assert.equal(done.idv.dataSource1.name.firstName, 100);
  assert.equal(done.idv.dataSource1.name.lastName, 100);
  assert.equal(done.idv.dataSource1.identifiers.dob, true);
  assert.equal(done.idv.dataSource1.identifiers.ssn, true);

  // One token for the whole flow, as the SDK's hook caches it.
  const paths = exchanges.map((e) => e.url.pathname);
  assert.deepEqual(paths, ["/token", "/v3/start", "/v3/validate", "/v3/challenge", "/v3/complete"]);
});

test("the package surfaces vouch's errors as its declared error types", async () => {
  const { sdk } = flowSdk();
  // A step out of order: complete before validate answers 403 {code: 8003}.
  const start = await sdk.v3.v3StartRequest({ flowType: "mobile", phoneNumber: "2001001695" });
  const id = start.v3StartResponse.correlationId;
  await assert.rejects(
    sdk.v3.v3CompleteRequest({ correlationId: id, individual: { firstName: "Milo" } }),
    (err) => {
      assert.equal(err.constructor.name, "Error403", String(err));
      assert.equal(err.code, 8003);
      assert.match(err.message, /step not allowed/);
      return true;
    },
  );
  // A bad number: 400 {code: 8001} naming the problem.
  await assert.rejects(
    sdk.v3.v3StartRequest({ flowType: "mobile", phoneNumber: "12ab" }),
    (err) => {
      assert.equal(err.constructor.name, "ErrorT", String(err));
      assert.equal(err.code, 8001);
      assert.match(err.message, /phoneNumber/);
      return true;
    },
  );
  // A desktop flow without finalTargetUrl.
  await assert.rejects(
    sdk.v3.v3StartRequest({ flowType: "desktop", phoneNumber: "2001001695" }),
    (err) => err.code === 8001 && /finalTargetUrl/.test(err.message),
  );
});

test("Verified Users: verify and verify-status with the documented strings (raw HTTP)", async () => {
  const token = await accessToken();
  // possessionType none: the answer is final at once.
  const none = await rawV3("/v3/verify", {
    firstName: "Sheilakathryn",
    lastName: "Butrimovich",
    phoneNumber: "2001004011",
    possessionType: "none",
  }, token);
  assert.equal(none.status, 200, JSON.stringify(none.body));
  assert.equal(none.body.success, "true");
  assert.equal(none.body.possessionResult, "not_applicable");
  assert.equal(none.body.verifyResult, "success");

  // With possession (this sandbox user completes it without the client SDK).
  const v = await rawV3("/v3/verify", {
    firstName: "Sheilakathryn",
    lastName: "Butrimovich",
    phoneNumber: "2001004011",
    possessionType: "desktop",
    finalTargetUrl: "https://client.example/done",
    clientRequestId: "req-verify-1",
  }, token);
  assert.equal(v.status, 200, JSON.stringify(v.body));
  assert.deepEqual(
    [v.body.success, v.body.possessionResult, v.body.verifyResult],
    ["pending", "pending", "pending"],
  );
  assert.ok(v.body.authToken && v.body.correlationId);
  const st = await rawV3("/v3/verify-status", { correlationId: v.body.correlationId }, token);
  assert.equal(st.status, 200, JSON.stringify(st.body));
  assert.deepEqual(
    [st.body.success, st.body.possessionResult, st.body.verifyResult],
    ["true", "success", "success"],
  );
  assert.match(st.body.identityId, /^[0-9a-f-]{36}$/);
  // By clientRequestId too, and the same answer again.
  const again = await rawV3("/v3/verify-status", { clientRequestId: "req-verify-1" }, token);
  assert.deepEqual(again.body, st.body);

  // A wrong name fails the data match.
  const wrong = await rawV3("/v3/verify", {
    firstName: "Kurt",
    lastName: "Mathen",
    phoneNumber: "2001004011",
    possessionType: "none",
  }, token);
  assert.equal(wrong.body.success, "false");
  assert.equal(wrong.body.verifyResult, "failed");
});

test("Unify: unify, unify-status and unify-bind (raw HTTP)", async () => {
  const token = await accessToken();
  const u = await rawV3("/v3/unify", {
    possessionType: "desktop",
    phoneNumber: "2001004018",
    finalTargetUrl: "https://client.example/done",
  }, token);
  assert.equal(u.status, 200, JSON.stringify(u.body));
  assert.equal(u.body.success, "pending");
  const st = await rawV3("/v3/unify-status", { correlationId: u.body.correlationId }, token);
  assert.equal(st.status, 200, JSON.stringify(st.body));
  assert.equal(st.body.success, "true", JSON.stringify(st.body));
  assert.equal(st.body.phoneNumber, "2001004018");
  const proveId = st.body.proveId;
  assert.match(proveId, /^[0-9a-f-]{36}$/);

  // possessionType none: the bound number is recognised, an unbound one is not.
  const bound = await rawV3("/v3/unify", { possessionType: "none", phoneNumber: "2001004018" }, token);
  assert.equal(bound.status, 200, JSON.stringify(bound.body));
  const boundSt = await rawV3("/v3/unify-status", { correlationId: bound.body.correlationId }, token);
  assert.equal(boundSt.body.success, "true");
  assert.equal(boundSt.body.proveId, proveId);
  const fresh = await rawV3("/v3/unify", { possessionType: "none", phoneNumber: "2001004015" }, token);
  const freshSt = await rawV3("/v3/unify-status", { correlationId: fresh.body.correlationId }, token);
  assert.equal(freshSt.body.success, "possession_required");
  const bind = await rawV3("/v3/unify-bind", { correlationId: fresh.body.correlationId, phoneNumber: "2001004015" }, token);
  assert.equal(bind.status, 200, JSON.stringify(bind.body));
  assert.equal(bind.body.success, "true");
  assert.match(bind.body.proveId, /^[0-9a-f-]{36}$/);
});
