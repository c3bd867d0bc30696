"""schemathesis against vouch's own OpenAPI document, every dialect at once.

Starts the real binary (VOUCH_BIN) on a loopback port with a fresh SQLite data folder:
dev SMS inbox, sandbox telco, the models of VOUCH_MODELS_DIR (so the image endpoints
analyse what they get), Ory hooks configured, webhooks going to a closed loopback port.
Creates a credential for every security scheme of the document (API key, service token,
OAuth client, flow token, console sessions, Kratos hook secret) and things for the
generated ids to find (KYC and presence sessions, a profile, an alert rule, phone
identities and flows, webhook deliveries), writes them into schemathesis.toml and runs
`schemathesis run <server>/openapi.json` with the arguments of RUN, then those given to
run.sh. Fails (schemathesis's exit status) on any 5xx, any status, content type or body
the document does not describe, or any error; and on a panic in the server log.

Nothing is excluded. Reached only with made-up credentials, so answering 401, are
`GET /v3/sdk/events` (given a real flow token it streams for up to 3 minutes) and
`POST /v3/network/change-events` (its sink token is derived from the server's keys).
The passkey and face 2FA operations get no authenticator and no face: their 4xx paths.
VOUCH_APIFUZZ_KEEP=1 keeps the temporary folder (config, data, server log).
"""
import base64
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
VOUCH = os.environ["VOUCH_BIN"]
SCHEMATHESIS = os.environ["SCHEMATHESIS"]
MODELS = os.environ["VOUCH_MODELS_DIR"]
ADMIN_PASSWORD = "fuzz-console-password-1"
# What CI runs (arguments given to run.sh come after, and win): every response checked for
# 5xx and against its documented status, content type and schema; a bounded number of
# examples an operation (about 2.5 minutes on 2 cores) from a fixed seed.
RUN = [
    "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
    "--max-examples", "80",
    "--seed", "20261122",
    "--no-color",
]
# Sandbox numbers (crates/phone/src/sandbox.rs): clean, SIM swapped, disconnected, no record.
SANDBOX = ["+12015550100", "+12015550102", "+12015550104", "+12015550105"]


def clean_env(extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOUCH_", "SCHEMATHESIS_"))}
    env.update({"NO_COLOR": "1"})
    env.update(extra)
    return env


def cli(env, *args, stdin=None):
    out = subprocess.run([VOUCH, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)
    if out.returncode != 0:
        sys.exit(f"vouch {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()[-800:]}")
    return json.loads(out.stdout)


def call(method, url, body=None, headers=None, form=False, ok=(200, 201, 202, 204)):
    """One request; its JSON answer. Exits on an unexpected status (setup must succeed)."""
    data, kind = None, None
    if body is not None and form:
        data, kind = urllib.parse.urlencode(body).encode(), "application/x-www-form-urlencoded"
    elif body is not None:
        data, kind = json.dumps(body).encode(), "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if kind:
        req.add_header("content-type", kind)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    if status not in ok:
        sys.exit(f"setup: {method} {url} answered {status}: {raw[:500]!r}")
    return json.loads(raw) if raw else None


def start(env, log_path):
    log = open(log_path, "w")
    proc = subprocess.Popen([VOUCH, "serve", "--listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = Path(log_path).read_text()
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
        if m and "analysis engines loaded" not in text:
            proc.kill()
            sys.exit(f"vouch serve started without its models ({MODELS}): run scripts/fetch-models.sh")
        if m:
            return proc, log, m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    sys.exit(f"vouch serve did not start:\n{Path(log_path).read_text()[-3000:]}")


def tiny_png(width=48, height=48):
    """A valid grey PNG with no face in it: decodes, then finds nobody (cheap analysis)."""
    raw = b"".join(b"\x00" + bytes((x * 5 + y * 3) % 256 for x in range(width)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


def link_token(url):
    return url.rsplit("/", 1)[1]


def resources(base, org, api_key, service_token, oauth_token):
    """Things for the generated requests to find: without them every id is a 404."""
    key = {"x-api-key": api_key}
    oauth = {"Authorization": f"Bearer {oauth_token}"}
    kyc = [call("POST", f"{base}/api/v1/verify", {"externalRef": f"fuzz-{i}"}, key) for i in range(4)]
    presence = [call("POST", f"{base}/api/presence/sessions", {"orgId": org, "purpose": f"fuzz {i}"},
                     {"Authorization": f"Bearer {service_token}"}) for i in range(2)]
    profile, doomed_profile = (call("POST", f"{base}/api/profiles", {"name": "Fuzz", "slug": slug}, key)
                               for slug in ("fuzz", "fuzz-delete"))
    rule = call("POST", f"{base}/api/alert-rules",
                {"name": "fuzz", "scope": "person", "threshold": 3, "windowMinutes": 60}, key)
    identity, doomed_identity = (call("POST", f"{base}/v3/identity", {"phoneNumber": phone}, oauth)
                                 for phone in SANDBOX[:2])
    flows = [call("POST", f"{base}/v3/start", {"flowType": kind, "phoneNumber": SANDBOX[0],
                                                  "finalTargetUrl": "https://example.com/done"}, oauth)
             for kind in ("desktop", "mobile")]
    call("POST", f"{base}/api/v1/webhooks/test", None, key)
    deliveries = call("GET", f"{base}/api/v1/webhooks/deliveries", None, key)["data"]
    image = tiny_png()
    return {
        "FUZZ_ORG": [org],
        # Sessions 0 and 1 stay open for the hosted steps; 2 is completed, 3 cancelled.
        "FUZZ_KYC_SESSIONS": [s["sessionId"] for s in kyc],
        "FUZZ_KYC_TOKENS": [link_token(s["verificationUrl"]) for s in kyc[:2]],
        "FUZZ_KYC_COMPLETE": [link_token(kyc[2]["verificationUrl"])],
        "FUZZ_KYC_CANCEL": [kyc[3]["sessionId"]],
        "FUZZ_PRESENCE_SESSIONS": [s["sessionId"] for s in presence],
        "FUZZ_PRESENCE_TOKENS": [link_token(s["verifyUrl"]) for s in presence],
        "FUZZ_PROFILES": [profile["id"], profile["slug"]],
        "FUZZ_PROFILE_DELETE": [doomed_profile["id"], doomed_profile["slug"]],
        "FUZZ_ALERT_RULES": [rule["id"]],
        "FUZZ_IDENTITIES": [identity["identityId"]],
        "FUZZ_IDENTITY_DELETE": [doomed_identity["identityId"]],
        "FUZZ_FLOWS": [f["correlationId"] for f in flows],
        "FUZZ_FLOW_TOKEN": flows[0]["authToken"],
        "FUZZ_DELIVERIES": [d["id"] for d in deliveries],
        "FUZZ_PHONES": SANDBOX,
        "FUZZ_IMAGES": [image, "data:image/png;base64," + image],
        "FUZZ_EMAILS": ["fuzz@example.com"],
    }


def render(template, values):
    """The config with `${FUZZ_*}` replaced: lists as TOML arrays, strings as they are."""
    def value(m):
        v = values[m.group(1)]
        if isinstance(v, list):
            return json.dumps(v)
        assert re.fullmatch(r"[A-Za-z0-9_.:/+=-]+", v), m.group(1)
        return v
    return re.sub(r"\$\{(FUZZ_\w+)\}", value, template)


def main():
    work = Path(tempfile.mkdtemp(prefix="vouch-apifuzz-"))
    env = clean_env({
        "VOUCH_DATA_DIR": str(work / "data"),
        "VOUCH_MODELS_DIR": MODELS,
        # Every generated request must reach its handler, not the rate limiter.
        "VOUCH_CLIENT_RATE_LIMIT": "1000000",
        # The key's webhook goes to a closed loopback port: deliveries exist, fail, retry.
        "VOUCH_ALLOW_PRIVATE_WEBHOOKS": "1",
    })
    org = cli(env, "org", "create", "--name", "API fuzzing")["orgId"]
    api_key = cli(env, "key", "create", "--org", org, "--name", "fuzz", "--rate-limit", "1000000",
                  "--webhook-url", "http://127.0.0.1:9/hook")["apiKey"]
    service_token = cli(env, "service-token", "create", "--org", org, "--name", "fuzz")["token"]
    client = cli(env, "oauth-client", "create", "--org", org, "--name", "fuzz")
    ory_secret = "ory-fuzz-webhook-secret-0123456789"
    # Nothing listens on port 9 of loopback: the Kratos admin calls the enroll hook queues
    # fail in the outbox, off the request path.
    cli(env, "ory", "configure", "--org", org, "--webhook-secret", ory_secret,
        "--kratos-admin-url", "http://127.0.0.1:9")
    admin_email = "fuzz-admin@example.com"
    cli(env, "admin", "create", "--org", org, "--email", admin_email, "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n")

    log_path = work / "serve.log"
    proc, log, base = start(env, log_path)
    status = 1
    try:
        token = call("POST", f"{base}/token", {"grant_type": "client_credentials", "client_id": client["clientId"],
                                               "client_secret": client["clientSecret"]}, form=True)["access_token"]
        login = {"email": admin_email, "password": ADMIN_PASSWORD}
        admin_token = call("POST", f"{base}/api/auth/login", login)["token"]
        # POST /api/auth/logout ends the session it is called with: it gets its own, so the
        # other console operations keep theirs.
        logout_token = call("POST", f"{base}/api/auth/login", login)["token"]
        values = resources(base, org, api_key, service_token, token)
        values.update({
            "FUZZ_API_KEY": api_key,
            "FUZZ_SERVICE_TOKEN": service_token,
            "FUZZ_CLIENT_ID": client["clientId"],
            "FUZZ_CLIENT_SECRET": client["clientSecret"],
            "FUZZ_ADMIN_TOKEN": admin_token,
            "FUZZ_LOGOUT_TOKEN": logout_token,
            "FUZZ_ORY_SECRET": ory_secret,
        })
        config = work / "schemathesis.toml"
        config.write_text(render((HERE / "schemathesis.toml").read_text(), values))
        st_env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
        st_env["NO_COLOR"] = "1"
        cmd = [SCHEMATHESIS, "--config-file", str(config), "run", f"{base}/openapi.json", *RUN, *sys.argv[1:]]
        print("$ " + " ".join(cmd), flush=True)
        started = time.monotonic()
        status = subprocess.run(cmd, env=st_env, cwd=work).returncode
        print(f"schemathesis finished in {time.monotonic() - started:.0f} s (exit {status})", flush=True)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        text = log_path.read_text(errors="replace")
        panics = [line for line in text.splitlines() if "panicked" in line]
        if status != 0 or panics:
            noteworthy = [line for line in text.splitlines() if " WARN " in line or " ERROR " in line or "panicked" in line]
            print("vouch server log, warnings and errors (tail):\n" + "\n".join(noteworthy[-60:]), flush=True)
        if panics:
            print(f"{len(panics)} panic(s) in the server log", flush=True)
            status = status or 1
        if os.environ.get("VOUCH_APIFUZZ_KEEP"):
            print(f"kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
