#!/usr/bin/env node
/**
 * Test holder ("wallet") presenting an ISO/IEC 18013-5 mobile driving licence
 * (mdoc, format `mso_mdoc`) to vouch over OpenID4VP 1.0.
 *
 * What it is
 * ----------
 * The mdoc sibling of wallet.py (which presents an SD-JWT VC PID): a small
 * command-line stand-in for a person's wallet that plays the holder side of the
 * OpenID4VP 1.0 cross-device flow with `response_mode=direct_post.jwt`.
 * Everything cryptographic is done by registry libraries, nothing hand-rolled:
 *
 *   - @auth0/mdl: issuing the mDL (Document ... .sign), the DeviceResponse with
 *     device authentication by signature (DeviceResponse ... .sign), and its CBOR
 *     (cbor-x, through the library's own cbor module so that its tag extensions
 *     - 24 encoded CBOR, 0 tdate, 1004 full-date - are the ones in use);
 *   - jose: the request object's JWS, the response JWE, the JWK thumbprint;
 *   - @peculiar/x509 (on Node's WebCrypto): the test IACA and document signer
 *     certificates; Node's crypto for keys.
 *
 * Versions are pinned in package.json / package-lock.json next to this file
 * (install with `npm ci` in this folder; Node 20 or later). package.json
 * overrides cbor-extract (cbor-x's optional native accelerator) to 2.2.2: the
 * registry used here has no 2.2.3 builds of its per-platform
 * @cbor-extract/* packages, and without them in the lock `npm ci` refuses the
 * lock file.
 *
 * Usage
 * -----
 *   node mdoc_wallet.mjs init DIR
 *       Creates DIR with a trusted IACA ("Test mDL IACA", C=US) and its document
 *       signer ("Test mDL Document Signer", C=US), a second, untrusted pair
 *       ("Rogue mDL IACA" / "Rogue mDL Document Signer") and a P-256 device key.
 *       Writes DIR/trust.pem (the trusted IACA certificate only), DIR/rogue.pem
 *       and DIR/state.json. Prints {"trust": "<absolute path of trust.pem>"}.
 *
 *   node mdoc_wallet.mjs present DIR URI MODE
 *       URI is what the verifier shows in its QR code:
 *       openid4vp://?client_id=<urlencoded>&request_uri=<urlencoded>
 *       (a bare http(s) request_uri is accepted as well). The wallet fetches and
 *       checks the request object, issues itself a fresh mDL, presents the
 *       elements the DCQL mso_mdoc query asks for, encrypts the response and
 *       POSTs it to response_uri. MODE is one of:
 *         ok           a correct presentation
 *         tampered     the disclosed family_name IssuerSignedItem (else the first
 *                      disclosed one) rewritten to "Mallory" after signing
 *                      (its digest no longer matches the MSO)
 *         expired      MSO validFrom now-2d, validUntil now-1d
 *         untrusted    mDL signed by the rogue document signer (rogue x5chain)
 *         wrong_nonce  SessionTranscript built with nonce "not-the-nonce"
 *         replay       the identical, correct JWE POSTed twice
 *       Prints one JSON line:
 *         {"clientId", "responseUri", "requested": [...], "disclosed": [...],
 *          "posts": [{"status", "body"}, ...], "sessionTranscriptHex",
 *          "mode", "queryId"}
 *
 * On any failure of the wallet itself (bad request object, network error, ...)
 * it prints {"failure": "<message with stack>"} on stdout and exits 1.
 * Diagnostics go to stderr only; stdout carries exactly one JSON line.
 * WALLET_INSECURE_TLS=1 accepts any TLS certificate from the verifier.
 *
 * Protocol notes (what a verifier of these presentations must do)
 * ---------------------------------------------------------------
 * SessionTranscript (OpenID4VP 1.0, Appendix B.2.6.1, redirect/direct_post):
 *   SessionTranscript = [null, null, ["OpenID4VPHandover", sha256(cbor(
 *       [client_id, nonce, jwk_thumbprint_bstr, response_uri]))]]
 * where jwk_thumbprint_bstr is the raw 32-byte RFC 7638 SHA-256 thumbprint of
 * the verifier's encryption JWK (client_metadata.jwks.keys[0]). @auth0/mdl
 * takes the transcript as SessionTranscriptBytes = #6.24(bstr .cbor
 * SessionTranscript) (it decodes the tag-24 wrapper itself), and signs
 * DeviceAuthenticationBytes = #6.24(bstr .cbor ["DeviceAuthentication",
 * SessionTranscript, docType, #6.24(bstr .cbor DeviceNameSpaces)]) with ES256;
 * the deviceSignature COSE_Sign1 is sent with a null (detached) payload.
 */

import { createRequire } from 'node:module';
import { webcrypto, createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as jose from 'jose';

const require = createRequire(import.meta.url);
// @auth0/mdl is CommonJS; its cbor module is the one whose cbor-x instance
// carries the library's tag extensions (DataItem = tag 24, Date = tag 0 tdate,
// DateOnly = tag 1004 full-date). Importing cbor-x from ESM would give a second,
// different instance without them.
const mdl = require('@auth0/mdl');
const mdlCbor = require('@auth0/mdl/lib/cbor/index.js');

x509.cryptoProvider.set(webcrypto);

// The library prints "No matching field found for ..." with console.log; stdout
// is reserved for the one JSON line, so everything else goes to stderr.
console.log = (...args) => console.error('[mdl]', ...args);

// --------------------------------------------------------------------------
// Constants of the test mDL.
// --------------------------------------------------------------------------

export const MDL_DOCTYPE = 'org.iso.18013.5.1.mDL';
export const MDL_NAMESPACE = 'org.iso.18013.5.1';
// An EU PID in ISO mdoc form (PID rulebook): doctype and namespace share the name.
export const PID_DOCTYPE = 'eu.europa.ec.eudi.pid.1';
// MDOC_WALLET_DOCTYPE=pid makes this wallet hold a PID instead of an mDL.
const HOLDS_PID = process.env.MDOC_WALLET_DOCTYPE === 'pid';
const DOCTYPE = HOLDS_PID ? PID_DOCTYPE : MDL_DOCTYPE;
const NAMESPACE = HOLDS_PID ? PID_DOCTYPE : MDL_NAMESPACE;

const MODES = ['ok', 'tampered', 'expired', 'untrusted', 'wrong_nonce', 'replay'];

// Content encryption algorithms this wallet can use for the response JWE.
const SUPPORTED_ENC = ['A128GCM', 'A256GCM'];

const HTTP_TIMEOUT_MS = 30_000;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

class WalletError extends Error {
  constructor(message) {
    super(message);
    this.name = 'WalletError';
  }
}

function log(...args) {
  console.error('[mdoc-wallet]', ...args);
}

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const hex = (bytes) => Buffer.from(bytes).toString('hex');

// --------------------------------------------------------------------------
// A tiny valid portrait: a 16x16 greyscale PNG built with node:zlib.
// --------------------------------------------------------------------------

function tinyPng() {
  const width = 16;
  const height = 16;
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y += 1) {
    raw[y * (width + 1)] = 0; // filter: none
    for (let x = 0; x < width; x += 1) raw[y * (width + 1) + 1 + x] = (x * 16 + y * 8) & 0xff;
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// --------------------------------------------------------------------------
// init: keys and certificates.
// --------------------------------------------------------------------------

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' };
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' };

async function generateKeyPair() {
  return webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
}

async function privateJwk(keys, kid) {
  const jwk = await webcrypto.subtle.exportKey('jwk', keys.privateKey);
  const out = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d };
  out.kid = kid ?? (await jose.calculateJwkThumbprint(out, 'sha256'));
  return out;
}

async function keyPem(keys) {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const body = b64(pkcs8).replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

function certPem(cert) {
  return `${cert.toString('pem').trim()}\n`;
}

const dn = (cn) => [{ C: ['US'] }, { CN: [cn] }];

/** A self-signed P-256 IACA valid from now-1d for 5 years. */
async function makeIaca(cn, now) {
  const keys = await generateKeyPair();
  const notAfter = new Date(now.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + 5);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: dn(cn),
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter,
    signingAlgorithm: ECDSA_SHA256,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { keys, cert };
}

/** The document signer: P-256 leaf signed by the IACA, valid now-1d .. +1y. */
async function makeSigner(cn, iaca, now) {
  const keys = await generateKeyPair();
  const notAfter = new Date(now.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + 1);
  const cert = await x509.X509CertificateGenerator.create({
    subject: dn(cn),
    issuer: iaca.cert.subjectName,
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter,
    signingAlgorithm: ECDSA_SHA256, // ecdsa-with-SHA256
    publicKey: keys.publicKey,
    signingKey: iaca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(iaca.keys.publicKey),
    ],
  });
  return { keys, cert };
}

async function exportPair(pair) {
  return {
    key_pem: await keyPem(pair.keys),
    jwk: await privateJwk(pair.keys),
    cert_pem: certPem(pair.cert),
  };
}

async function cmdInit(directory) {
  const dir = path.resolve(directory);
  fs.mkdirSync(dir, { recursive: true });
  const now = new Date();

  const iaca = await makeIaca('Test mDL IACA', now);
  const signer = await makeSigner('Test mDL Document Signer', iaca, now);
  const rogueIaca = await makeIaca('Rogue mDL IACA', now);
  const rogueSigner = await makeSigner('Rogue mDL Document Signer', rogueIaca, now);
  const device = await generateKeyPair();

  const trustPath = path.join(dir, 'trust.pem');
  const roguePath = path.join(dir, 'rogue.pem');
  fs.writeFileSync(trustPath, certPem(iaca.cert));
  fs.writeFileSync(roguePath, certPem(rogueIaca.cert));

  const state = {
    iaca: await exportPair(iaca),
    signer: await exportPair(signer),
    rogue_iaca: await exportPair(rogueIaca),
    rogue_signer: await exportPair(rogueSigner),
    // Private JWK (includes "d"); the MSO carries its public part as a COSE_Key.
    device_jwk: await privateJwk(device),
  };
  fs.writeFileSync(path.join(dir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  log('initialised', dir);
  return { trust: trustPath };
}

// --------------------------------------------------------------------------
// present: HTTP (node:http / node:https; never a proxy from the environment).
// --------------------------------------------------------------------------

function httpRequest(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    if (u.protocol !== 'https:' && u.protocol !== 'http:') {
      reject(new WalletError(`unsupported URL scheme in ${url}`));
      return;
    }
    const options = { method, headers: { ...headers }, timeout: HTTP_TIMEOUT_MS };
    if (u.protocol === 'https:' && process.env.WALLET_INSECURE_TLS === '1') {
      options.rejectUnauthorized = false;
    }
    if (body !== undefined) options.headers['Content-Length'] = Buffer.byteLength(body);
    const req = mod.request(u, options, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode,
        contentType: res.headers['content-type'] ?? '',
        body: Buffer.concat(chunks),
      }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new WalletError(`${method} ${url} timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function httpGet(url, accept) {
  const res = await httpRequest(url, { headers: { Accept: accept } });
  if (res.status < 200 || res.status >= 300) {
    throw new WalletError(`GET ${url} answered ${res.status}: ${res.body.toString('utf8')}`);
  }
  return res;
}

/** POSTs a form; returns {status, body: parsed JSON or text}. */
async function httpPostForm(url, fields) {
  const body = new URLSearchParams(fields).toString();
  const res = await httpRequest(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body,
  });
  const text = res.body.toString('utf8');
  let parsed = null;
  if (text.trim()) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  log(`POST ${url} -> ${res.status}: ${text.slice(0, 500)}`);
  return { status: res.status, body: parsed };
}

// --------------------------------------------------------------------------
// present: the request object.
// --------------------------------------------------------------------------

function parseUri(uri) {
  let u;
  try {
    u = new URL(uri);
  } catch {
    throw new WalletError(`not a URI: ${uri}`);
  }
  if (u.protocol === 'http:' || u.protocol === 'https:') return { clientId: null, requestUri: uri };
  if (!['openid4vp:', 'eudi-openid4vp:', 'haip:', 'mdoc-openid4vp:'].includes(u.protocol)) {
    throw new WalletError(`unsupported URI scheme: ${u.protocol}`);
  }
  const clientId = u.searchParams.get('client_id');
  const requestUri = u.searchParams.get('request_uri');
  if (!requestUri) throw new WalletError('URI has no request_uri (only request_uri is supported)');
  if (!clientId) throw new WalletError('URI has no client_id');
  return { clientId, requestUri };
}

function certDnsNames(cert) {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items.filter((n) => n.type === 'dns').map((n) => n.value);
}

/** Fetches and authenticates the request object. Returns {clientId, claims}. */
async function fetchRequestObject(uri) {
  const { clientId: uriClientId, requestUri } = parseUri(uri);
  const res = await httpGet(requestUri, 'application/oauth-authz-req+jwt');
  const token = res.body.toString('ascii').trim();
  log(`GET ${requestUri} -> ${res.status} ${res.contentType} (${token.length} bytes)`);
  if (!res.contentType.includes('application/oauth-authz-req+jwt')) {
    log(`warning: request object Content-Type is ${JSON.stringify(res.contentType)}`);
  }
  return checkRequestObject(token, uriClientId, null);
}

/**
 * Authenticates a request object. `dcApiOrigin` null: a cross-device request
 * (direct_post.jwt, response_uri); else the Digital Credentials API variant
 * the page at that origin passed (dc_api.jwt, the origin in expected_origins).
 */
async function checkRequestObject(token, uriClientId, dcApiOrigin) {
  const parts = token.split('.');
  if (parts.length !== 3) {
    throw new WalletError(`request object is not a compact JWT (${parts.length} parts)`);
  }
  const header = jose.decodeProtectedHeader(token);
  let claims = jose.decodeJwt(token);
  log('request object header:', JSON.stringify({ ...header, x5c: header.x5c ? `[${header.x5c.length} cert(s)]` : undefined }));

  const clientId = claims.client_id;
  if (typeof clientId !== 'string') throw new WalletError('request object has no client_id claim');
  if (uriClientId !== null && uriClientId !== clientId) {
    throw new WalletError(
      `client_id in the URI (${JSON.stringify(uriClientId)}) differs from the request object's (${JSON.stringify(clientId)})`,
    );
  }

  if (clientId.startsWith('x509_san_dns:')) {
    const dns = clientId.slice('x509_san_dns:'.length);
    if (header.alg !== 'ES256') throw new WalletError(`x509_san_dns request object alg is ${JSON.stringify(header.alg)}`);
    if (header.typ !== 'oauth-authz-req+jwt') throw new WalletError(`request object typ is ${JSON.stringify(header.typ)}`);
    if (!Array.isArray(header.x5c) || header.x5c.length === 0) {
      throw new WalletError('x509_san_dns request object has no x5c');
    }
    const der = Buffer.from(header.x5c[0], 'base64');
    const cert = new x509.X509Certificate(der);
    // A test wallet: self-signed verifier certificates are fine, no chain check.
    const names = certDnsNames(cert);
    if (!names.includes(dns)) {
      throw new WalletError(`verifier certificate SAN dNSNames ${JSON.stringify(names)} do not include ${JSON.stringify(dns)}`);
    }
    const key = await jose.importX509(cert.toString('pem'), 'ES256');
    try {
      const { payload } = await jose.compactVerify(token, key, { algorithms: ['ES256'] });
      claims = JSON.parse(Buffer.from(payload).toString('utf8'));
    } catch (e) {
      throw new WalletError(`request object signature does not verify: ${e.message}`);
    }
  } else if (clientId.startsWith('redirect_uri:')) {
    if (header.alg !== 'none' || parts[2] !== '') {
      throw new WalletError('redirect_uri request object must be unsigned (alg none)');
    }
    if (clientId.slice('redirect_uri:'.length) !== claims.response_uri) {
      throw new WalletError(
        `redirect_uri client_id ${JSON.stringify(clientId)} does not match response_uri ${JSON.stringify(claims.response_uri)}`,
      );
    }
  } else {
    throw new WalletError(`unsupported client_id prefix: ${JSON.stringify(clientId)}`);
  }

  if (claims.response_type !== 'vp_token') throw new WalletError(`response_type is ${JSON.stringify(claims.response_type)}`);
  if (dcApiOrigin !== null) {
    if (claims.response_mode !== 'dc_api.jwt') throw new WalletError(`response_mode is ${JSON.stringify(claims.response_mode)}`);
    if (!Array.isArray(claims.expected_origins) || !claims.expected_origins.includes(dcApiOrigin)) {
      throw new WalletError(`${dcApiOrigin} is not in expected_origins ${JSON.stringify(claims.expected_origins)}`);
    }
    for (const required of ['nonce', 'dcql_query', 'client_metadata']) {
      if (!(required in claims)) throw new WalletError(`request object has no ${required}`);
    }
    return { clientId, claims };
  }
  if (claims.response_mode !== 'direct_post.jwt') throw new WalletError(`response_mode is ${JSON.stringify(claims.response_mode)}`);
  for (const required of ['response_uri', 'nonce', 'dcql_query', 'client_metadata']) {
    if (!(required in claims)) throw new WalletError(`request object has no ${required}`);
  }
  if (typeof claims.nonce !== 'string' || typeof claims.response_uri !== 'string') {
    throw new WalletError('nonce and response_uri must be strings');
  }
  return { clientId, claims };
}

/** The first mso_mdoc credential query for the document this wallet holds. */
function chooseDcqlEntry(dcql) {
  for (const entry of dcql?.credentials ?? []) {
    if (entry.format !== 'mso_mdoc') continue;
    if (entry.meta?.doctype_value === DOCTYPE) return entry;
  }
  throw new WalletError(`no mso_mdoc ${DOCTYPE} credential query in ${JSON.stringify(dcql)}`);
}

/**
 * The (namespace, element identifier) pairs asked for, in order. A query
 * without "claims" asks for no element (OpenID4VP 1.0, 6.4); claim_sets are
 * not used by this wallet. The pre-1.0 draft shape {namespace, claim_name} is
 * accepted too.
 */
function requestedElements(entry) {
  const out = [];
  for (const claim of entry.claims ?? []) {
    let ns;
    let id;
    if (Array.isArray(claim.path) && claim.path.length === 2) {
      [ns, id] = claim.path;
    } else if (typeof claim.namespace === 'string' && typeof claim.claim_name === 'string') {
      ns = claim.namespace;
      id = claim.claim_name;
    } else {
      throw new WalletError(`unsupported mso_mdoc claim query ${JSON.stringify(claim)}`);
    }
    if (typeof ns !== 'string' || typeof id !== 'string') {
      throw new WalletError(`mso_mdoc claim path must be [namespace, element]: ${JSON.stringify(claim)}`);
    }
    if (!out.some((e) => e.ns === ns && e.id === id)) out.push({ ns, id });
  }
  return out;
}

/** Returns {jwk, kid, alg, enc} for the response JWE. */
function chooseEncryption(clientMetadata) {
  const keys = clientMetadata?.jwks?.keys ?? [];
  const jwk = keys.find((k) => k.kty === 'EC' && k.crv === 'P-256'
    && (k.use ?? 'enc') === 'enc' && (k.alg ?? 'ECDH-ES') === 'ECDH-ES');
  if (!jwk) throw new WalletError(`no EC P-256 ECDH-ES key in client_metadata.jwks: ${JSON.stringify(keys)}`);
  const offered = clientMetadata.encrypted_response_enc_values_supported ?? ['A128GCM'];
  const enc = offered.find((e) => SUPPORTED_ENC.includes(e));
  if (!enc) throw new WalletError(`none of the enc values ${JSON.stringify(offered)} is supported`);
  return { jwk, kid: jwk.kid, alg: 'ECDH-ES', enc };
}

// --------------------------------------------------------------------------
// present: SessionTranscript (OpenID4VP 1.0, Appendix B.2.6.1).
// --------------------------------------------------------------------------

/** The raw 32-byte RFC 7638 SHA-256 thumbprint of a public JWK. */
async function jwkThumbprintBytes(jwk) {
  const { kty, crv, x, y } = jwk;
  return Buffer.from(await jose.calculateJwkThumbprint({ kty, crv, x, y }, 'sha256'), 'base64url');
}

/**
 * Returns {sessionTranscript, sessionTranscriptCbor, sessionTranscriptBytes}:
 * the value, its CBOR encoding, and #6.24(bstr .cbor SessionTranscript) as
 * @auth0/mdl's usingSessionTranscriptBytes expects it.
 */
async function buildSessionTranscript({ clientId, nonce, verifierJwk, responseUri, dcApiOrigin }) {
  const thumbprint = await jwkThumbprintBytes(verifierJwk);
  // OpenID4VP 1.0 B.2.6.1 (redirect) or B.2.6.2 (Digital Credentials API).
  const [name, handoverInfo] = dcApiOrigin
    ? ['OpenID4VPDCAPIHandover', [dcApiOrigin, nonce, thumbprint]]
    : ['OpenID4VPHandover', [clientId, nonce, thumbprint, responseUri]];
  const handoverInfoCbor = mdlCbor.cborEncode(handoverInfo);
  const handoverInfoHash = createHash('sha256').update(handoverInfoCbor).digest();
  const sessionTranscript = [null, null, [name, handoverInfoHash]];
  const sessionTranscriptCbor = mdlCbor.cborEncode(sessionTranscript);
  const sessionTranscriptBytes = mdlCbor.cborEncode(mdl.DataItem.fromData(sessionTranscript));
  log('OpenID4VPHandoverInfo (hex):', hex(handoverInfoCbor));
  log('SessionTranscript (hex):', hex(sessionTranscriptCbor));
  log('SessionTranscriptBytes, tag 24 (hex):', hex(sessionTranscriptBytes));
  return { sessionTranscript, sessionTranscriptCbor, sessionTranscriptBytes };
}

// --------------------------------------------------------------------------
// present: credential, presentation, response.
// --------------------------------------------------------------------------

function publicJwk(jwk) {
  const { kty, crv, x, y } = jwk;
  return { kty, crv, x, y };
}

function isoDate(d) {
  return d.toISOString().slice(0, 10);
}

/** Issues a fresh mDL to the device key; returns the encoded issuer MDoc. */
async function issueMdl(state, mode) {
  const signer = state[mode === 'untrusted' ? 'rogue_signer' : 'signer'];
  const now = new Date();
  const validity = mode === 'expired'
    ? { signed: now, validFrom: new Date(now.getTime() - 2 * DAY_MS), validUntil: new Date(now.getTime() - DAY_MS) }
    : { signed: now, validFrom: new Date(now.getTime() - HOUR_MS), validUntil: new Date(now.getTime() + 365 * DAY_MS) };
  const expiry = new Date(now.getTime());
  expiry.setUTCFullYear(expiry.getUTCFullYear() + 5);

  const elements = HOLDS_PID ? {
    family_name: 'Mustermann',
    given_name: 'Erika',
    birth_date: '1984-08-12',
    age_over_18: true,
    issuing_country: 'DE',
    issuing_authority: 'Test PID Provider',
    document_number: 'P1234567',
    nationality: ['DE'],
    issuance_date: isoDate(now),
    expiry_date: isoDate(expiry),
  } : null;
  const document = await new mdl.Document(DOCTYPE)
    .addIssuerNameSpace(NAMESPACE, elements ?? {
      family_name: 'Mustermann',
      given_name: 'Erika',
      birth_date: '1984-08-12', // the library encodes it as tag 1004 full-date
      issue_date: isoDate(now),
      expiry_date: isoDate(expiry),
      issuing_country: 'US',
      issuing_authority: 'Test DMV',
      document_number: 'D1234567',
      portrait: tinyPng(),
      driving_privileges: [],
      age_over_18: true,
      nationality: 'US',
    })
    .useDigestAlgorithm('SHA-256')
    .addValidityInfo(validity)
    // Public part only: the MSO's deviceKey COSE_Key is {1: 2, -1: 1, -2: x, -3: y}.
    .addDeviceKeyInfo({ deviceKey: publicJwk(state.device_jwk) })
    .sign({
      issuerPrivateKey: signer.jwk,
      issuerCertificate: signer.cert_pem,
      alg: 'ES256',
    });
  return new mdl.MDoc([document]).encode();
}

/** A presentation definition for the library, from the DCQL elements. */
function presentationDefinition(elements) {
  return {
    id: 'mdl-dcql',
    input_descriptors: [
      {
        id: DOCTYPE,
        format: { mso_mdoc: { alg: ['ES256'] } },
        constraints: {
          limit_disclosure: 'required',
          fields: elements.map(({ ns, id }) => ({
            path: [`$['${ns}']['${id}']`],
            intent_to_retain: false,
          })),
        },
      },
    ],
  };
}

/**
 * Rewrites one disclosed IssuerSignedItem (family_name, else the first) to
 * "Mallory": a new IssuerSignedItemBytes with the same digestID and random,
 * so its digest no longer matches the MSO's valueDigests. Everything else
 * (issuerAuth, deviceSigned) stays as signed.
 */
function tamper(deviceResponseMdoc) {
  const doc = deviceResponseMdoc.documents[0];
  const items = doc.issuerSigned.nameSpaces[NAMESPACE] ?? [];
  if (items.length === 0) throw new WalletError('nothing disclosed, nothing to tamper with');
  let index = items.findIndex((it) => it.elementIdentifier === 'family_name');
  if (index < 0) index = 0;
  const original = items[index];
  const forged = new Map(original.dataItem.data);
  forged.set('elementValue', 'Mallory');
  // The library's IssuerSignedItem class (not exported by name) via the instance.
  items[index] = new original.constructor(mdl.DataItem.fromData(forged));
  log(`tampered IssuerSignedItem ${original.elementIdentifier}: ${hex(original.dataItem.buffer)} -> ${hex(items[index].dataItem.buffer)}`);
}

async function encryptResponse(payload, { jwk, kid, alg, enc }) {
  const key = await jose.importJWK(publicJwk(jwk), alg);
  const protectedHeader = { alg, enc };
  if (kid !== undefined) protectedHeader.kid = kid;
  return new jose.CompactEncrypt(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(protectedHeader)
    .encrypt(key);
}

async function cmdPresent(directory, uri, mode) {
  if (!MODES.includes(mode)) throw new WalletError(`unknown mode ${JSON.stringify(mode)}; one of ${MODES.join(', ')}`);
  const state = JSON.parse(fs.readFileSync(path.join(directory, 'state.json'), 'utf8'));

  const { clientId, claims: req } = await fetchRequestObject(uri);
  const responseUri = req.response_uri;
  const entry = chooseDcqlEntry(req.dcql_query);
  const queryId = entry.id;
  const elements = requestedElements(entry);
  const requested = elements.map((e) => e.id);
  log(`client_id=${clientId} query=${queryId} requested=${JSON.stringify(requested)} mode=${mode}`);
  const encryption = chooseEncryption(req.client_metadata);

  const issued = await issueMdl(state, mode);

  const nonce = mode === 'wrong_nonce' ? 'not-the-nonce' : req.nonce;
  const { sessionTranscriptCbor, sessionTranscriptBytes } = await buildSessionTranscript({
    clientId, nonce, verifierJwk: encryption.jwk, responseUri,
  });

  const presented = await mdl.DeviceResponse.from(issued)
    .usingPresentationDefinition(presentationDefinition(elements))
    .usingSessionTranscriptBytes(sessionTranscriptBytes)
    .authenticateWithSignature(state.device_jwk, 'ES256')
    .sign();
  if (mode === 'tampered') tamper(presented);
  const disclosed = (presented.documents[0]?.issuerSigned.nameSpaces[NAMESPACE] ?? [])
    .map((it) => it.elementIdentifier);
  const deviceResponse = presented.encode();
  log(`DeviceResponse: ${deviceResponse.length} bytes, disclosed ${JSON.stringify(disclosed)}`);
  if (process.env.WALLET_DUMP_DIR) {
    fs.writeFileSync(path.join(process.env.WALLET_DUMP_DIR, `device_response_${mode}.cbor`), deviceResponse);
  }

  const payload = { vp_token: { [queryId]: [b64url(deviceResponse)] } };
  if ('state' in req) payload.state = req.state;
  const jwe = await encryptResponse(payload, encryption);
  log(`response JWE: alg=${encryption.alg} enc=${encryption.enc} kid=${encryption.kid}`);

  const posts = [await httpPostForm(responseUri, { response: jwe })];
  if (mode === 'replay') posts.push(await httpPostForm(responseUri, { response: jwe }));

  return {
    clientId,
    responseUri,
    requested,
    disclosed,
    posts,
    sessionTranscriptHex: hex(sessionTranscriptCbor),
    mode,
    queryId,
  };
}

/**
 * The same-device flow through the browser's Digital Credentials API: the page
 * at ORIGIN hands the wallet the signed request (in REQUEST_FILE); the wallet
 * answers with the encrypted response, which the page posts to vouch. MODE ok,
 * or wrong_origin (the transcript names another origin). Prints {"response",
 * "disclosed", "queryId", "mode"}; posts nothing.
 */
async function cmdPresentDc(directory, requestFile, origin, mode) {
  if (!['ok', 'wrong_origin'].includes(mode)) throw new WalletError(`unknown mode ${JSON.stringify(mode)}`);
  const state = JSON.parse(fs.readFileSync(path.join(directory, 'state.json'), 'utf8'));
  const token = fs.readFileSync(requestFile, 'utf8').trim();
  const { clientId, claims: req } = await checkRequestObject(token, null, origin);
  const entry = chooseDcqlEntry(req.dcql_query);
  const elements = requestedElements(entry);
  const encryption = chooseEncryption(req.client_metadata);
  const issued = await issueMdl(state, 'ok');
  const { sessionTranscriptBytes } = await buildSessionTranscript({
    clientId, nonce: req.nonce, verifierJwk: encryption.jwk,
    dcApiOrigin: mode === 'wrong_origin' ? 'https://evil.example' : origin,
  });
  const presented = await mdl.DeviceResponse.from(issued)
    .usingPresentationDefinition(presentationDefinition(elements))
    .usingSessionTranscriptBytes(sessionTranscriptBytes)
    .authenticateWithSignature(state.device_jwk, 'ES256')
    .sign();
  const disclosed = (presented.documents[0]?.issuerSigned.nameSpaces[NAMESPACE] ?? [])
    .map((it) => it.elementIdentifier);
  const payload = { vp_token: { [entry.id]: [b64url(presented.encode())] } };
  if ('state' in req) payload.state = req.state;
  return { response: await encryptResponse(payload, encryption), disclosed, queryId: entry.id, mode };
}

const USAGE = `usage: mdoc_wallet.mjs init DIR\n       mdoc_wallet.mjs present DIR URI MODE   (MODE: ${MODES.join(' | ')})\n       mdoc_wallet.mjs present-dc DIR REQUEST_FILE ORIGIN ok|wrong_origin`;

async function main(argv) {
  let result;
  try {
    if (argv.length === 2 && argv[0] === 'init') {
      result = await cmdInit(argv[1]);
    } else if (argv.length === 4 && argv[0] === 'present') {
      result = await cmdPresent(argv[1], argv[2], argv[3]);
    } else if (argv.length === 5 && argv[0] === 'present-dc') {
      result = await cmdPresentDc(argv[1], argv[2], argv[3], argv[4]);
    } else {
      throw new WalletError(USAGE);
    }
  } catch (e) {
    const message = `${e?.name ?? 'Error'}: ${e?.message ?? e}\n${e?.stack ?? ''}`;
    log(message);
    process.stdout.write(`${JSON.stringify({ failure: message })}\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
