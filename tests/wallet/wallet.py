#!/usr/bin/env python3
"""Test holder ("wallet") for vouch's digital-ID verification (OpenID4VP 1.0).

What it is
----------
A small command-line stand-in for a person's EUDI-style ID wallet.  It plays the
holder side of the OpenID4VP 1.0 cross-device flow and presents a PID as an
SD-JWT VC (format ``dc+sd-jwt``), with the response encrypted
(``response_mode=direct_post.jwt``).  Everything cryptographic is done by
registry libraries, nothing is hand-rolled:

* ``sd-jwt`` (OpenWallet Foundation sd-jwt-python, module ``sd_jwt``): issuing
  the SD-JWT VC, selecting disclosures and writing the key-binding JWT;
* ``jwcrypto``: JWS (request object verification), JWE (the encrypted
  response), JWK;
* ``cryptography``: the X.509 certificates (test CA, issuer, verifier cert).

Versions are pinned in ``requirements.txt`` next to this file.

How vouch's test uses it
------------------------
``crates/server/tests/digital_id.rs`` builds a venv from ``requirements.txt``
and then runs, with that venv's python:

    python wallet.py init DIR
        Creates DIR with a trusted issuing CA ("Test IACA") and its document
        signer ("Test PID Issuer"), a second, untrusted pair ("Rogue IACA"),
        and a holder key.  Writes DIR/trust.pem (the trusted CA certificate,
        which the server is configured to trust), DIR/rogue.pem and
        DIR/state.json.  Prints {"trust": "<absolute path of trust.pem>"}.

    python wallet.py present DIR URI MODE
        URI is what the verifier shows in its QR code:
        openid4vp://?client_id=<urlencoded>&request_uri=<urlencoded>
        (a bare http(s) request_uri is accepted as well).  The wallet fetches
        and checks the request object, issues itself a fresh PID SD-JWT VC,
        presents the claims the DCQL query asks for, encrypts the response
        and POSTs it to response_uri.  MODE is one of:
          ok             a correct presentation
          tampered       one disclosure (given_name) rewritten to "Mallory"
                         after the presentation was made (digest mismatch)
          expired        credential issued with iat=now-2d, exp=now-1d
          untrusted      credential signed by the rogue issuer (rogue x5c)
          wrong_nonce    KB-JWT nonce "not-the-nonce"
          replay         the identical, correct JWE POSTed twice
          wrong_audience KB-JWT aud "x509_san_dns:evil.example"
        Prints one JSON line:
          {"clientId": ..., "responseUri": ..., "requested": [...],
           "disclosed": [...], "posts": [{"status": 200, "body": ...}, ...],
           "mode": ..., "queryId": ...}

With WALLET_PORTRAIT=face.jpg in the environment the PID also carries that photo as
its `picture` claim (a JPEG data URL), which vouch matches against the selfie.

With WALLET_STATUS_URI=URL and WALLET_STATUS_IDX=N the PID names entry N of the status
list at URL (a plain `status` claim: {"status_list": {"idx", "uri"}}, IETF Token Status
List), and

    python wallet.py status-list DIR URI REVOKED SUSPENDED [rogue]
        prints {"token": ...}: the status list token for URI (typ statuslist+jwt, 2 bits
        an entry, 16 entries, all valid but entry REVOKED (1) and SUSPENDED (2)), signed
        by the trusted issuer with its x5c, or by the rogue one with "rogue".

On any failure of the wallet itself (bad request object, network error, ...)
it prints {"failure": "<message with traceback>"} on stdout and exits 1.
Diagnostics go to stderr only; stdout carries exactly one JSON line.

``selfcheck.py`` next to this file proves the wallet against a local stub
verifier without vouch.
"""

import base64
import datetime
import json
import os
import ssl
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import zlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jwcrypto.jwe import JWE
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer

# --------------------------------------------------------------------------
# Constants of the test PID.
# --------------------------------------------------------------------------

PID_VCT = "urn:eudi:pid:1"
ISSUER_ID = "https://issuer.example"
ISSUER_DNS = "issuer.example"

# All of them top-level and selectively disclosable, named as the EUDI PID rulebook's
# SD-JWT VC encoding names them (vouch asks for `age_equal_or_over.18`; disclosing the
# top-level claim reveals the object with it).
PID_CLAIMS = {
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birthdate": "1984-08-12",
    "age_equal_or_over": {"18": True},
    "document_number": "T22000129",
    "issuing_country": "DE",
    "nationalities": ["DE"],
}

MODES = (
    "ok",
    "tampered",
    "expired",
    "untrusted",
    "wrong_nonce",
    "replay",
    "wrong_audience",
)

# Content encryption algorithms this wallet can use for the response JWE.
SUPPORTED_ENC = ("A128GCM", "A256GCM")

HTTP_TIMEOUT_S = 30


class WalletError(Exception):
    """A failure of the wallet (the request, the network, the inputs)."""


def log(*args):
    print("[wallet]", *args, file=sys.stderr, flush=True)


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --------------------------------------------------------------------------
# init: keys and certificates.
# --------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _cert_pem(cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def make_ca(cn: str, now: datetime.datetime):
    """A self-signed P-256 root ("IACA") valid from now-1d for 5 years."""
    key = ec.generate_private_key(ec.SECP256R1())
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=5 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_issuer(ca_key, ca_cert, now: datetime.datetime):
    """The document signer: P-256 leaf signed by the CA, SAN issuer.example."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Test PID Issuer"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(ISSUER_DNS)]), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())  # ecdsa-with-SHA256
    )
    return key, cert


def cmd_init(directory: str) -> dict:
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    ca_key, ca_cert = make_ca("Test IACA", now)
    iss_key, iss_cert = make_issuer(ca_key, ca_cert, now)
    rogue_ca_key, rogue_ca_cert = make_ca("Rogue IACA", now)
    rogue_iss_key, rogue_iss_cert = make_issuer(rogue_ca_key, rogue_ca_cert, now)
    holder = JWK.generate(kty="EC", crv="P-256")

    trust_path = os.path.join(directory, "trust.pem")
    rogue_path = os.path.join(directory, "rogue.pem")
    with open(trust_path, "w") as f:
        f.write(_cert_pem(ca_cert))
    with open(rogue_path, "w") as f:
        f.write(_cert_pem(rogue_ca_cert))

    state = {
        "ca": {"key_pem": _key_pem(ca_key), "cert_pem": _cert_pem(ca_cert)},
        "issuer": {"key_pem": _key_pem(iss_key), "cert_pem": _cert_pem(iss_cert)},
        "rogue_ca": {
            "key_pem": _key_pem(rogue_ca_key),
            "cert_pem": _cert_pem(rogue_ca_cert),
        },
        "rogue_issuer": {
            "key_pem": _key_pem(rogue_iss_key),
            "cert_pem": _cert_pem(rogue_iss_cert),
        },
        # Private JWK (includes "d").
        "holder_jwk": holder.export_private(as_dict=True),
    }
    with open(os.path.join(directory, "state.json"), "w") as f:
        json.dump(state, f, indent=2)
    log("initialised", directory)
    return {"trust": trust_path}


# --------------------------------------------------------------------------
# present: HTTP.
# --------------------------------------------------------------------------


def _opener():
    # Never go through a proxy from the environment: the verifier is local.
    handlers = [urllib.request.ProxyHandler({})]
    if os.environ.get("WALLET_INSECURE_TLS") == "1":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        handlers.append(urllib.request.HTTPSHandler(context=ctx))
    return urllib.request.build_opener(*handlers)


def http_get(url: str, accept: str) -> tuple:
    req = urllib.request.Request(url, headers={"Accept": accept}, method="GET")
    try:
        with _opener().open(req, timeout=HTTP_TIMEOUT_S) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace")
        raise WalletError(f"GET {url} answered {e.code}: {body}") from None


def http_post_form(url: str, fields: dict) -> dict:
    """POST a form; returns {"status": int, "body": parsed JSON or text}."""
    data = urllib.parse.urlencode(fields).encode("ascii")
    req = urllib.request.Request(
        url,
        data=data,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
        method="POST",
    )
    try:
        with _opener().open(req, timeout=HTTP_TIMEOUT_S) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:  # 4xx/5xx: still a verifier answer
        status, raw = e.code, e.read()
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        body = text
    log(f"POST {url} -> {status}: {text[:500]}")
    return {"status": status, "body": body}


# --------------------------------------------------------------------------
# present: the request object.
# --------------------------------------------------------------------------


def parse_uri(uri: str) -> tuple:
    """Returns (client_id or None, request_uri)."""
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme in ("http", "https"):
        return None, uri
    if parsed.scheme not in ("openid4vp", "eudi-openid4vp", "haip", "mdoc-openid4vp"):
        raise WalletError(f"unsupported URI scheme: {parsed.scheme!r}")
    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
    client_id = query.get("client_id", [None])[0]
    request_uri = query.get("request_uri", [None])[0]
    if not request_uri:
        raise WalletError("URI has no request_uri (only request_uri is supported)")
    if not client_id:
        raise WalletError("URI has no client_id")
    return client_id, request_uri


def _split_jwt(token: str) -> tuple:
    parts = token.split(".")
    if len(parts) != 3:
        raise WalletError(f"request object is not a compact JWT ({len(parts)} parts)")
    header = json.loads(b64url_decode(parts[0]))
    payload = json.loads(b64url_decode(parts[1]))
    return header, payload, parts[2]


def _cert_dns_names(cert) -> list:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return san.value.get_values_for_type(x509.DNSName)


def fetch_request_object(uri: str) -> tuple:
    """Fetches and authenticates the request object. Returns (client_id, claims)."""
    uri_client_id, request_uri = parse_uri(uri)
    status, ctype, body = http_get(request_uri, "application/oauth-authz-req+jwt")
    token = body.decode("ascii").strip()
    log(f"GET {request_uri} -> {status} {ctype} ({len(token)} bytes)")
    if "application/oauth-authz-req+jwt" not in ctype:
        log(f"warning: request object Content-Type is {ctype!r}")
    header, claims, signature = _split_jwt(token)
    log("request object header:", json.dumps(header))

    client_id = claims.get("client_id")
    if not isinstance(client_id, str):
        raise WalletError("request object has no client_id claim")
    if uri_client_id is not None and uri_client_id != client_id:
        raise WalletError(
            f"client_id in the URI ({uri_client_id!r}) differs from the request "
            f"object's ({client_id!r})"
        )

    if client_id.startswith("x509_san_dns:"):
        dns = client_id[len("x509_san_dns:"):]
        if header.get("alg") != "ES256":
            raise WalletError(f"x509_san_dns request object alg is {header.get('alg')!r}")
        if header.get("typ") != "oauth-authz-req+jwt":
            raise WalletError(f"request object typ is {header.get('typ')!r}")
        x5c = header.get("x5c")
        if not isinstance(x5c, list) or not x5c:
            raise WalletError("x509_san_dns request object has no x5c")
        cert = x509.load_der_x509_certificate(base64.b64decode(x5c[0]))
        # A test wallet: self-signed verifier certs are fine, no chain check.
        names = _cert_dns_names(cert)
        if dns not in names:
            raise WalletError(
                f"verifier certificate SAN dNSNames {names} do not include {dns!r}"
            )
        jws = JWS()
        jws.deserialize(token)
        try:
            jws.verify(JWK.from_pyca(cert.public_key()), alg="ES256")
        except Exception as e:
            raise WalletError(f"request object signature does not verify: {e}") from None
        claims = json.loads(jws.payload)
    elif client_id.startswith("redirect_uri:"):
        if header.get("alg") != "none" or signature != "":
            raise WalletError("redirect_uri request object must be unsigned (alg none)")
        if client_id[len("redirect_uri:"):] != claims.get("response_uri"):
            raise WalletError(
                f"redirect_uri client_id {client_id!r} does not match response_uri "
                f"{claims.get('response_uri')!r}"
            )
    else:
        raise WalletError(f"unsupported client_id prefix: {client_id!r}")

    if claims.get("response_type") != "vp_token":
        raise WalletError(f"response_type is {claims.get('response_type')!r}")
    if claims.get("response_mode") != "direct_post.jwt":
        raise WalletError(f"response_mode is {claims.get('response_mode')!r}")
    for required in ("response_uri", "nonce", "dcql_query", "client_metadata"):
        if required not in claims:
            raise WalletError(f"request object has no {required}")
    return client_id, claims


def choose_dcql_entry(dcql: dict) -> dict:
    """The first dc+sd-jwt credential query that a PID can answer."""
    for entry in dcql.get("credentials") or []:
        if entry.get("format") != "dc+sd-jwt":
            continue
        vcts = (entry.get("meta") or {}).get("vct_values")
        if not vcts or PID_VCT in vcts:
            return entry
    raise WalletError(f"no dc+sd-jwt PID credential query in {json.dumps(dcql)}")


def requested_claim_names(entry: dict) -> list:
    """Top-level claim names asked for: the first element of each claims path.

    A query without "claims" asks for no selectively disclosable claim
    (OpenID4VP 1.0, 6.4); claim_sets are not used by this wallet.
    """
    names = []
    for claim in entry.get("claims") or []:
        path = claim.get("path") or []
        if path and isinstance(path[0], str) and path[0] not in names:
            names.append(path[0])
    return names


def choose_encryption(client_metadata: dict) -> tuple:
    """Returns (JWK, kid, alg, enc) for the response JWE."""
    keys = (client_metadata.get("jwks") or {}).get("keys") or []
    key = None
    for k in keys:
        if (
            k.get("kty") == "EC"
            and k.get("crv") == "P-256"
            and k.get("use", "enc") == "enc"
            and k.get("alg", "ECDH-ES") == "ECDH-ES"
        ):
            key = k
            break
    if key is None:
        raise WalletError(f"no EC P-256 ECDH-ES key in client_metadata.jwks: {keys}")
    offered = client_metadata.get("encrypted_response_enc_values_supported") or [
        "A128GCM"
    ]
    enc = next((e for e in offered if e in SUPPORTED_ENC), None)
    if enc is None:
        raise WalletError(f"none of the enc values {offered} is supported")
    return JWK(**key), key.get("kid"), "ECDH-ES", enc


# --------------------------------------------------------------------------
# present: credential, presentation, response.
# --------------------------------------------------------------------------


def issue_pid(state: dict, mode: str) -> str:
    """Issues a fresh PID SD-JWT VC to the holder key; returns the issuance."""
    signer = state["rogue_issuer" if mode == "untrusted" else "issuer"]
    issuer_key = JWK.from_pem(signer["key_pem"].encode("ascii"))
    cert = x509.load_pem_x509_certificate(signer["cert_pem"].encode("ascii"))
    x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
    holder_key = JWK(**state["holder_jwk"])

    now = int(time.time())
    if mode == "expired":
        iat, exp = now - 2 * 86400, now - 86400
    else:
        iat, exp = now, now + 365 * 86400

    user_claims = {"iss": ISSUER_ID, "vct": PID_VCT, "iat": iat, "exp": exp}
    for name, value in PID_CLAIMS.items():
        user_claims[SDObj(name)] = value
    # WALLET_PORTRAIT=face.jpg: the PID's `picture` (a data URL), for face match.
    portrait = os.environ.get("WALLET_PORTRAIT")
    if portrait:
        with open(portrait, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        user_claims[SDObj("picture")] = "data:image/jpeg;base64," + data

    status_uri = os.environ.get("WALLET_STATUS_URI")
    if status_uri:
        idx = int(os.environ.get("WALLET_STATUS_IDX", "0"))
        user_claims["status"] = {"status_list": {"idx": idx, "uri": status_uri}}

    issuer = SDJWTIssuer(
        user_claims,
        issuer_key,
        holder_key=holder_key,  # the library writes cnf.jwk (public part)
        sign_alg="ES256",
        # Overrides the library's default typ "example+sd-jwt".
        extra_header_parameters={"typ": "dc+sd-jwt", "x5c": x5c},
    )
    return issuer.sd_jwt_issuance


def present(issuance: str, claim_names: list, nonce: str, aud: str, holder_jwk) -> str:
    holder = SDJWTHolder(issuance)
    offered = set(PID_CLAIMS) | ({"picture"} if os.environ.get("WALLET_PORTRAIT") else set())
    wanted = {n: True for n in claim_names if n in offered}
    holder.create_presentation(wanted, nonce=nonce, aud=aud, holder_key=holder_jwk,
                               sign_alg="ES256")
    return holder.sd_jwt_presentation


def decode_disclosure(disclosure: str) -> list:
    return json.loads(b64url_decode(disclosure))


def tamper(presentation: str) -> str:
    """Rewrites the given_name disclosure (else the first) to "Mallory".

    Keeps the salt and the name, re-encodes base64url without padding the way
    the library encodes disclosures, so its digest is no longer in the SD-JWT's
    _sd array.  The KB-JWT is left as it is (so its sd_hash no longer matches
    either).
    """
    parts = presentation.split("~")
    disclosures = parts[1:-1]
    if not disclosures:
        raise WalletError("nothing disclosed, nothing to tamper with")
    index = 0
    for i, d in enumerate(disclosures):
        if decode_disclosure(d)[1] == "given_name":
            index = i
            break
    salt, name, _value = decode_disclosure(disclosures[index])
    forged = b64url_encode(json.dumps([salt, name, "Mallory"]).encode("utf-8"))
    parts[1 + index] = forged
    log(f"tampered disclosure {name!r}")
    return "~".join(parts)


def encrypt_response(payload: dict, key: JWK, kid, alg: str, enc: str) -> str:
    protected = {"alg": alg, "enc": enc}
    if kid is not None:
        protected["kid"] = kid
    jwe = JWE(
        plaintext=json.dumps(payload).encode("utf-8"),
        protected=json.dumps(protected),
    )
    jwe.add_recipient(key)  # jwcrypto generates the ephemeral key ("epk")
    return jwe.serialize(compact=True)


def cmd_present(directory: str, uri: str, mode: str) -> dict:
    if mode not in MODES:
        raise WalletError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
    with open(os.path.join(directory, "state.json")) as f:
        state = json.load(f)

    client_id, req = fetch_request_object(uri)
    response_uri = req["response_uri"]
    entry = choose_dcql_entry(req["dcql_query"])
    query_id = entry.get("id")
    requested = requested_claim_names(entry)
    log(f"client_id={client_id} query={query_id} requested={requested} mode={mode}")

    issuance = issue_pid(state, mode)
    nonce = "not-the-nonce" if mode == "wrong_nonce" else req["nonce"]
    aud = "x509_san_dns:evil.example" if mode == "wrong_audience" else client_id
    presentation = present(issuance, requested, nonce, aud, JWK(**state["holder_jwk"]))
    if mode == "tampered":
        presentation = tamper(presentation)
    disclosed = [decode_disclosure(d)[1] for d in presentation.split("~")[1:-1]]

    payload = {"vp_token": {query_id: [presentation]}}
    if "state" in req:
        payload["state"] = req["state"]
    key, kid, alg, enc = choose_encryption(req["client_metadata"])
    response = encrypt_response(payload, key, kid, alg, enc)

    posts = [http_post_form(response_uri, {"response": response})]
    if mode == "replay":
        posts.append(http_post_form(response_uri, {"response": response}))

    return {
        "clientId": client_id,
        "responseUri": response_uri,
        "requested": requested,
        "disclosed": disclosed,
        "posts": posts,
        "mode": mode,
        "queryId": query_id,
    }


def cmd_status_list(directory: str, uri: str, revoked: int, suspended: int, rogue: bool) -> dict:
    """A status list token for `uri`: 2 bits an entry, 16 entries."""
    with open(os.path.join(directory, "state.json")) as f:
        state = json.load(f)
    signer = state["rogue_issuer" if rogue else "issuer"]
    key = JWK.from_pem(signer["key_pem"].encode("ascii"))
    cert = x509.load_pem_x509_certificate(signer["cert_pem"].encode("ascii"))
    x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
    bits = 2
    entries = [0] * 16
    entries[revoked] = 1
    entries[suspended] = 2
    raw = bytearray(len(entries) * bits // 8)
    for i, value in enumerate(entries):
        raw[(i * bits) // 8] |= value << ((i * bits) % 8)
    now = int(time.time())
    payload = {
        "sub": uri,
        "iat": now,
        "exp": now + 3600,
        "ttl": 300,
        "status_list": {"bits": bits, "lst": b64url_encode(zlib.compress(bytes(raw)))},
    }
    token = JWS(json.dumps(payload).encode())
    token.add_signature(
        key, alg="ES256",
        protected=json.dumps({"alg": "ES256", "typ": "statuslist+jwt", "x5c": x5c}),
    )
    return {"token": token.serialize(compact=True)}


USAGE = (
    "usage: wallet.py init DIR\n"
    "       wallet.py present DIR URI MODE   (MODE: " + " | ".join(MODES) + ")\n"
    "       wallet.py status-list DIR URI REVOKED SUSPENDED [rogue]"
)


def main(argv: list) -> int:
    try:
        if len(argv) == 2 and argv[0] == "init":
            result = cmd_init(argv[1])
        elif len(argv) == 4 and argv[0] == "present":
            result = cmd_present(argv[1], argv[2], argv[3])
        elif len(argv) in (5, 6) and argv[0] == "status-list":
            rogue = len(argv) == 6 and argv[5] == "rogue"
            result = cmd_status_list(argv[1], argv[2], int(argv[3]), int(argv[4]), rogue)
        else:
            raise WalletError(USAGE)
    except Exception as e:  # noqa: BLE001 - everything becomes {"failure": ...}
        message = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
        log(message)
        print(json.dumps({"failure": message}), flush=True)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
