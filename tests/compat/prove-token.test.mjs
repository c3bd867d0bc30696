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

  // Any v3 operation makes the hook fetch a token first. vouch does not serve
  // /v3/* yet, so the operation itself may fail; only the token exchange and
  // the Authorization header it produces are asserted here.
  await sdk.v3
    .v3StartRequest({ flowType: "desktop", phoneNumber: "2001001686" })
    .catch((err) => {
      if (!(err instanceof SDKError || err instanceof SDKValidationError)) {
        throw err;
      }
    });

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
