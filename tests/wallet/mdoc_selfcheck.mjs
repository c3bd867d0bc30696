#!/usr/bin/env node
/**
 * Self-test of mdoc_wallet.mjs, without vouch.
 *
 * Starts a tiny OpenID4VP 1.0 verifier stub on 127.0.0.1 (node:http) that plays
 * the verifier as vouch is expected to for an mDL:
 *
 *   - a self-signed P-256 verifier certificate with SAN dNSName "localhost";
 *   - request objects served at /request/<id> as application/oauth-authz-req+jwt,
 *     signed (ES256, typ oauth-authz-req+jwt, x5c) for client_id
 *     x509_san_dns:localhost, or unsigned (alg none) for client_id
 *     redirect_uri:<response_uri>;
 *   - a DCQL query with a dc+sd-jwt entry (to be ignored) and an mso_mdoc mDL
 *     entry asking for family_name, given_name and age_over_18 in
 *     org.iso.18013.5.1;
 *   - a fresh ECDH-ES P-256 encryption key per request in client_metadata.jwks,
 *     encrypted_response_enc_values_supported ["A128GCM", "A256GCM"];
 *   - /response/<id> takes the direct_post.jwt response, decrypts the JWE with
 *     jose, checks state, and verifies the DeviceResponse with @auth0/mdl's
 *     Verifier: x5chain to trust.pem, issuer signature, MSO validity, device
 *     signature over DeviceAuthentication with the SessionTranscript the stub
 *     computes itself (OpenID4VP 1.0 Appendix B.2.6.1), every digest; then that
 *     exactly the three requested elements are disclosed. It answers 200
 *     {"status": "ok", ...} or 400 {"error": ..., "problems": [...]}; a second
 *     response to the same request is rejected as a replay.
 *
 * Then runs `mdoc_wallet.mjs init` and `mdoc_wallet.mjs present` as child
 * processes (same node) for each mode and checks the outcome. Exit 0 when all
 * good.
 *
 * Usage: node mdoc_selfcheck.mjs        (after `npm ci` in this folder)
 */

import { createRequire } from 'node:module';
import { webcrypto, createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as jose from 'jose';

const require = createRequire(import.meta.url);
const mdl = require('@auth0/mdl');
const mdlCbor = require('@auth0/mdl/lib/cbor/index.js');

x509.cryptoProvider.set(webcrypto);

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WALLET = path.join(HERE, 'mdoc_wallet.mjs');
const NS = 'org.iso.18013.5.1';
const DOCTYPE = 'org.iso.18013.5.1.mDL';
const REQUESTED = ['family_name', 'given_name', 'age_over_18'];
const QUERY_ID = 'mdl';

function log(...args) {
  console.error('[selfcheck]', ...args);
}

const rand = () => randomBytes(16).toString('base64url');
const hex = (b) => Buffer.from(b).toString('hex');

// --------------------------------------------------------------------------
// The verifier stub.
// --------------------------------------------------------------------------

async function makeVerifierCert() {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=localhost verifier',
    notBefore: new Date(now - 86_400_000),
    notAfter: new Date(now + 30 * 86_400_000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    keys,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }]),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    ],
  });
  return { keys, cert };
}

/** SessionTranscript per OpenID4VP 1.0 B.2.6.1, computed on the verifier side. */
async function verifierSessionTranscript({ clientId, nonce, encPublicJwk, responseUri }) {
  const thumbprint = Buffer.from(await jose.calculateJwkThumbprint(encPublicJwk, 'sha256'), 'base64url');
  const infoHash = createHash('sha256')
    .update(mdlCbor.cborEncode([clientId, nonce, thumbprint, responseUri]))
    .digest();
  const transcript = [null, null, ['OpenID4VPHandover', infoHash]];
  return {
    cbor: Buffer.from(mdlCbor.cborEncode(transcript)),
    // What @auth0/mdl's Verifier takes as encodedSessionTranscript.
    taggedBytes: Buffer.from(mdlCbor.cborEncode(mdl.DataItem.fromData(transcript))),
  };
}

class Stub {
  constructor(trustPem, verifierCert) {
    this.trustPem = trustPem;
    this.verifierCert = verifierCert;
    this.requests = new Map();
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e) => {
        log('stub error', e);
        this.json(res, 500, { error: 'internal', detail: String(e?.stack ?? e) });
      });
    });
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${this.server.address().port}`;
  }

  stop() {
    this.server.close();
  }

  json(res, status, body) {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** Creates a request; returns the openid4vp:// URI. */
  async newRequest(kind = 'x509') {
    const id = rand();
    const responseUri = `${this.base}/response/${id}`;
    const clientId = kind === 'x509' ? 'x509_san_dns:localhost' : `redirect_uri:${responseUri}`;
    const encKeys = await webcrypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
    const exported = await webcrypto.subtle.exportKey('jwk', encKeys.publicKey);
    const encPublicJwk = { kty: exported.kty, crv: exported.crv, x: exported.x, y: exported.y };
    const encJwk = { ...encPublicJwk, kid: `enc-${id.slice(0, 8)}`, use: 'enc', alg: 'ECDH-ES' };
    const nonce = rand();
    const state = rand();
    const claims = {
      client_id: clientId,
      response_type: 'vp_token',
      response_mode: 'direct_post.jwt',
      response_uri: responseUri,
      nonce,
      state,
      dcql_query: {
        credentials: [
          {
            id: 'pid',
            format: 'dc+sd-jwt',
            meta: { vct_values: ['urn:eudi:pid:1'] },
            claims: [{ path: ['given_name'] }],
          },
          {
            id: QUERY_ID,
            format: 'mso_mdoc',
            meta: { doctype_value: DOCTYPE },
            claims: REQUESTED.map((e) => ({ id: e, path: [NS, e], intent_to_retain: false })),
          },
        ],
      },
      client_metadata: {
        jwks: { keys: [encJwk] },
        encrypted_response_enc_values_supported: ['A128GCM', 'A256GCM'],
        vp_formats_supported: { mso_mdoc: { issuerauth_alg_values: [-7], deviceauth_alg_values: [-7] } },
      },
      aud: 'https://self-issued.me/v2',
      iat: Math.floor(Date.now() / 1000),
    };
    let token;
    if (kind === 'x509') {
      token = await new jose.SignJWT(claims)
        .setProtectedHeader({
          alg: 'ES256',
          typ: 'oauth-authz-req+jwt',
          x5c: [this.verifierCert.cert.toString('base64')],
        })
        .sign(this.verifierCert.keys.privateKey);
    } else {
      token = `${new jose.UnsecuredJWT(claims).setIssuedAt().encode()}`;
      // jose writes {"alg":"none"}; add typ the way vouch does.
      const [, payload] = token.split('.');
      const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'oauth-authz-req+jwt' })).toString('base64url');
      token = `${header}.${payload}.`;
    }
    const transcript = await verifierSessionTranscript({ clientId, nonce, encPublicJwk, responseUri });
    this.requests.set(id, {
      id, clientId, responseUri, nonce, state, encKeys, encJwk, token, transcript, answered: false,
    });
    return `openid4vp://?client_id=${encodeURIComponent(clientId)}&request_uri=${encodeURIComponent(`${this.base}/request/${id}`)}`;
  }

  async handle(req, res) {
    const url = new URL(req.url, this.base);
    const [, what, id] = url.pathname.split('/');
    const entry = this.requests.get(id);
    if (req.method === 'GET' && what === 'request' && entry) {
      res.writeHead(200, { 'Content-Type': 'application/oauth-authz-req+jwt' });
      res.end(entry.token);
      return;
    }
    if (req.method === 'POST' && what === 'response' && entry) {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (entry.answered) {
        this.json(res, 400, { error: 'replay', problems: ['a response to this request was already received'] });
        return;
      }
      entry.answered = true;
      const { status, body } = await this.verifyResponse(entry, form.get('response'));
      entry.result = body;
      this.json(res, status, body);
      return;
    }
    this.json(res, 404, { error: 'not_found' });
  }

  async verifyResponse(entry, jwe) {
    if (!jwe) return { status: 400, body: { error: 'invalid_request', problems: ['no response parameter'] } };
    let payload;
    let protectedHeader;
    try {
      const out = await jose.compactDecrypt(jwe, entry.encKeys.privateKey, {
        keyManagementAlgorithms: ['ECDH-ES'],
        contentEncryptionAlgorithms: ['A128GCM', 'A256GCM'],
      });
      payload = JSON.parse(Buffer.from(out.plaintext).toString('utf8'));
      protectedHeader = out.protectedHeader;
    } catch (e) {
      return { status: 400, body: { error: 'invalid_jwe', problems: [e.message] } };
    }
    const problems = [];
    if (protectedHeader.kid !== entry.encJwk.kid) problems.push(`JWE kid ${protectedHeader.kid} is not ${entry.encJwk.kid}`);
    if (payload.state !== entry.state) problems.push('state does not match');
    const presentations = payload.vp_token?.[QUERY_ID];
    if (!Array.isArray(presentations) || presentations.length !== 1 || typeof presentations[0] !== 'string') {
      problems.push(`vp_token.${QUERY_ID} is not an array of one string`);
      return { status: 400, body: { error: 'invalid_vp_token', problems } };
    }
    const deviceResponse = Buffer.from(presentations[0], 'base64url');

    const checks = [];
    let mdoc;
    try {
      mdoc = await new mdl.Verifier([this.trustPem]).verify(deviceResponse, {
        encodedSessionTranscript: entry.transcript.taggedBytes,
        onCheck: (check) => checks.push(check),
      });
    } catch (e) {
      problems.push(`verify threw: ${e.message}`);
    }
    for (const c of checks) {
      if (c.status === 'FAILED') problems.push({ id: c.id, category: c.category, check: c.check, reason: c.reason });
    }
    let disclosed = [];
    let claims = {};
    if (mdoc) {
      const doc = mdoc.documents[0];
      if (!doc || doc.docType !== DOCTYPE) problems.push(`docType is ${doc?.docType}`);
      if (!doc?.deviceSigned?.deviceAuth?.deviceSignature) problems.push('no deviceSignature');
      const items = doc?.issuerSigned?.nameSpaces?.[NS] ?? [];
      disclosed = items.map((it) => it.elementIdentifier);
      claims = Object.fromEntries(items.map((it) => [it.elementIdentifier, it.elementValue]));
      const others = Object.keys(doc?.issuerSigned?.nameSpaces ?? {}).filter((n) => n !== NS);
      if (others.length) problems.push(`unexpected namespaces ${others}`);
      if ([...disclosed].sort().join() !== [...REQUESTED].sort().join()) {
        problems.push(`disclosed ${JSON.stringify(disclosed)}, requested ${JSON.stringify(REQUESTED)}`);
      }
    }
    if (problems.length) return { status: 400, body: { error: 'invalid_presentation', problems, disclosed } };
    return { status: 200, body: { status: 'ok', disclosed, claims } };
  }
}

// --------------------------------------------------------------------------
// Running the wallet.
// --------------------------------------------------------------------------

function runWallet(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WALLET, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = out.split('\n').filter((l) => l.trim());
      let result = null;
      try {
        result = lines.length === 1 ? JSON.parse(lines[0]) : null;
      } catch {
        result = null;
      }
      resolve({ code, result, lines, stderr: err });
    });
  });
}

const failures = [];
function expect(cond, what) {
  if (cond) {
    log(`ok   ${what}`);
  } else {
    log(`FAIL ${what}`);
    failures.push(what);
  }
}

const failedIds = (body) => (body?.problems ?? []).map((p) => (typeof p === 'object' ? p.id : p));

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdoc-wallet-'));
  const init = await runWallet(['init', dir]);
  expect(init.code === 0 && init.result?.trust === path.join(dir, 'trust.pem'), `init prints the trust path (${init.lines})`);
  if (init.code !== 0) {
    log(init.stderr);
    return 1;
  }
  const trustPem = fs.readFileSync(init.result.trust, 'utf8');
  const stub = new Stub(trustPem, await makeVerifierCert());
  await stub.start();
  log('stub at', stub.base);

  const cases = [
    { mode: 'ok', kind: 'x509' },
    { mode: 'ok', kind: 'redirect' },
    { mode: 'tampered', kind: 'x509', reason: 'ATTRIBUTE_DIGEST_MATCH' },
    { mode: 'expired', kind: 'x509', reason: 'MSO_VALIDITY_AT_VERIFICATION_TIME' },
    { mode: 'untrusted', kind: 'x509', reason: 'ISSUER_CERTIFICATE_VALIDITY' },
    { mode: 'wrong_nonce', kind: 'x509', reason: 'DEVICE_SIGNATURE_VALIDITY' },
    { mode: 'replay', kind: 'x509' },
  ];
  try {
    for (const c of cases) {
      const uri = await stub.newRequest(c.kind);
      const run = await runWallet(['present', dir, uri, c.mode]);
      const label = `${c.mode} (${c.kind})`;
      const r = run.result;
      if (run.code !== 0 || !r || r.failure) {
        expect(false, `${label}: wallet ran (code ${run.code}, stdout ${JSON.stringify(run.lines)})`);
        log(run.stderr);
        continue;
      }
      const entry = [...stub.requests.values()].find((e) => uri.includes(encodeURIComponent(`${stub.base}/request/${e.id}`)));
      expect(r.clientId === entry.clientId && r.responseUri === entry.responseUri, `${label}: clientId/responseUri echoed`);
      expect(JSON.stringify(r.requested) === JSON.stringify(REQUESTED), `${label}: requested ${JSON.stringify(r.requested)}`);
      expect([...r.disclosed].sort().join() === [...REQUESTED].sort().join(), `${label}: disclosed ${JSON.stringify(r.disclosed)}`);
      const statuses = r.posts.map((p) => p.status);
      if (c.mode === 'ok') {
        expect(r.sessionTranscriptHex === hex(entry.transcript.cbor), `${label}: wallet and stub SessionTranscript agree`);
        expect(JSON.stringify(statuses) === '[200]', `${label}: accepted (${JSON.stringify(r.posts)})`);
        const claims = r.posts[0].body?.claims ?? {};
        expect(claims.family_name === 'Mustermann' && claims.given_name === 'Erika' && claims.age_over_18 === true,
          `${label}: claims ${JSON.stringify(claims)}`);
      } else if (c.mode === 'replay') {
        expect(JSON.stringify(statuses) === '[200,400]', `${label}: 200 then 400 (${JSON.stringify(statuses)})`);
        expect(r.posts[1].body?.error === 'replay', `${label}: second answer is a replay (${JSON.stringify(r.posts[1].body)})`);
      } else {
        const ids = failedIds(r.posts[0].body);
        expect(JSON.stringify(statuses) === '[400]', `${label}: rejected (${JSON.stringify(statuses)})`);
        expect(ids.includes(c.reason), `${label}: Verifier flags ${c.reason} (flags ${JSON.stringify(ids)})`);
        if (c.mode === 'wrong_nonce') {
          expect(r.sessionTranscriptHex !== hex(entry.transcript.cbor), `${label}: transcript differs from the stub's`);
        }
      }
    }
    // A wallet failure is reported as {"failure": ...} with exit code 1.
    const bad = await runWallet(['present', dir, `openid4vp://?client_id=x509_san_dns%3Aevil.example&request_uri=${encodeURIComponent(`${stub.base}/request/nope`)}`, 'ok']);
    expect(bad.code === 1 && typeof bad.result?.failure === 'string' && bad.lines.length === 1,
      'wallet error gives {"failure": ...} and exit 1');
  } finally {
    stub.stop();
  }
  if (failures.length) {
    log(`${failures.length} check(s) failed:\n  ${failures.join('\n  ')}`);
    return 1;
  }
  log('all good');
  fs.rmSync(dir, { recursive: true, force: true });
  return 0;
}

process.exitCode = await main();
