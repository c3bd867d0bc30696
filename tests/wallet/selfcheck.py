#!/usr/bin/env python3
"""Self-test of wallet.py, without vouch.

Starts a tiny OpenID4VP 1.0 verifier stub on 127.0.0.1 (http.server in a
thread) that plays the verifier exactly as vouch is expected to:

* a self-signed P-256 verifier certificate with SAN dNSName "localhost";
* request objects served at /request/<id> as application/oauth-authz-req+jwt,
  signed (ES256, typ oauth-authz-req+jwt, x5c) for client_id
  x509_san_dns:localhost, or unsigned (alg none) for client_id
  redirect_uri:<response_uri>;
* a DCQL query with an mso_mdoc entry (to be ignored) and a dc+sd-jwt PID
  entry asking for given_name, family_name and age_equal_or_over.18;
* an ECDH-ES P-256 encryption key in client_metadata.jwks;
* /response/<id> takes the direct_post.jwt response, decrypts the JWE with
  jwcrypto and verifies the presentation with sd_jwt.verifier.SDJWTVerifier
  (issuer key from the x5c certificate), plus the checks the library leaves
  to the caller: x5c chained to trust.pem, exp, every disclosure referenced
  by a digest, the disclosed claim set.  It answers 200 {"status": "ok"} or
  400 {"error": ..., "problems": [...]}; a second response to the same
  request is rejected as a replay.

Then runs `wallet.py init` and `wallet.py present` as subprocesses (same
interpreter) for each mode and checks the outcome.  Exit 0 when all good.

Usage: python selfcheck.py        (e.g. /tmp/wv/bin/python selfcheck.py)
"""

import base64
import datetime
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jwcrypto.jwe import JWE
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS
from sd_jwt.verifier import SDJWTVerifier

HERE = os.path.dirname(os.path.abspath(__file__))
WALLET = os.path.join(HERE, "wallet.py")
REQUESTED = ["given_name", "family_name", "age_equal_or_over"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --------------------------------------------------------------------------
# The verifier stub.
# --------------------------------------------------------------------------


class Verifier:
    def __init__(self, trust_pem: bytes):
        self.trust_ca = x509.load_pem_x509_certificate(trust_pem)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stub Verifier")])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        self.sign_jwk = JWK.from_pyca(self.key)
        self.enc_jwk = JWK.generate(kty="EC", crv="P-256", kid="stub-enc-1",
                                    use="enc", alg="ECDH-ES")
        self.sessions = {}
        self.base = None  # set once the server listens

    # -- requests ------------------------------------------------------------

    def new_session(self, kind="x509", enc_values=None, client_id=None):
        """Returns (session id, openid4vp:// URI)."""
        sid = secrets.token_urlsafe(8)
        response_uri = f"{self.base}/response/{sid}"
        if client_id is None:
            client_id = ("x509_san_dns:localhost" if kind == "x509"
                         else f"redirect_uri:{response_uri}")
        public = json.loads(self.enc_jwk.export_public())
        metadata = {"jwks": {"keys": [public]}, "vp_formats_supported": {
            "dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}}}
        if enc_values is not None:
            metadata["encrypted_response_enc_values_supported"] = enc_values
        claims = {
            "client_id": client_id,
            "response_type": "vp_token",
            "response_mode": "direct_post.jwt",
            "response_uri": response_uri,
            "nonce": secrets.token_urlsafe(16),
            "state": secrets.token_urlsafe(16),
            "aud": "https://self-issued.me/v2",
            "iat": int(time.time()),
            "dcql_query": {"credentials": [
                {"id": "mdl", "format": "mso_mdoc",
                 "meta": {"doctype_value": "org.iso.18013.5.1.mDL"},
                 "claims": [{"path": ["org.iso.18013.5.1", "family_name"]}]},
                {"id": "pid", "format": "dc+sd-jwt",
                 "meta": {"vct_values": ["urn:eudi:pid:1"]},
                 "claims": [{"path": [n]} for n in REQUESTED]},
            ]},
            "client_metadata": metadata,
        }
        payload = json.dumps(claims)
        if kind == "x509":
            jws = JWS(payload)
            x5c = [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]
            jws.add_signature(self.sign_jwk, alg="ES256", protected=json.dumps(
                {"alg": "ES256", "typ": "oauth-authz-req+jwt", "x5c": x5c}))
            token = jws.serialize(compact=True)
        else:
            header = {"alg": "none", "typ": "oauth-authz-req+jwt"}
            token = f"{b64url(json.dumps(header).encode())}.{b64url(payload.encode())}."
        self.sessions[sid] = {"claims": claims, "token": token, "results": []}
        uri = "openid4vp://?" + urllib.parse.urlencode(
            {"client_id": client_id, "request_uri": f"{self.base}/request/{sid}"})
        return sid, uri

    # -- responses -----------------------------------------------------------

    def issuer_key_from_x5c(self, _iss, header):
        cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
        return JWK.from_pyca(cert.public_key())

    def check_response(self, session, form_response):
        """Decrypts and verifies; returns a dict of findings (problems list)."""
        claims = session["claims"]
        out = {"problems": []}
        problems = out["problems"]

        jwe_header = json.loads(b64url_decode(form_response.split(".")[0]))
        out["jwe_header"] = jwe_header
        jwe = JWE()
        jwe.deserialize(form_response, key=self.enc_jwk)
        payload = json.loads(jwe.payload)
        out["payload"] = payload
        if payload.get("state") != claims["state"]:
            problems.append("state mismatch")
        vp = payload["vp_token"]["pid"]
        assert isinstance(vp, list) and len(vp) == 1, vp
        presentation = vp[0]
        out["presentation"] = presentation

        parts = presentation.split("~")
        sd_jwt, disclosures, kb_jwt = parts[0], parts[1:-1], parts[-1]
        out["kb_payload"] = json.loads(b64url_decode(kb_jwt.split(".")[1]))
        sd_header = json.loads(b64url_decode(sd_jwt.split(".")[0]))
        out["sd_header"] = sd_header
        sd_payload = json.loads(b64url_decode(sd_jwt.split(".")[1]))
        out["sd_payload"] = sd_payload

        # Every disclosure must be referenced by a digest (the library itself
        # silently ignores unreferenced disclosures).
        digests = set(sd_payload.get("_sd", []))
        for d in disclosures:
            if b64url(hashlib.sha256(d.encode("ascii")).digest()) not in digests:
                problems.append(f"unreferenced disclosure {b64url_decode(d).decode()}")

        # Issuer trust: x5c[0] directly issued by the trusted CA.
        leaf = x509.load_der_x509_certificate(base64.b64decode(sd_header["x5c"][0]))
        try:
            leaf.verify_directly_issued_by(self.trust_ca)
        except Exception as e:  # noqa: BLE001
            problems.append(f"issuer certificate not issued by trusted CA ({type(e).__name__})")

        # Library verification: issuer signature, KB-JWT (typ, aud, nonce, sd_hash).
        try:
            verifier = SDJWTVerifier(presentation, self.issuer_key_from_x5c,
                                     expected_aud=claims["client_id"],
                                     expected_nonce=claims["nonce"])
            verified = verifier.get_verified_payload()
        except Exception as e:  # noqa: BLE001
            problems.append(f"sd_jwt verifier: {e}")
            # Still get the claims (issuer signature only) to report them.
            verified = SDJWTVerifier(presentation, self.issuer_key_from_x5c).get_verified_payload()
        out["verified"] = verified

        # Time checks are the caller's job with this library.
        if verified.get("exp", 0) <= time.time():
            problems.append(f"credential expired (exp {verified.get('exp')})")
        if sd_header.get("typ") != "dc+sd-jwt":
            problems.append(f"typ {sd_header.get('typ')}")
        disclosed = sorted(k for k in verified if k in
                           {"given_name", "family_name", "birthdate", "age_equal_or_over",
                            "document_number", "issuing_country", "nationalities"})
        out["disclosed"] = disclosed
        if disclosed != sorted(REQUESTED):
            problems.append(f"disclosed {disclosed}, requested {REQUESTED}")
        return out

    def handle_post(self, sid, body):
        session = self.sessions.get(sid)
        if session is None:
            return 404, {"error": "unknown session"}
        form = urllib.parse.parse_qs(body)
        response = form.get("response", [None])[0]
        if not response:
            return 400, {"error": "invalid_request", "problems": ["no response"]}
        if session.get("done"):
            session["results"].append({"replay": True})
            return 400, {"error": "replay", "problems": ["response already received"]}
        session["done"] = True
        try:
            result = self.check_response(session, response)
        except Exception:  # noqa: BLE001
            result = {"problems": ["exception: " + traceback.format_exc()]}
        session["results"].append(result)
        if result["problems"]:
            return 400, {"error": "invalid_presentation", "problems": result["problems"]}
        return 200, {"status": "ok", "claims": {k: result["verified"][k] for k in result["disclosed"]}}


def serve(verifier: Verifier):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            print("[stub]", fmt % args, file=sys.stderr)

        def _send(self, status, ctype, data: bytes):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            parts = self.path.strip("/").split("/")
            if len(parts) == 2 and parts[0] == "request" and parts[1] in verifier.sessions:
                token = verifier.sessions[parts[1]]["token"]
                self._send(200, "application/oauth-authz-req+jwt", token.encode())
            else:
                self._send(404, "application/json", b'{"error":"not found"}')

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("ascii")
            parts = self.path.strip("/").split("/")
            if (len(parts) == 2 and parts[0] == "response"
                    and self.headers.get("Content-Type") == "application/x-www-form-urlencoded"):
                status, obj = verifier.handle_post(parts[1], body)
            else:
                status, obj = 404, {"error": "not found"}
            self._send(status, "application/json", json.dumps(obj).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    verifier.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --------------------------------------------------------------------------
# The checks.
# --------------------------------------------------------------------------

CHECKED = []


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    CHECKED.append(what)
    print(f"  ok: {what}")


def run_wallet(*args, expect_rc=0):
    proc = subprocess.run([sys.executable, WALLET, *args], capture_output=True,
                          text=True, timeout=120)
    sys.stderr.write(proc.stderr)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != expect_rc or len(lines) != 1:
        raise AssertionError(f"wallet {args[0]} rc={proc.returncode} stdout={proc.stdout!r}")
    return json.loads(lines[0])


def check_certs(directory):
    state = json.load(open(os.path.join(directory, "state.json")))
    ca = x509.load_pem_x509_certificate(open(os.path.join(directory, "trust.pem"), "rb").read())
    rogue = x509.load_pem_x509_certificate(open(os.path.join(directory, "rogue.pem"), "rb").read())
    leaf = x509.load_pem_x509_certificate(state["issuer"]["cert_pem"].encode())
    rleaf = x509.load_pem_x509_certificate(state["rogue_issuer"]["cert_pem"].encode())
    cn = lambda c: c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value  # noqa: E731
    check(cn(ca) == "Test IACA" and cn(rogue) == "Rogue IACA", "CA subjects")
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage)
    check(bc.critical and bc.value.ca and ku.critical and ku.value.key_cert_sign
          and ku.value.crl_sign, "CA basicConstraints/keyUsage")
    ca.verify_directly_issued_by(ca)
    leaf.verify_directly_issued_by(ca)
    rleaf.verify_directly_issued_by(rogue)
    check(True, "issuer leaf signed by Test IACA, rogue leaf by Rogue IACA")
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    check(cn(leaf) == "Test PID Issuer"
          and san.value.get_values_for_type(x509.DNSName) == ["issuer.example"]
          and leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
          and not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
          and leaf.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA256
          and isinstance(leaf.public_key().curve, ec.SECP256R1), "issuer leaf profile")
    try:
        leaf.verify_directly_issued_by(rogue)
        check(False, "leaf must not verify under rogue CA")
    except Exception:  # noqa: BLE001
        check(True, "issuer leaf does not verify under the rogue CA")


def main():
    tmp = tempfile.mkdtemp(prefix="wallet-selfcheck-")
    wdir = os.path.join(tmp, "w")
    print("init")
    out = run_wallet("init", wdir)
    check(out == {"trust": os.path.join(wdir, "trust.pem")}, "init prints the trust.pem path")
    check_certs(wdir)

    verifier = Verifier(open(out["trust"], "rb").read())
    server = serve(verifier)

    def present(mode, kind="x509", **kw):
        sid, uri = verifier.new_session(kind, **kw)
        result = run_wallet("present", wdir, uri, mode)
        return verifier.sessions[sid], result

    print("mode ok (x509_san_dns)")
    session, result = present("ok")
    found = session["results"][0]
    claims = session["claims"]
    check(found["problems"] == [], "presentation verifies (sd_jwt verifier, trust, exp)")
    check(result["posts"] == [{"status": 200, "body": {"status": "ok", "claims": {
        "given_name": "Erika", "family_name": "Mustermann", "age_equal_or_over": {"18": True}}}}],
        "one POST answered 200 with the three claims")
    check(result["clientId"] == "x509_san_dns:localhost"
          and result["responseUri"] == claims["response_uri"], "clientId/responseUri echoed")
    check(result["requested"] == REQUESTED and sorted(result["disclosed"]) == sorted(REQUESTED),
          "wallet reports requested/disclosed = exactly the 3 DCQL claims")
    check(found["disclosed"] == sorted(REQUESTED), "exactly 3 claims disclosed")
    h = found["jwe_header"]
    check(h["alg"] == "ECDH-ES" and h["enc"] == "A128GCM" and h["kid"] == "stub-enc-1"
          and h["epk"]["kty"] == "EC" and h["epk"]["crv"] == "P-256",
          "JWE header alg ECDH-ES, enc A128GCM (default), kid, epk")
    check(set(found["payload"]) == {"vp_token", "state"}
          and list(found["payload"]["vp_token"]) == ["pid"], "payload vp_token.pid + state")
    kb = found["kb_payload"]
    check(kb["nonce"] == claims["nonce"] and kb["aud"] == "x509_san_dns:localhost"
          and "sd_hash" in kb and "iat" in kb, "KB-JWT nonce/aud/sd_hash/iat")
    sh, sp = found["sd_header"], found["sd_payload"]
    check(sh["alg"] == "ES256" and sh["typ"] == "dc+sd-jwt" and len(sh["x5c"]) == 1,
          "SD-JWT header alg/typ/x5c")
    check(sp["iss"] == "https://issuer.example" and sp["vct"] == "urn:eudi:pid:1"
          and sp["_sd_alg"] == "sha-256" and "jwk" in sp["cnf"] and len(sp["_sd"]) == 7
          and sp["exp"] > time.time(), "SD-JWT payload iss/vct/_sd_alg/cnf/7 digests/exp")

    print("enc preference")
    session, result = present("ok", enc_values=["A256GCM", "A128GCM"])
    check(session["results"][0]["jwe_header"]["enc"] == "A256GCM"
          and result["posts"][0]["status"] == 200, "first offered enc (A256GCM) used")

    print("mode ok (redirect_uri, unsigned request object)")
    session, result = present("ok", kind="redirect")
    check(result["clientId"] == "redirect_uri:" + session["claims"]["response_uri"]
          and result["posts"][0]["status"] == 200 and session["results"][0]["problems"] == []
          and session["results"][0]["kb_payload"]["aud"] == result["clientId"],
          "redirect_uri client: accepted, KB-JWT aud is the prefixed client_id")

    print("bare request_uri")
    sid, uri = verifier.new_session("x509")
    bare = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)["request_uri"][0]
    result = run_wallet("present", wdir, bare, "ok")
    check(bare.startswith("http://") and result["clientId"] == "x509_san_dns:localhost"
          and result["posts"][0]["status"] == 200,
          "a bare http(s) request_uri works (client_id from the request object)")

    print("mode tampered")
    session, result = present("tampered")
    p = session["results"][0]["problems"]
    check(result["posts"][0]["status"] == 400
          and any("unreferenced disclosure" in x and "Mallory" in x for x in p)
          and any("Invalid digest in KB-JWT" in x for x in p),
          "tampered: digest not in _sd, KB-JWT sd_hash mismatch, rejected")

    print("mode wrong_nonce")
    session, result = present("wrong_nonce")
    p = session["results"][0]["problems"]
    check(result["posts"][0]["status"] == 400 and p == ["sd_jwt verifier: Invalid nonce in KB-JWT"]
          and session["results"][0]["kb_payload"]["nonce"] == "not-the-nonce",
          "wrong_nonce: rejected for the nonce only")

    print("mode wrong_audience")
    session, result = present("wrong_audience")
    p = session["results"][0]["problems"]
    check(result["posts"][0]["status"] == 400 and p == ["sd_jwt verifier: Invalid audience in KB-JWT"],
          "wrong_audience: rejected for the audience only")

    print("mode expired")
    session, result = present("expired")
    found = session["results"][0]
    check(result["posts"][0]["status"] == 400 and len(found["problems"]) == 1
          and found["problems"][0].startswith("credential expired")
          and found["verified"]["exp"] < time.time() - 3600
          and found["verified"]["iat"] < found["verified"]["exp"],
          "expired: exp in the past (only problem), rejected")

    print("mode untrusted")
    session, result = present("untrusted")
    p = session["results"][0]["problems"]
    check(result["posts"][0]["status"] == 400 and len(p) == 1 and "trusted CA" in p[0],
          "untrusted: signature fine but issuer not under trust.pem, rejected")

    print("mode replay")
    session, result = present("replay")
    check([x["status"] for x in result["posts"]] == [200, 400]
          and result["posts"][1]["body"]["error"] == "replay",
          "replay: identical JWE posted twice, first 200, second 400")

    print("wallet refusals")
    _sid, uri = verifier.new_session("x509", client_id="x509_san_dns:other.example")
    out = run_wallet("present", wdir, uri, "ok", expect_rc=1)
    check("do not include 'other.example'" in out["failure"],
          "x509_san_dns not in the verifier cert SAN: wallet fails with {failure}")
    _sid, uri = verifier.new_session("redirect", client_id="redirect_uri:https://evil.example/cb")
    out = run_wallet("present", wdir, uri, "ok", expect_rc=1)
    check("does not match response_uri" in out["failure"],
          "redirect_uri client_id != response_uri: wallet fails")
    sid, uri = verifier.new_session("x509")
    bad = uri.replace("localhost", "127.0.0.2", 1)  # client_id in URI != object
    out = run_wallet("present", wdir, bad, "ok", expect_rc=1)
    check("differs" in out["failure"], "URI client_id != request object client_id: wallet fails")
    out = run_wallet("present", wdir, uri, "bogus", expect_rc=1)
    check("unknown mode" in out["failure"], "unknown mode: wallet fails")

    server.shutdown()
    print(f"selfcheck: {len(CHECKED)} checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        print(f"selfcheck: FAILED after {len(CHECKED)} checks")
        sys.exit(1)
