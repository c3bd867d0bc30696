// @vouch/sdk against a real vouch server: enroll, verify (match, no match, bad input,
// bad key), and the whole Human Presence Token flow (create, scan, waitForPresence,
// getPresenceToken, verifyPresenceToken), with the typed errors on the way.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import {
  ProofClient, AuthenticationError, ConflictError, ValidationError, ForbiddenError,
} from "../dist/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
// The eval photos beside the repository (CI), else the stand-ins of
// scripts/fetch_test_data.py (same names for the photos used here but img24).
const shared = path.resolve(here, "../../../../shared/eval");
const evalDir = process.env.VOUCH_EVAL_DIR
  || (existsSync(shared) ? shared : path.resolve(here, "../../../target/test-data/eval"));
const faces = path.join(evalDir, "faces");
// On the stand-ins the painted blink of vouch-footage is not seen (tests/needs-shared-eval.txt).
const needsShared = !existsSync(path.join(evalDir, "README.md"))
  && "the live scan needs ../shared/eval (the stand-in photos' painted blink is not seen)";
const b64 = (file) => readFileSync(file).toString("base64");

let dataDir, server, baseUrl, orgId, apiKey, serviceToken, framesDir;
let log = "";

function vouch(...args) {
  return JSON.parse(execFileSync(process.env.VOUCH_BIN, ["--data-dir", dataDir, ...args], {
    encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
  }));
}

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "vouch-sdk-"));
  orgId = vouch("org", "create", "--name", "Acme").orgId;
  apiKey = vouch("key", "create", "--org", orgId, "--name", "app").apiKey;
  serviceToken = vouch("service-token", "create", "--org", orgId, "--name", "agent").token;
  // A blinking webcam capture of img2 (alice, enrolled below from img1).
  const eyes = JSON.parse(execFileSync(process.env.VOUCH_BIN, ["face", "analyze", path.join(faces, "img2.jpg")],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })).faces[0].landmarks;
  framesDir = path.join(dataDir, "frames");
  execFileSync(process.env.VOUCH_FOOTAGE, [path.join(faces, "img2.jpg"), framesDir,
    "--eyes", [...eyes[0], ...eyes[1]].map((v) => v.toFixed(1)).join(",")], { stdio: "ignore" });
  baseUrl = await new Promise((resolve, reject) => {
    server = spawn(process.env.VOUCH_BIN, ["--data-dir", dataDir, "serve", "--listen", "127.0.0.1:0"],
      { env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "ignore", "pipe"] });
    const timer = setTimeout(() => reject(new Error(`no start:\n${log}`)), 60_000);
    server.stderr.setEncoding("utf8");
    server.stderr.on("data", (c) => {
      log += c;
      const m = log.replace(/\x1b\[[0-9;]*m/g, "").match(/vouch listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    server.on("exit", (code) => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${log}`)); });
  });
});

after(() => {
  server?.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

test("enroll and verify, with typed errors", async () => {
  const client = new ProofClient({ baseUrl, apiKey });
  const alice = await client.enroll({ image: `data:image/jpeg;base64,${b64(path.join(faces, "img1.jpg"))}`, email: "alice@example.com" });
  assert.equal(alice.enrolled, true);
  assert.match(alice.userId, /^psn_/);

  const ok = await client.verify({ image: b64(path.join(faces, "img2.jpg")) });
  assert.equal(ok.verified, true);
  assert.equal(ok.userId, alice.userId);
  assert.equal(ok.email, "alice@example.com");
  assert.ok(ok.compositeScore >= 0.5);
  assert.ok(ok.checkResults.some((c) => c.check === "liveness"));

  const strangerPhoto = existsSync(path.join(faces, "img24.jpg")) ? "img24.jpg" : "img8.jpg";
  const stranger = await client.verify({ image: b64(path.join(faces, strangerPhoto)) });
  assert.equal(stranger.verified, false);
  assert.equal(stranger.reason, "Identity not recognised");

  await assert.rejects(client.enroll({ image: "%%%", email: "x@y.z" }), ValidationError);
  await assert.rejects(client.verify({ image: b64(path.join(faces, "couple.jpg")) }), (e) => e instanceof ValidationError && e.code === "several_faces");
  const wrong = new ProofClient({ baseUrl, apiKey: "vk_live_nope" });
  await assert.rejects(wrong.verify({ image: "x" }), AuthenticationError);
  // An API key cannot open presence sessions.
  const misuse = new ProofClient({ baseUrl, serviceToken: apiKey });
  await assert.rejects(misuse.createPresenceSession({ orgId, purpose: "x" }), ForbiddenError);
});

// The spec installs the SDK as `npm install @webel/sdk` and imports `ProofClient` from
// it. The package is used under that name through npm's alias of a local folder (the
// README's "TypeScript SDK" line): a fresh app installs it so and runs the spec's own
// example against the server. Runs after the test above, which enrolled alice.
test("the spec's install name @webel/sdk, through an npm alias, runs the spec's example", async () => {
  const app = mkdtempSync(path.join(tmpdir(), "vouch-sdk-alias-"));
  try {
    writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error",
      `@webel/sdk@file:${path.resolve(here, "..")}`], { cwd: app, stdio: ["ignore", "pipe", "pipe"] });
    writeFileSync(path.join(app, "example.mjs"), `
      import { ProofClient } from "@webel/sdk";
      import { readFileSync } from "node:fs";
      const base64Image = readFileSync(process.env.IMAGE).toString("base64");
      const client = new ProofClient({ baseUrl: process.env.BASE_URL, apiKey: process.env.API_KEY });
      const result = await client.verify({ image: base64Image });
      console.log(JSON.stringify(result));
    `);
    const out = execFileSync(process.execPath, ["example.mjs"], {
      cwd: app, encoding: "utf8",
      env: { ...process.env, BASE_URL: baseUrl, API_KEY: apiKey, IMAGE: path.join(faces, "img2.jpg") },
    });
    const result = JSON.parse(out);
    assert.equal(result.verified, true, out);
    assert.equal(result.email, "alice@example.com");
  } finally {
    rmSync(app, { recursive: true, force: true });
  }
});

test("the Human Presence Token flow", { skip: needsShared }, async () => {
  const agent = new ProofClient({ baseUrl, serviceToken });
  const nonce = "nonce-" + Date.now();
  const session = await agent.createPresenceSession({ orgId, purpose: "Authorize production deployment", nonce, email: "alice@example.com" });
  assert.match(session.verifyUrl, /\/verify-presence\/vpt_/);
  await assert.rejects(agent.getPresenceToken(session.sessionId), ConflictError);

  // The human scans (what the page's script posts).
  const frames = readdirSync(framesDir).filter((f) => f.endsWith(".jpg")).sort()
    .filter((_, i) => i % 3 === 0).slice(0, 8).map((f) => b64(path.join(framesDir, f)));
  const scan = await fetch(`${session.verifyUrl}/selfie`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ frames }),
  });
  assert.equal(scan.status, 200, await scan.clone().text());

  const state = await agent.waitForPresence(session.sessionId, { intervalMs: 200, timeoutMs: 10_000 });
  assert.equal(state.status, "VERIFIED");
  const { token, jti } = await agent.getPresenceToken(session.sessionId);
  assert.equal(token.split(".").length, 3);
  const claims = await agent.verifyPresenceToken({ token, expectedOrgId: orgId, expectedNonce: nonce, expectedEmail: "alice@example.com" });
  assert.equal(claims.valid, true);
  assert.equal(claims.sub, "alice@example.com");
  assert.equal(claims.jti, jti);
  assert.equal(claims.purpose, "Authorize production deployment");
  const replay = await agent.verifyPresenceToken({ token, expectedOrgId: orgId, expectedNonce: "other" });
  assert.equal(replay.valid, false);
  const jwks = await agent.getJwks();
  assert.equal(jwks.keys[0].alg, "ES256");
});
