"""vouch's Ory Kratos hooks as Kratos would call them.

Size (over 800 lines): the Kratos admin API double, Kratos's reading of hook answers, and
the checks of both template sets (vouch's and the community Prove integration's), in one
runner that `tests/ory/run.sh` starts.

The request bodies are rendered from the shipped templates (integrations/ory/jsonnet)
with go-jsonnet (PyPI `gojsonnet`, the implementation Kratos itself uses), from
Kratos-like template contexts; the hook URLs, methods, `response.parse` settings and
auth header come from the shipped ory-actions.yaml. Each answer is read the way Kratos
reads it (web_hook.go: `{"identity": …}` on 200 replacing whole fields, 204 no change,
the interrupt payload on 4xx/5xx decoded into Kratos's struct). A loopback double of
the Kratos admin API (GET/PATCH /admin/identities/{id}, RFC 6902 through PyPI
`jsonpatch`, Bearer auth) receives the outbox's metadata_admin patches.

Runs the real vouch binary (VOUCH_BIN): a dev-mode server (sandbox telco) for lookup,
enroll and validate, and a second one whose CAMARA network is unreachable for the
fail-closed and fail-open answers. Prints a summary; exits non-zero on any failure.
"""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import _gojsonnet
import jsonpatch
import jsonpointer
import yaml

VOUCH = os.environ["VOUCH_BIN"]
ROOT = Path(__file__).resolve().parents[2]
ORY = ROOT / "integrations" / "ory"
SECRET = "kratos-hook-secret-" + uuid.uuid4().hex
KRATOS_API_KEY = "ory_pat_" + uuid.uuid4().hex

# Sandbox numbers (crates/phone/src/sandbox.rs).
CLEAN = "+12015550100"  # clean line, record Avery Quinn
CLEAN_2 = "+12015550101"  # clean line (the disconnect test ends its monitoring)
SIM_SWAPPED = "+12015550102"
DISCONNECTED = "+12015550104"
NO_RECORD = "+12015550105"
LOW_TRUST = "+12015550106"

# vouch's Kratos message ids (integrations/ory/README.md).
PHONE_MISSING, SIM_SWAP, DISCONNECT, LOW = 4100001, 4100002, 4100003, 4100004
UNDECIDED, NOT_ENROLLED, NUMBER_CHANGED, BAD_REQUEST = 4100010, 4100020, 4100021, 4100030


# ---------------------------------------------------------------------------------
# Small runner


RESULTS = []


class Check:
    """`with Check("name"):` records a pass, or the failure and goes on."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.started = time.monotonic()
        return self

    def __exit__(self, kind, exc, tb):
        took = time.monotonic() - self.started
        if exc is None:
            RESULTS.append((self.name, True, "", took))
            print(f"  ok    {self.name} ({took:.1f} s)", flush=True)
        else:
            detail = "".join(traceback.format_exception(kind, exc, tb)[-3:]).strip()
            RESULTS.append((self.name, False, detail, took))
            print(f"  FAIL  {self.name}\n{indent(detail)}", flush=True)
        return True  # the next check runs


def indent(text, by="        "):
    return "\n".join(by + line for line in text.splitlines())


def wait_for(what, predicate, timeout=20.0, every=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# ---------------------------------------------------------------------------------
# The Kratos admin API double


def kratos_error(code, status, message, reason=None):
    err = {"code": code, "status": status, "message": message}
    if reason:
        err["reason"] = reason
    return {"error": err}


IMMUTABLE = ("/id", "/credentials")


class KratosAdmin:
    """GET and PATCH /admin/identities/{id} as Kratos's admin API answers them."""

    def __init__(self, api_key):
        self.api_key = api_key
        self.identities = {}
        self.calls = []
        self.fail_next = 0
        self.lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                double.handle(self, "GET")

            def do_PATCH(self):
                double.handle(self, "PATCH")

            def do_POST(self):
                double.handle(self, "POST")

            def do_PUT(self):
                double.handle(self, "PUT")

            def do_DELETE(self):
                double.handle(self, "DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def add(self, traits, metadata_admin="absent", metadata_public=None):
        """Creates an identity as Kratos stores it; `metadata_admin="absent"` omits the key."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        ident = {
            "id": str(uuid.uuid4()),
            "schema_id": "vouch-phone",
            "schema_url": "http://kratos.test/schemas/dm91Y2gtcGhvbmU",
            "state": "active",
            "state_changed_at": now,
            "traits": copy.deepcopy(traits),
            "verifiable_addresses": [],
            "recovery_addresses": [],
            "metadata_public": copy.deepcopy(metadata_public),
            "created_at": now,
            "updated_at": now,
            "organization_id": None,
        }
        if metadata_admin != "absent":
            ident["metadata_admin"] = copy.deepcopy(metadata_admin)
        with self.lock:
            self.identities[ident["id"]] = ident
        return copy.deepcopy(ident)

    def get(self, ident_id):
        with self.lock:
            return copy.deepcopy(self.identities.get(ident_id))

    def calls_for(self, ident_id):
        with self.lock:
            return [c for c in self.calls if c["path"] == f"/admin/identities/{ident_id}"]

    def fail(self, n):
        with self.lock:
            self.fail_next = n

    def handle(self, req, method):
        length = int(req.headers.get("content-length") or 0)
        raw = req.rfile.read(length) if length else b""
        path = urllib.parse.urlsplit(req.path).path
        with self.lock:
            self.calls.append({"method": method, "path": path, "authorization": req.headers.get("authorization"),
                               "content_type": req.headers.get("content-type"), "body": raw, "at": time.monotonic()})
            if self.fail_next > 0:
                self.fail_next -= 1
                return self.reply(req, 503, kratos_error(503, "Service Unavailable", "Kratos is down (test double)"))
            if req.headers.get("authorization") != f"Bearer {self.api_key}":
                return self.reply(req, 401, kratos_error(401, "Unauthorized", "The request could not be authorized"))
            m = re.fullmatch(r"/admin/identities/([^/]+)", path)
            if not m:
                return self.reply(req, 404, kratos_error(404, "Not Found", "The requested resource could not be found"))
            ident_id = m.group(1)
            if method not in ("GET", "PATCH"):
                return self.reply(req, 405, kratos_error(405, "Method Not Allowed", f"{method} is not served by the double"))
            ident = self.identities.get(ident_id)
            if ident is None:
                return self.reply(req, 404, kratos_error(404, "Not Found", "Unable to locate the resource"))
            if method == "GET":
                return self.reply(req, 200, ident)
            return self.patch(req, ident_id, ident, raw)

    def patch(self, req, ident_id, ident, raw):
        bad = lambda reason: self.reply(req, 400, kratos_error(
            400, "Bad Request", "The request was malformed or contained invalid parameters", reason))
        if not (req.headers.get("content-type") or "").startswith("application/json"):
            return bad("Content-Type must be application/json")
        try:
            ops = json.loads(raw)
        except ValueError as e:
            return bad(f"the body is not JSON: {e}")
        if not isinstance(ops, list):
            return bad("the body must be a JSON Patch array (RFC 6902)")
        for op in ops:
            if not isinstance(op, dict) or not isinstance(op.get("path"), str):
                return bad(f"not a JSON Patch operation: {op!r}")
            for p in (op.get("path"), op.get("from")):
                if isinstance(p, str) and any(p == i or p.startswith(i + "/") for i in IMMUTABLE):
                    return bad(f"patch includes denied path: {p}")
        try:
            patched = jsonpatch.JsonPatch(ops).apply(ident)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, KeyError, IndexError) as e:
            return bad(f"could not apply the patch: {e}")
        if patched.get("state") not in ("active", "inactive"):
            return bad("invalid identity state")
        if patched.get("metadata_admin") is not None and not isinstance(patched["metadata_admin"], dict):
            return bad("metadata_admin must be an object")
        patched["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.identities[ident_id] = patched
        return self.reply(req, 200, patched)

    @staticmethod
    def reply(req, status, body):
        data = json.dumps(body).encode()
        req.send_response(status)
        req.send_header("content-type", "application/json")
        req.send_header("content-length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)


# ---------------------------------------------------------------------------------
# vouch


def clean_env(extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VOUCH_", "ORY_", "KRATOS_")) or k == "VOUCH_BIN"}
    env.update({"NO_COLOR": "1", "VOUCH_WEBHOOK_RETRY_BASE_MS": "200"})
    env.update(extra)
    return env


class Vouch:
    def __init__(self, name, extra_env=None):
        self.dir = tempfile.mkdtemp(prefix=f"vouch-ory-{name}-")
        self.env = clean_env({"VOUCH_DATA_DIR": os.path.join(self.dir, "data"), **(extra_env or {})})
        self.log_path = os.path.join(self.dir, "serve.log")
        self.proc = None
        self.base = None

    def cli(self, *args, stdin=None):
        out = subprocess.run([VOUCH, *args], input=stdin, capture_output=True, text=True, env=self.env, timeout=60)
        if out.returncode != 0:
            raise AssertionError(f"vouch {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()[-800:]}")
        return json.loads(out.stdout)

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([VOUCH, "serve", "--listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", Path(self.log_path).read_text())
            if m:
                self.base = m.group(1)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"vouch serve did not start:\n{Path(self.log_path).read_text()[-3000:]}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()

    def log_tail(self, n=40):
        try:
            return "\n".join(Path(self.log_path).read_text().splitlines()[-n:])
        except OSError:
            return ""


def http(method, url, body=None, headers=None, raw=None, timeout=30):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def as_json(raw):
    return json.loads(raw) if raw else None


# ---------------------------------------------------------------------------------
# The shipped Kratos configuration and templates


def load_actions():
    """The three vouch hooks of ory-actions.yaml, by name (lookup, enroll, validate)."""
    doc = yaml.safe_load((ORY / "ory-actions.yaml").read_text())
    flows = doc["selfservice"]["flows"]
    registration = flows["registration"]["after"]["password"]["hooks"]
    login = flows["login"]["after"]["hooks"]
    hooks = {}
    for where, entries in (("registration.after", registration), ("login.after", login)):
        for entry in entries:
            if entry.get("hook") != "web_hook":
                continue
            cfg = entry["config"]
            name = cfg["id"].removeprefix("vouch-")
            hooks[name] = {**cfg, "where": where}
    return hooks, registration, login


def template_of(cfg):
    """The shipped jsonnet file a hook's `body:` names (mounted from ./jsonnet)."""
    body = cfg["body"]
    assert body.startswith("file://"), f"{cfg['id']}: body {body!r} is not a file:// URL"
    path = ORY / "jsonnet" / Path(urllib.parse.urlsplit(body).path).name
    assert path.is_file(), f"{cfg['id']}: {path} does not exist"
    return path


def render(cfg, ctx):
    return _gojsonnet.evaluate_file(str(template_of(cfg)), tla_codes={"ctx": json.dumps(ctx)})


def kratos_identity_json(ident):
    """What Kratos puts in ctx.identity: its JSON without credentials and metadata_admin."""
    out = {k: copy.deepcopy(v) for k, v in ident.items() if k not in ("metadata_admin", "credentials")}
    return out


def kratos_ctx(kind, ident):
    """A template context as web_hook.go's templateContext marshals it."""
    flow_id = str(uuid.uuid4())
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ctx = {
        "flow": {
            "id": flow_id,
            "type": "browser",
            "expires_at": now,
            "issued_at": now,
            "request_url": f"http://kratos.test/self-service/{kind}/browser",
            "active": "password",
            "ui": {"action": f"http://kratos.test/self-service/{kind}?flow={flow_id}", "method": "POST", "nodes": []},
            "state": "choose_method",
            "transient_payload": {},
        },
        "request_headers": {
            "Accept": ["application/json"],
            "Content-Type": ["application/x-www-form-urlencoded"],
            "Origin": ["http://app.test"],
            "User-Agent": ["Mozilla/5.0 (vouch Ory hook tests)"],
        },
        "request_method": "POST",
        "request_url": f"http://kratos.test/self-service/{kind}?flow={flow_id}",
        "request_cookies": {},
        "identity": kratos_identity_json(ident),
    }
    if kind == "login":
        ctx["session"] = {"id": str(uuid.uuid4()), "active": True, "identity": kratos_identity_json(ident)}
    return ctx


def new_identity(phone=CLEAN, first="", last="", email=None, metadata_public=None, name=True):
    """An identity being registered (not persisted in Kratos yet)."""
    traits = {"email": email or f"{uuid.uuid4().hex[:10]}@example.com"}
    if phone is not None:
        traits["phone"] = phone
    if name:
        traits["name"] = {"first": first, "last": last}
    return {"id": str(uuid.uuid4()), "schema_id": "vouch-phone", "state": "active", "traits": traits,
            "verifiable_addresses": [], "recovery_addresses": [], "metadata_public": metadata_public}


# ---------------------------------------------------------------------------------
# Kratos's reading of the answers (selfservice/hook/web_hook.go)


def go_string(v, what):
    assert v is None or isinstance(v, str), f"{what}: Go cannot decode {v!r} into a string"


def go_int(v, what):
    assert v is None or (isinstance(v, int) and not isinstance(v, bool)), \
        f"{what}: Go cannot decode {v!r} into an int"


def decode_interrupt(raw):
    """rawHookResponse{Messages []errorMessage{InstancePtr, DetailedMessages []detailedMessage
    {ID int, Text, Type string, Context json.RawMessage}}}: decoding must succeed and give at
    least one message, or Kratos fails the flow with a 5xx instead of showing it."""
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise AssertionError(f"interrupt body is not JSON: {e}: {raw[:200]!r}")
    assert doc is None or isinstance(doc, dict), f"interrupt body is not an object: {doc!r}"
    msgs = (doc or {}).get("messages")
    assert msgs is None or isinstance(msgs, list), f"messages is not an array: {msgs!r}"
    out = []
    for m in msgs or []:
        assert m is None or isinstance(m, dict), f"messages[] entry is not an object: {m!r}"
        m = m or {}
        go_string(m.get("instance_ptr"), "instance_ptr")
        details = m.get("messages")
        assert details is None or isinstance(details, list), f"messages[].messages is not an array: {details!r}"
        for d in details or []:
            assert d is None or isinstance(d, dict), f"detailed message is not an object: {d!r}"
            d = d or {}
            go_int(d.get("id"), "messages[].messages[].id")
            go_string(d.get("text"), "messages[].messages[].text")
            go_string(d.get("type"), "messages[].messages[].type")
        out.append(m)
    assert out, "Kratos: error while parsing webhook response: got no validation errors"
    return doc


def assert_interrupt(status, raw, expect_status, msg_id, reason, pointer="#/traits/phone"):
    assert status == expect_status, f"status {status} (expected {expect_status}): {raw[:300]!r}"
    doc = decode_interrupt(raw)
    first = doc["messages"][0]
    assert first.get("instance_ptr") == pointer, first
    detail = first["messages"][0]
    assert isinstance(detail.get("id"), int) and not isinstance(detail["id"], bool), detail
    assert detail["id"] == msg_id, f"message id {detail['id']} (expected {msg_id}): {detail}"
    assert isinstance(detail.get("text"), str) and len(detail["text"]) > 10, detail
    assert detail.get("type") == "error", detail
    assert isinstance(detail.get("context"), dict), detail
    if reason is not None:
        assert detail["context"].get("reason") == reason, f"reason {detail['context']} (expected {reason})"
    return detail


IDENTITY_STRING_FIELDS = ("id", "schema_id", "state", "schema_url", "external_id")


def kratos_apply(cfg, status, raw, ident):
    """What Kratos does with a hook answer: ("interrupt", payload), ("failed", why),
    or ("ok", identity after the answer was applied)."""
    parse = bool(cfg.get("response", {}).get("parse")) or bool(cfg.get("can_interrupt"))
    if status >= 500 and status != 501:
        # Kratos's client (go-retryablehttp through ory/x httpx, RetryMax 2, default
        # retry policy) retries 5xx; when they persist it gives up with an error and
        # without the response, so the flow stops but the interrupt text is not shown.
        if parse:
            decode_interrupt(raw)
        return "failed", f"retried twice on {status}, then giving up"
    if status >= 400:
        if parse:
            return "interrupt", decode_interrupt(raw)
        return "failed", f"webhook failed with status code {status}"
    if not parse:
        return "ok", ident
    if status == 204:
        return "ok", ident
    if status != 200:
        return "ok", ident
    try:
        doc = json.loads(raw)
    except ValueError as e:
        return "failed", f"webhook response could not be unmarshalled properly from JSON: {e}"
    assert isinstance(doc, dict), f"200 answer is not an object: {doc!r}"
    new = doc.get("identity")
    if new is None:
        return "ok", ident
    assert isinstance(new, dict), f"identity is not an object: {new!r}"
    for k in IDENTITY_STRING_FIELDS:
        go_string(new.get(k), f"identity.{k}")
    for k in ("verifiable_addresses", "recovery_addresses"):
        assert new.get(k) is None or isinstance(new[k], list), f"identity.{k} is not an array"
    out = copy.deepcopy(ident)
    # json.RawMessage fields: present (even `null`) replaces the whole field.
    for k in ("traits", "metadata_public", "metadata_admin"):
        if k in new:
            out[k] = copy.deepcopy(new[k])
    for k in ("schema_id", "state", "verifiable_addresses", "recovery_addresses"):
        if new.get(k):
            out[k] = copy.deepcopy(new[k])
    return "ok", out


def schema_valid_traits(traits):
    """identity.schema.json, checked the way Kratos validates traits before persisting."""
    schema = json.loads((ORY / "identity.schema.json").read_text())["properties"]["traits"]
    assert isinstance(traits, dict), f"traits is not an object: {traits!r}"
    for k in schema.get("required", []):
        assert k in traits, f"traits lack required {k}: {traits}"
    if schema.get("additionalProperties") is False:
        extra = set(traits) - set(schema["properties"])
        assert not extra, f"traits have keys the schema refuses: {extra}"
    for k, v in traits.items():
        prop = schema["properties"][k]
        if prop["type"] == "string":
            assert isinstance(v, str), f"traits.{k} is not a string: {v!r}"
            if "pattern" in prop:
                assert re.search(prop["pattern"], v), f"traits.{k} {v!r} does not match {prop['pattern']}"
        elif prop["type"] == "object":
            assert isinstance(v, dict), f"traits.{k} is not an object: {v!r}"
            for kk, vv in v.items():
                assert kk in prop["properties"], f"traits.{k}.{kk} is not in the schema"
                assert isinstance(vv, str), f"traits.{k}.{kk} is not a string: {vv!r}"


# ---------------------------------------------------------------------------------
# The suite


class Suite:
    def __init__(self, vouch, kratos, hooks):
        self.v = vouch
        self.k = kratos
        self.hooks = hooks

    def call(self, name, ctx=None, *, secret=SECRET, auth="config", raw=None, path=None):
        """POSTs hook `name` as Kratos does: body rendered from its template, the
        configured method, path and auth header. Returns (status, raw body)."""
        cfg = self.hooks[name]
        body = raw if raw is not None else render(cfg, ctx).encode()
        headers = {}
        if auth == "config" and secret is not None:
            headers[cfg["auth"]["config"]["name"]] = secret
        elif auth == "bearer":
            headers["Authorization"] = f"Bearer {secret}"
        url = self.v.base + (path or urllib.parse.urlsplit(cfg["url"]).path)
        status, raw_out, _ = http(cfg["method"], url, raw=body, headers=headers)
        return status, raw_out

    def deliveries(self, api_key):
        status, raw, _ = http("GET", f"{self.v.base}/api/v1/webhooks/deliveries?limit=1000", headers={"x-api-key": api_key})
        assert status == 200, (status, raw[:300])
        return as_json(raw)["data"]


def double_checks(k):
    """The double answers as Kratos's admin API does (so the checks below mean something)."""
    with Check("Kratos admin double: auth, 404 shape, JSON Patch semantics, immutable paths"):
        ident = k.add({"email": "self@example.com", "phone": CLEAN}, metadata_admin=None)
        url = f"{k.url}/admin/identities/{ident['id']}"
        auth = {"Authorization": f"Bearer {k.api_key}"}
        assert http("GET", url)[0] == 401
        assert http("GET", url, headers={"Authorization": "Bearer nope"})[0] == 401
        status, raw, _ = http("GET", f"{k.url}/admin/identities/{uuid.uuid4()}", headers=auth)
        err = as_json(raw)["error"]
        assert status == 404 and err["code"] == 404 and err["status"] == "Not Found" and err["message"], raw
        status, raw, _ = http("GET", url, headers=auth)
        assert status == 200 and as_json(raw)["metadata_admin"] is None, raw
        # Adding under a null member fails (RFC 6902: the parent must exist).
        bad = [{"op": "add", "path": "/metadata_admin/x", "value": 1}]
        assert http("PATCH", url, bad, headers=auth)[0] == 400
        for path in ("/id", "/credentials", "/credentials/password"):
            assert http("PATCH", url, [{"op": "replace", "path": path, "value": "x"}], headers=auth)[0] == 400, path
        assert http("PATCH", url, {"op": "add"}, headers=auth)[0] == 400
        assert http("PATCH", url, [{"op": "test", "path": "/state", "value": "inactive"}], headers=auth)[0] == 400
        ok = [{"op": "add", "path": "/metadata_admin", "value": {"a": 1}},
              {"op": "add", "path": "/metadata_admin/b", "value": 2}]
        status, raw, _ = http("PATCH", url, ok, headers=auth)
        assert status == 200 and as_json(raw)["metadata_admin"] == {"a": 1, "b": 2}, raw
        assert k.get(ident["id"])["metadata_admin"] == {"a": 1, "b": 2}
        k.fail(1)
        assert http("GET", url, headers=auth)[0] == 503
        assert http("GET", url, headers=auth)[0] == 200
        assert len(k.calls_for(ident["id"])) == 12, len(k.calls_for(ident["id"]))


def config_checks(hooks, registration, login):
    with Check("ory-actions.yaml: three vouch web_hooks wired where the README says"):
        assert set(hooks) == {"lookup", "enroll", "validate"}, set(hooks)
        assert hooks["lookup"]["where"] == "registration.after" and hooks["enroll"]["where"] == "registration.after"
        assert hooks["validate"]["where"] == "login.after"
        order = [e.get("config", {}).get("id", e["hook"]) for e in registration]
        assert order.index("vouch-lookup") < order.index("vouch-enroll"), order
        # Kratos's session hook ends the after-registration hooks it is in.
        if "session" in order:
            assert order[-1] == "session", order
    with Check("ory-actions.yaml: paths, methods, response.parse and auth header"):
        for name, cfg in hooks.items():
            assert urllib.parse.urlsplit(cfg["url"]).path == f"/hooks/ory/{name}", cfg["url"]
            assert cfg["method"] == "POST", cfg["method"]
            auth = cfg["auth"]
            assert auth["type"] == "api_key" and auth["config"]["in"] == "header", auth
            assert auth["config"]["name"].lower() == "x-webhook-secret", auth
            resp = cfg.get("response", {})
            assert not (resp.get("ignore") and (resp.get("parse") or cfg.get("can_interrupt"))), \
                f"{name}: Kratos refuses ignore together with parse"
            template_of(cfg)
        # lookup must run pre-persist (parse: true) to change or stop the identity; enroll
        # post-persist (parse false, synchronous) so the Kratos id is final.
        assert hooks["lookup"]["response"]["parse"] is True
        assert hooks["validate"]["response"]["parse"] is True
        assert not hooks["enroll"].get("response", {}).get("parse") and not hooks["enroll"].get("can_interrupt")
        assert not hooks["enroll"].get("response", {}).get("ignore")


def lookup_checks(s):
    lookup = s.hooks["lookup"]

    with Check("lookup +12015550100: 200 identity with traits kept, names filled, metadata_public + vouch"):
        ident = new_identity(CLEAN, metadata_public={"plan": "free", "referrer": {"code": "abc"}})
        status, raw = s.call("lookup", kratos_ctx("registration", ident))
        assert status == 200, (status, raw[:300])
        body = as_json(raw)
        assert set(body) == {"identity"}, body
        assert set(body["identity"]) == {"traits", "metadata_public"}, body["identity"]
        traits = body["identity"]["traits"]
        assert traits["email"] == ident["traits"]["email"] and traits["phone"] == CLEAN, traits
        assert traits["name"] == {"first": "Avery", "last": "Quinn"}, traits
        meta = body["identity"]["metadata_public"]
        assert meta["plan"] == "free" and meta["referrer"] == {"code": "abc"}, meta
        assert isinstance(meta.get("vouch"), dict) and meta["vouch"].get("phoneChecked") is True, meta
        assert isinstance(meta["vouch"].get("trust"), int), meta
        outcome, applied = kratos_apply(lookup, status, raw, ident)
        assert outcome == "ok", (outcome, applied)
        schema_valid_traits(applied["traits"])
        assert applied["metadata_public"]["plan"] == "free"

    with Check("lookup: a name the person typed is kept, only the empty one is filled"):
        ident = new_identity(CLEAN, first="Jo", last="")
        status, raw = s.call("lookup", kratos_ctx("registration", ident))
        assert status == 200, (status, raw[:300])
        assert as_json(raw)["identity"]["traits"]["name"] == {"first": "Jo", "last": "Quinn"}, raw

    with Check("lookup: traits without a name stay schema-valid (no keys the schema lacks)"):
        ident = new_identity(CLEAN, name=False)
        status, raw = s.call("lookup", kratos_ctx("registration", ident))
        assert status == 200, (status, raw[:300])
        outcome, applied = kratos_apply(lookup, status, raw, ident)
        assert outcome == "ok"
        schema_valid_traits(applied["traits"])
        assert applied["traits"]["email"] == ident["traits"]["email"] and applied["traits"]["phone"] == CLEAN

    with Check("lookup +12015550105 (no record): 200, traits unchanged, metadata_public.vouch"):
        ident = new_identity(NO_RECORD, metadata_public=None)
        status, raw = s.call("lookup", kratos_ctx("registration", ident))
        assert status == 200, (status, raw[:300])
        body = as_json(raw)["identity"]
        assert body["traits"] == ident["traits"], body
        assert set(body["metadata_public"]) == {"vouch"}, body

    with Check("lookup at the spec's /prove/lookup answers the same"):
        ident = new_identity(CLEAN)
        ctx = kratos_ctx("registration", ident)
        a = s.call("lookup", ctx)
        b = s.call("lookup", ctx, path="/prove/lookup")
        assert a[0] == b[0] == 200 and as_json(a[1]) == as_json(b[1]), (a, b)

    for phone, msg_id, reason in ((SIM_SWAPPED, SIM_SWAP, "sim_swap"), (DISCONNECTED, DISCONNECT, "disconnected"),
                                  (LOW_TRUST, LOW, "low_trust")):
        with Check(f"lookup {phone}: 403 Kratos interrupt on #/traits/phone ({reason})"):
            ident = new_identity(phone)
            status, raw = s.call("lookup", kratos_ctx("registration", ident))
            assert_interrupt(status, raw, 403, msg_id, reason)
            assert kratos_apply(lookup, status, raw, ident)[0] == "interrupt"

    with Check("lookup without a phone trait: 400 interrupt on #/traits/phone"):
        status, raw = s.call("lookup", kratos_ctx("registration", new_identity(None)))
        assert_interrupt(status, raw, 400, PHONE_MISSING, "phone_missing")

    with Check("lookup with a phone that is not a number: 400 interrupt on #/traits/phone"):
        status, raw = s.call("lookup", kratos_ctx("registration", new_identity("12")))
        assert_interrupt(status, raw, 400, PHONE_MISSING, "phone_missing")

    with Check("lookup with a malformed body: 400 interrupt"):
        status, raw = s.call("lookup", raw=b"{not json")
        assert_interrupt(status, raw, 400, BAD_REQUEST, "malformed_body", pointer="#")
        status, raw = s.call("lookup", raw=json.dumps({"phone_number": 12015550100}).encode())
        assert_interrupt(status, raw, 400, BAD_REQUEST, "malformed_body", pointer="#")

    with Check("lookup from a body without traits does not wipe the identity's traits"):
        # Kratos replaces every field the answer carries: no traits sent, none answered.
        ident = new_identity(CLEAN)
        status, raw = s.call("lookup", raw=json.dumps({"phone_number": CLEAN}).encode())
        assert status == 200, (status, raw[:300])
        outcome, applied = kratos_apply(lookup, status, raw, ident)
        assert outcome == "ok" and applied["traits"] == ident["traits"], as_json(raw)

    with Check("lookup: Authorization: Bearer <secret> is accepted too"):
        status, raw = s.call("lookup", kratos_ctx("registration", new_identity(CLEAN)), auth="bearer")
        assert status == 200, (status, raw[:300])


def auth_checks(s, api_key):
    with Check("wrong or missing secret: 401 on every hook, no enrolment, no Kratos call"):
        before = len(s.deliveries(api_key))
        ident = s.k.add({"email": "nobody@example.com", "phone": CLEAN, "name": {"first": "", "last": ""}},
                        metadata_admin=None)
        ctx = kratos_ctx("registration", ident)
        for name in ("lookup", "enroll", "validate"):
            for secret, auth in ((None, "config"), ("wrong-" + SECRET, "config"), ("wrong-" + SECRET, "bearer"),
                                 ("", "config")):
                status, raw = s.call(name, ctx, secret=secret, auth=auth)
                assert status == 401, (name, secret, auth, status, raw[:200])
        time.sleep(1.5)  # a queued patch would have been tried by now
        assert s.k.calls_for(ident["id"]) == [], s.k.calls_for(ident["id"])
        assert s.k.get(ident["id"])["metadata_admin"] is None
        assert len(s.deliveries(api_key)) == before, "a delivery was queued"
        status, raw = s.call("validate", kratos_ctx("login", ident))
        assert_interrupt(status, raw, 403, NOT_ENROLLED, "not_enrolled")


def patch_ops(call):
    ops = json.loads(call["body"])
    assert isinstance(ops, list) and ops, ops
    return ops


def enroll_checks(s, api_key):
    enrolled = {}
    enroll = s.hooks["enroll"]

    def enroll_ok(ident, hook_path=None):
        status, raw = s.call("enroll", kratos_ctx("registration", ident), path=hook_path)
        assert status == 200, (status, raw[:300])
        outcome, _ = kratos_apply(enroll, status, raw, ident)
        assert outcome == "ok", outcome
        body = as_json(raw)
        assert isinstance(body.get("identityId"), str) and body["identityId"], body
        assert body.get("proveId") == body["identityId"], body
        return body["identityId"]

    def metadata_arrived(ident_id, vid):
        def ok():
            m = (s.k.get(ident_id) or {}).get("metadata_admin")
            return isinstance(m, dict) and m.get("prove_identity_id") == vid and m.get("vouch_identity_id") == vid
        return ok

    with Check("enroll: 200 {identityId, proveId}; GET then PATCH; existing metadata_admin keys survive"):
        ident = s.k.add({"email": "avery@example.com", "phone": CLEAN, "name": {"first": "Avery", "last": "Quinn"}},
                        metadata_admin={"plan": "gold", "support": {"tier": 2}})
        vid = enroll_ok(ident)
        wait_for("metadata_admin in Kratos", metadata_arrived(ident["id"], vid), timeout=10)
        meta = s.k.get(ident["id"])["metadata_admin"]
        assert meta == {"plan": "gold", "support": {"tier": 2}, "prove_identity_id": vid, "vouch_identity_id": vid}, meta
        calls = s.k.calls_for(ident["id"])
        assert [c["method"] for c in calls] == ["GET", "PATCH"], [(c["method"]) for c in calls]
        assert all(c["authorization"] == f"Bearer {KRATOS_API_KEY}" for c in calls), calls
        ops = patch_ops(calls[1])
        assert all(op["op"] in ("add", "replace", "test") for op in ops), ops
        assert all(op["path"].startswith("/metadata_admin") for op in ops), ops
        other = s.k.get(ident["id"])
        assert other["traits"] == ident["traits"] and other["state"] == "active", other
        enrolled["a"] = (ident, vid)

    with Check("enroll: metadata_admin null gets the object created"):
        ident = s.k.add({"email": "b@example.com", "phone": CLEAN}, metadata_admin=None)
        vid = enroll_ok(ident)
        wait_for("metadata_admin in Kratos", metadata_arrived(ident["id"], vid), timeout=10)
        meta = s.k.get(ident["id"])["metadata_admin"]
        assert meta == {"prove_identity_id": vid, "vouch_identity_id": vid}, meta
        enrolled["b"] = (ident, vid)

    with Check("enroll: no metadata_admin key at all gets the object created (at /prove/enroll)"):
        ident = s.k.add({"email": "c@example.com", "phone": CLEAN})
        vid = enroll_ok(ident, hook_path="/prove/enroll")
        wait_for("metadata_admin in Kratos", metadata_arrived(ident["id"], vid), timeout=10)
        assert s.k.get(ident["id"])["metadata_admin"] == {"prove_identity_id": vid, "vouch_identity_id": vid}

    with Check("enroll again for the same identity: the same id, nothing duplicated"):
        ident, vid = enrolled["a"]
        assert enroll_ok(ident) == vid
        assert enroll_ok(ident) == vid
        time.sleep(1.0)
        meta = s.k.get(ident["id"])["metadata_admin"]
        assert meta == {"plan": "gold", "support": {"tier": 2}, "prove_identity_id": vid, "vouch_identity_id": vid}, meta
        status, raw = s.call("validate", kratos_ctx("login", ident))
        assert status == 204, (status, raw[:300])
        # Different Kratos identities on the same number are different enrolments.
        assert enrolled["b"][1] != vid

    with Check("enroll while Kratos is down (503 twice): 200 at once, metadata through outbox retries"):
        ident = s.k.add({"email": "d@example.com", "phone": CLEAN}, metadata_admin={"keep": True})
        s.k.fail(2)
        started = time.monotonic()
        vid = enroll_ok(ident)
        assert time.monotonic() - started < 3, "the hook waited for Kratos"
        wait_for("metadata_admin after retries", metadata_arrived(ident["id"], vid), timeout=20)
        assert s.k.get(ident["id"])["metadata_admin"]["keep"] is True
        calls = s.k.calls_for(ident["id"])
        assert len(calls) >= 4 and [c["method"] for c in calls[-2:]] == ["GET", "PATCH"], [c["method"] for c in calls]
        delivery = wait_for("the delivery marked delivered", lambda: next(
            (d for d in s.deliveries(api_key) if d["url"].endswith(ident["id"]) and d["status"] == "delivered"), None),
            timeout=10)
        assert delivery["attempts"] >= 3, delivery

    with Check("enroll for an identity Kratos does not know (404): delivery dead, not retried"):
        ghost = new_identity(CLEAN)
        vid = enroll_ok(ghost)
        assert vid
        delivery = wait_for("the delivery to end", lambda: next(
            (d for d in s.deliveries(api_key) if d["url"].endswith(ghost["id"]) and d["status"] != "pending"), None),
            timeout=20)
        assert delivery["status"] == "dead", delivery
        assert delivery["attempts"] == 1 and delivery.get("lastStatus") == 404, delivery
        time.sleep(1.5)
        calls = s.k.calls_for(ghost["id"])
        assert [c["method"] for c in calls] == ["GET"], [c["method"] for c in calls]

    with Check("enroll with a missing or malformed identity id: 400 interrupt, no delivery"):
        before = len(s.deliveries(api_key))
        ident = new_identity(CLEAN)
        ident["id"] = "../../admin/identities"
        status, raw = s.call("enroll", kratos_ctx("registration", ident))
        assert_interrupt(status, raw, 400, BAD_REQUEST, "identity_missing", pointer="#")
        assert kratos_apply(enroll, status, raw, ident)[0] == "failed"
        status, raw = s.call("enroll", kratos_ctx("registration", new_identity(None)))
        assert_interrupt(status, raw, 400, PHONE_MISSING, "phone_missing")
        assert len(s.deliveries(api_key)) == before, "a delivery was queued"
    return enrolled


def validate_checks(s, enrolled):
    validate = s.hooks["validate"]

    with Check("validate: enrolled identity, same phone: 204 (Kratos: no change)"):
        ident, _ = enrolled["a"]
        status, raw = s.call("validate", kratos_ctx("login", ident))
        assert status == 204 and raw == b"", (status, raw[:300])
        assert kratos_apply(validate, status, raw, ident) == ("ok", ident)
        status, raw = s.call("validate", kratos_ctx("login", ident), path="/prove/validate")
        assert status == 204, (status, raw[:300])

    with Check("validate: a different phone trait: 403 interrupt (number_changed)"):
        ident, _ = enrolled["a"]
        moved = copy.deepcopy(ident)
        moved["traits"]["phone"] = NO_RECORD
        status, raw = s.call("validate", kratos_ctx("login", moved))
        assert_interrupt(status, raw, 403, NUMBER_CHANGED, "number_changed")
        assert kratos_apply(validate, status, raw, moved)[0] == "interrupt"

    with Check("validate after a DISCONNECT event for the number: interrupt"):
        ident = s.k.add({"email": "f@example.com", "phone": CLEAN_2}, metadata_admin=None)
        status, raw = s.call("enroll", kratos_ctx("registration", ident))
        assert status == 200, (status, raw[:300])
        status, raw = s.call("validate", kratos_ctx("login", ident))
        assert status == 204, (status, raw[:300])
        status, raw, _ = http("POST", f"{s.v.base}/dev/phone-events", {"phoneNumber": CLEAN_2, "eventType": "DISCONNECT"})
        assert status == 200 and as_json(raw)["notified"] >= 1, (status, raw[:300])
        status, raw = s.call("validate", kratos_ctx("login", ident))
        assert_interrupt(status, raw, 403, NUMBER_CHANGED, "number_changed")
        # The other identities on other numbers are untouched.
        status, raw = s.call("validate", kratos_ctx("login", enrolled["a"][0]))
        assert status == 204, (status, raw[:300])

    with Check("validate: an identity never enrolled: interrupt not_enrolled"):
        ident = s.k.add({"email": "g@example.com", "phone": CLEAN})
        status, raw = s.call("validate", kratos_ctx("login", ident))
        assert_interrupt(status, raw, 403, NOT_ENROLLED, "not_enrolled")

    with Check("validate with a malformed body: 400 interrupt"):
        status, raw = s.call("validate", raw=b"[1, 2")
        assert_interrupt(status, raw, 400, BAD_REQUEST, "malformed_body", pointer="#")


def metric(text, hook, outcome):
    total = 0.0
    for line in text.splitlines():
        m = re.match(r"^(\w+)\{([^}]*)\}\s+([0-9.eE+-]+)", line)
        if not m or m.group(1) != "vouch_ory_hook_answers_total":
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if labels.get("hook") == hook and labels.get("outcome") == outcome:
            total += float(m.group(3))
    return total


def fail_closed_checks(kratos, hooks):
    v = Vouch("camara", {
        "VOUCH_TELCO": "camara",
        "VOUCH_CAMARA_BASE_URL": "http://127.0.0.1:1/camara",
        "VOUCH_CAMARA_TOKEN_URL": "http://127.0.0.1:1/token",
        "VOUCH_CAMARA_CLIENT_ID": "x",
        "VOUCH_CAMARA_CLIENT_SECRET": "y",
    })
    secret = SECRET + "-camara"
    try:
        org = v.cli("org", "create", "--name", "Unreachable network")["orgId"]
        v.start()
        v.cli("ory", "configure", "--org", org, "--webhook-secret", secret, "--kratos-admin-url", kratos.url,
              "--api-key", KRATOS_API_KEY)
        s = Suite(v, kratos, hooks)
        ident = kratos.add({"email": "h@example.com", "phone": CLEAN}, metadata_admin=None)

        with Check("network unreachable, fail closed: lookup 422 with the interrupt payload (4100010), shown by Kratos"):
            status, raw = s.call("lookup", kratos_ctx("registration", ident), secret=secret)
            assert_interrupt(status, raw, 422, UNDECIDED, "verification_unavailable")
            # Kratos stops the registration and shows vouch's message (a 5xx would be
            # retried and then replaced by a generic error).
            assert kratos_apply(hooks["lookup"], status, raw, ident)[0] == "interrupt"

        with Check("network unreachable, fail closed: validate of an enrolled identity 422 interrupt"):
            status, raw = s.call("enroll", kratos_ctx("registration", ident), secret=secret)
            assert status == 200, (status, raw[:300])
            status, raw = s.call("validate", kratos_ctx("login", ident), secret=secret)
            assert_interrupt(status, raw, 422, UNDECIDED, "verification_unavailable")

        with Check("--fail-open lookup: lookup 204 (no change), validate still closed (422)"):
            out = v.cli("ory", "configure", "--org", org, "--webhook-secret", secret, "--kratos-admin-url", kratos.url,
                        "--api-key", KRATOS_API_KEY, "--fail-open", "lookup")
            assert out["failOpen"] == {"lookup": True, "validate": False}, out
            status, raw = s.call("lookup", kratos_ctx("registration", ident), secret=secret)
            assert status == 204 and raw == b"", (status, raw[:300])
            assert kratos_apply(hooks["lookup"], status, raw, ident) == ("ok", ident)
            status, raw = s.call("validate", kratos_ctx("login", ident), secret=secret)
            assert_interrupt(status, raw, 422, UNDECIDED, "verification_unavailable")

        with Check("--fail-open lookup,validate: validate 204"):
            v.cli("ory", "configure", "--org", org, "--webhook-secret", secret, "--kratos-admin-url", kratos.url,
                  "--api-key", KRATOS_API_KEY, "--fail-open", "lookup,validate")
            status, raw = s.call("validate", kratos_ctx("login", ident), secret=secret)
            assert status == 204, (status, raw[:300])

        with Check("/metrics: vouch_ory_hook_answers_total undecided_closed and undecided_open"):
            status, raw, _ = http("GET", f"{v.base}/metrics")
            assert status == 200, status
            text = raw.decode()
            ory = "\n".join(line for line in text.splitlines() if "ory_hook" in line)
            assert metric(text, "lookup", "undecided_closed") >= 1, ory
            assert metric(text, "lookup", "undecided_open") >= 1, ory
            assert metric(text, "validate", "undecided_closed") >= 2, ory
            assert metric(text, "validate", "undecided_open") >= 1, ory
    except Exception:
        RESULTS.append(("fail-closed server", False, traceback.format_exc(), 0))
        print(indent(traceback.format_exc()))
    finally:
        v.stop()
        if any(not ok for name, ok, *_ in RESULTS):
            print("  camara server log (tail):\n" + indent(v.log_tail()), flush=True)
        shutil.rmtree(v.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------
# The community Prove integration (ory/integrates, the hooks spec's own source)

COMMUNITY = Path(os.environ.get("VOUCH_ORY_COMMUNITY_DIR")
                 or ROOT.parent / "shared" / "reference" / "ory-integrates-prove")


def community_hooks():
    """Its three web_hooks from its own ory-actions.yaml, by the last part of their URL."""
    doc = yaml.safe_load((COMMUNITY / "ory-actions.yaml").read_text())
    flows = doc["selfservice"]["flows"]
    hooks = {}
    for where, entries in (("registration.before", flows["registration"]["before"]["hooks"]),
                           ("registration.after", flows["registration"]["after"]["hooks"]),
                           ("login.after", flows["login"]["after"]["hooks"])):
        for entry in entries:
            if entry.get("hook") == "web_hook":
                cfg = entry["config"]
                hooks[urllib.parse.urlsplit(cfg["url"]).path.rsplit("/", 1)[-1]] = {**cfg, "where": where}
    return hooks


class CommunitySuite:
    def __init__(self, vouch, kratos, hooks):
        self.v, self.k, self.hooks = vouch, kratos, hooks

    def call(self, name, ctx=None, raw=None):
        """POSTs hook `name` as Kratos does with the integration's own configuration: its
        template rendered by go-jsonnet, its path (on vouch), method and auth header."""
        cfg = self.hooks[name]
        template = COMMUNITY / "jsonnet" / Path(urllib.parse.urlsplit(cfg["body"]).path).name
        body = raw if raw is not None else _gojsonnet.evaluate_file(
            str(template), tla_codes={"ctx": json.dumps(ctx)}).encode()
        auth = cfg["auth"]["config"]
        assert auth["in"] == "header", auth
        url = self.v.base + urllib.parse.urlsplit(cfg["url"]).path
        status, out, _ = http(cfg["method"], url, raw=body, headers={auth["name"]: SECRET})
        return status, out


def community_identity(phone, metadata_public="absent"):
    traits = {"email": f"{uuid.uuid4().hex[:10]}@example.com", "phone_number": phone}
    return traits, metadata_public


# Clean sandbox lines the rest of the suite does not enrol (a lookup answers the first
# identity of a number).
COMMUNITY_PHONE, COMMUNITY_PHONE_2 = "+12015550107", "+12015550108"
COMMUNITY_PUBLIC = {"prove_identity_enrolled", "prove_identity_id", "prove_verification_result",
                    "prove_enrollment_timestamp"}
COMMUNITY_ADMIN = {"prove_correlation_id", "prove_client_customer_id"}


def community_checks(s):
    hooks = s.hooks
    lookup, enroll, validate = hooks["lookup"], hooks["enroll"], hooks["validate"]

    with Check("community ory-actions.yaml: lookup before, enroll after registration, validate after login"):
        assert set(hooks) == {"lookup", "enroll", "validate"}, set(hooks)
        assert lookup["where"] == "registration.before" and enroll["where"] == "registration.after"
        assert validate["where"] == "login.after" and validate["can_interrupt"] is True
        for cfg in hooks.values():
            assert urllib.parse.urlsplit(cfg["url"]).path.startswith("/prove/"), cfg["url"]

    with Check("community lookup (registration.before, number in the transient payload): not_found"):
        ctx = kratos_ctx("registration", new_identity(None))
        del ctx["identity"]  # registration.before: no identity yet
        ctx["flow"]["transient_payload"] = {"phone_number": NO_RECORD}
        status, raw = s.call("lookup", ctx)
        assert status == 200, (status, raw[:300])
        outcome, after = kratos_apply(lookup, status, raw, {"traits": {}, "metadata_public": None})
        assert outcome == "ok", (outcome, after)
        assert after["metadata_public"]["prove_identity_status"] == "not_found", after
        assert isinstance(after["metadata_public"]["prove_lookup_timestamp"], str), after

    enrolled = {}
    with Check("community enroll: {success, prove_identity_id}; the prove_* keys patched at the integration's paths"):
        traits, _ = community_identity(COMMUNITY_PHONE)
        ident = s.k.add(traits, metadata_admin={"plan": "gold"}, metadata_public={"theme": "dark"})
        status, raw = s.call("enroll", kratos_ctx("registration", ident))
        assert status == 200, (status, raw[:300])
        body = as_json(raw)
        assert body["success"] is True and isinstance(body["prove_identity_id"], str), body
        assert kratos_apply(enroll, status, raw, ident)[0] == "ok"
        pid = body["prove_identity_id"]

        def arrived():
            cur = s.k.get(ident["id"]) or {}
            pub = cur.get("metadata_public") or {}
            return pub.get("prove_identity_id") == pid and cur
        cur = wait_for("metadata in Kratos", arrived, timeout=10)
        pub, adm = cur["metadata_public"], cur["metadata_admin"]
        assert pub["theme"] == "dark" and adm["plan"] == "gold", cur
        assert COMMUNITY_PUBLIC <= set(pub) and pub["prove_identity_enrolled"] is True, pub
        assert COMMUNITY_ADMIN <= set(adm) and adm["prove_client_customer_id"] == ident["id"], adm
        ops = patch_ops(s.k.calls_for(ident["id"])[-1])
        paths = {op["path"] for op in ops}
        assert paths == {f"/metadata_public/{k}" for k in COMMUNITY_PUBLIC} | \
            {f"/metadata_admin/{k}" for k in COMMUNITY_ADMIN}, paths
        enrolled["ident"], enrolled["pid"] = s.k.get(ident["id"]), pid

    with Check("community enroll on an identity without metadata: the sections are created"):
        traits, _ = community_identity(COMMUNITY_PHONE_2)
        ident = s.k.add(traits, metadata_admin=None, metadata_public=None)
        status, raw = s.call("enroll", kratos_ctx("registration", ident))
        assert status == 200 and as_json(raw)["success"] is True, (status, raw[:300])
        cur = wait_for("metadata in Kratos", lambda: (s.k.get(ident["id"]) or {}).get("metadata_public"), timeout=10)
        assert COMMUNITY_PUBLIC <= set(cur), cur
        assert COMMUNITY_ADMIN <= set(s.k.get(ident["id"])["metadata_admin"])

    with Check("community enroll without a phone trait: 400 {error}"):
        ident = s.k.add({"email": "x@example.com"})
        status, raw = s.call("enroll", kratos_ctx("registration", ident))
        assert status == 400 and as_json(raw)["error"] == "kratos_identity_id and phone_number are required", raw

    if "ident" not in enrolled:
        RESULTS.append(("community validate checks", False, "skipped: the enrolment they need failed", 0))
        return
    ident, pid = enrolled["ident"], enrolled["pid"]

    with Check("community lookup of the enrolled number: verified with the identity's details"):
        ctx = kratos_ctx("registration", new_identity(None))
        del ctx["identity"]
        ctx["flow"]["transient_payload"] = {"phone_number": COMMUNITY_PHONE}
        status, raw = s.call("lookup", ctx)
        outcome, after = kratos_apply(lookup, status, raw, {"traits": {}, "metadata_public": None})
        assert outcome == "ok", (outcome, after)
        pub = after["metadata_public"]
        assert pub["prove_identity_status"] == "verified" and pub["prove_identity_id"] == pid, pub
        assert after["traits"] == {"phone_number": COMMUNITY_PHONE}, after

    with Check("community validate (login.after, the Prove id read from metadata_public): verified, patched"):
        status, raw = s.call("validate", kratos_ctx("login", ident))
        assert status == 200, (status, raw[:300])
        outcome, after = kratos_apply(validate, status, raw, ident)
        assert outcome == "ok", (outcome, after)
        assert after["metadata_public"]["prove_validation_status"] == "verified", after
        assert after["metadata_public"]["prove_identity_id"] == pid, "the next sign-in must still find the id"
        cur = wait_for("validation in Kratos", lambda: (s.k.get(ident["id"])["metadata_public"] or {})
                       .get("prove_validation_status") == "verified" and s.k.get(ident["id"]), timeout=10)
        assert cur["metadata_public"]["prove_phone_verified"] == COMMUNITY_PHONE, cur
        paths = {op["path"] for op in patch_ops(s.k.calls_for(ident["id"])[-1])}
        assert paths == {"/metadata_public/prove_validation_status", "/metadata_public/prove_verification_result",
                         "/metadata_public/prove_last_validation", "/metadata_public/prove_phone_verified",
                         "/metadata_admin/prove_correlation_id"}, paths

    with Check("community validate with a changed phone trait: 400 phone_number_mismatch, login interrupted"):
        moved = copy.deepcopy(ident)
        moved["traits"]["phone_number"] = NO_RECORD
        status, raw = s.call("validate", kratos_ctx("login", moved))
        assert status == 400, (status, raw[:300])
        outcome, doc = kratos_apply(validate, status, raw, moved)
        assert outcome == "interrupt", outcome
        m = doc["messages"][0]
        assert m["instance_ptr"] == "#/" and m["type"] == "error" and isinstance(m["message"], str), m
        assert m["context"] == {"reason": "phone_number_mismatch", "prove_phone": COMMUNITY_PHONE,
                                "registered_phone": NO_RECORD}, m["context"]
        assert m["messages"][0]["text"] == m["message"], "Kratos shows the same text"

    with Check("community validate before enrolment (no prove_identity_id): not_enrolled, login goes on"):
        traits, _ = community_identity(CLEAN)
        fresh = s.k.add(traits)
        status, raw = s.call("validate", kratos_ctx("login", fresh))
        outcome, after = kratos_apply(validate, status, raw, fresh)
        assert status == 200 and outcome == "ok", (status, raw[:300])
        assert after["metadata_public"]["prove_validation_status"] == "not_enrolled", after


def main():
    started = time.monotonic()
    hooks, registration, login = load_actions()
    print("== shipped Kratos configuration", flush=True)
    config_checks(hooks, registration, login)

    kratos = KratosAdmin(KRATOS_API_KEY)
    double_checks(kratos)
    v = Vouch("sandbox")
    try:
        org = v.cli("org", "create", "--name", "Kratos hooks")["orgId"]
        api_key = v.cli("key", "create", "--org", org, "--name", "t")["apiKey"]
        v.start()
        out = v.cli("ory", "configure", "--org", org, "--webhook-secret", SECRET, "--kratos-admin-url", kratos.url,
                    "--api-key", KRATOS_API_KEY)
        assert out["failOpen"] == {"lookup": False, "validate": False}, out
        s = Suite(v, kratos, hooks)
        print(f"== lookup (vouch at {v.base}, Kratos admin double at {kratos.url})", flush=True)
        lookup_checks(s)
        print("== authentication", flush=True)
        auth_checks(s, api_key)
        print("== enroll (metadata_admin through the Kratos admin API)", flush=True)
        enrolled = enroll_checks(s, api_key)
        print("== validate", flush=True)
        if {"a"} <= set(enrolled):
            validate_checks(s, enrolled)
        else:
            RESULTS.append(("validate checks", False, "skipped: the enrolment they need failed", 0))
        if (COMMUNITY / "ory-actions.yaml").is_file():
            print(f"== the community Prove integration's templates ({COMMUNITY})", flush=True)
            community_checks(CommunitySuite(v, kratos, community_hooks()))
        else:
            print(f"== skipped: the community Prove integration's templates ({COMMUNITY} is not beside this checkout)",
                  flush=True)
    except Exception:
        RESULTS.append(("sandbox server", False, traceback.format_exc(), 0))
        print(indent(traceback.format_exc()))
    finally:
        v.stop()
        if any(not ok for _, ok, *_ in RESULTS):
            print("  vouch server log (tail):\n" + indent(v.log_tail()), flush=True)
        shutil.rmtree(v.dir, ignore_errors=True)

    print("== fail closed / fail open (CAMARA network unreachable)", flush=True)
    fail_closed_checks(kratos, hooks)
    kratos.stop()

    failed = [r for r in RESULTS if not r[1]]
    took = time.monotonic() - started
    print(f"\nOry Kratos hooks: {len(RESULTS) - len(failed)} passed, {len(failed)} failed in {took:.1f} s")
    for name, _, detail, _ in failed:
        print(f"  FAILED: {name}\n{indent(detail)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
