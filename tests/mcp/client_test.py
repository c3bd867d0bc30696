"""vouch's MCP server driven by the official Python MCP client (PyPI `mcp`).

Starts `vouch serve` with a fresh data dir, enrols alice, then:
  1. stdio: spawns `vouch mcp`, lists the tools (names, descriptions, JSON schemas),
     requests human presence, lets "alice" scan (webcam frames of an eval face that
     blinks, posted as the hosted page posts them), gets the token, verifies it;
  2. streamable HTTP at /mcp with the service token as bearer: lists the tools and
     verifies the same token; a call without a token is refused;
  3. the older HTTP+SSE transport at /sse (the client's `sse_client`): lists the tools,
     requests a presence and verifies the token; no bearer is a 401, an unknown session
     a 404.
Exits non-zero on any failure.
"""
import asyncio, base64, json, os, re, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client, create_mcp_http_client

VOUCH = os.environ["VOUCH_BIN"]
# The eval photos beside the repository; on a clone without them (stand-ins of
# scripts/fetch_test_data.py, whose painted blink is not seen) the live scan is skipped and
# only the transports and tools are tested.
_shared = Path(__file__).resolve().parents[3] / "shared" / "eval"
EVAL = Path(os.environ["VOUCH_EVAL_DIR"]) if os.environ.get("VOUCH_EVAL_DIR") else _shared
FACES = EVAL / "faces"
LIVE_SCAN = (EVAL / "README.md").is_file()
EXPECTED = {"request_human_presence", "get_presence_token", "verify_presence_token"}


def cli(data, *args):
    out = subprocess.run([VOUCH, "--data-dir", data, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method)
    req.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def is_error(result):
    return getattr(result, "is_error", None) or getattr(result, "isError", False)


def schema(tool):
    return getattr(tool, "input_schema", None) or getattr(tool, "inputSchema")


def text_json(result):
    assert not is_error(result), result
    return json.loads(result.content[0].text)


async def presence_flow(session, org, frames):
    tools = (await session.list_tools()).tools
    names = {t.name for t in tools}
    assert names == EXPECTED, names
    for t in tools:
        assert t.description and len(t.description) > 40, t
        assert schema(t)["type"] == "object", schema(t)
    req = next(t for t in tools if t.name == "request_human_presence")
    assert "purpose" in schema(req)["properties"] and "purpose" in schema(req).get("required", [])

    nonce = f"n-{time.time_ns()}"
    s = text_json(await session.call_tool("request_human_presence", {"purpose": "Approve the deploy", "nonce": nonce}))
    assert "/verify-presence/vpt_" in s["verifyUrl"], s
    pending = text_json(await session.call_tool("get_presence_token", {"sessionId": s["sessionId"]}))
    assert pending["status"] == "PENDING", pending
    if frames is None:
        return None
    status, v = http("POST", s["verifyUrl"] + "/selfie", {"frames": frames})
    assert status == 200, (status, v)
    t = text_json(await session.call_tool("get_presence_token", {"sessionId": s["sessionId"], "waitSeconds": 10}))
    assert t["status"] == "VERIFIED" and t["verifiedEmail"] == "alice@example.com", t
    claims = text_json(await session.call_tool("verify_presence_token", {"token": t["token"], "expectedNonce": nonce}))
    assert claims["valid"] is True and claims["sub"] == "alice@example.com" and claims["orgId"] == org, claims
    bad = text_json(await session.call_tool("verify_presence_token", {"token": t["token"], "expectedNonce": "other"}))
    assert bad["valid"] is False, bad
    return t["token"]


async def main():
    data = tempfile.mkdtemp(prefix="vouch-mcp-")
    org = cli(data, "org", "create", "--name", "Acme")["orgId"]
    key = cli(data, "key", "create", "--org", org, "--name", "app")["apiKey"]
    token = cli(data, "service-token", "create", "--org", org, "--name", "agent")["token"]
    server = subprocess.Popen([VOUCH, "--data-dir", data, "serve", "--listen", "127.0.0.1:0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "NO_COLOR": "1"})
    try:
        base = None
        for line in server.stderr:
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if m:
                base = m.group(1)
                break
        assert base, "server did not start"
        frames = None
        if LIVE_SCAN:
            status, v = http("POST", f"{base}/api/enroll",
                             {"image": base64.b64encode((FACES / "img1.jpg").read_bytes()).decode(), "email": "alice@example.com"},
                             {"x-api-key": key})
            assert status == 200, v
            face = cli(data, "face", "analyze", str(FACES / "img2.jpg"))["faces"][0]["landmarks"]
            frames_dir = Path(data) / "frames"
            subprocess.run([os.environ["VOUCH_FOOTAGE"], str(FACES / "img2.jpg"), str(frames_dir), "--eyes",
                            ",".join(f"{v:.1f}" for v in face[0] + face[1])], check=True, capture_output=True)
            frames = [base64.b64encode(p.read_bytes()).decode() for p in sorted(frames_dir.glob("*.jpg"))[::3][:8]]
        else:
            print(f"skipped: the live scan and its token (needs the full evaluation set, not at {EVAL})")

        params = StdioServerParameters(command=VOUCH, args=["mcp"],
                                       env={**os.environ, "VOUCH_BASE_URL": base, "VOUCH_SERVICE_TOKEN": token})
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                hpt = await presence_flow(session, org, frames)
        print("stdio: 3 tools listed, presence flow verified" if hpt else "stdio: 3 tools listed, presence requested")

        async with create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as client:
            async with streamable_http_client(f"{base}/mcp", http_client=client) as (read, write, *_):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    names = {t.name for t in (await session.list_tools()).tools}
                    assert names == EXPECTED, names
                    if hpt:
                        claims = text_json(await session.call_tool("verify_presence_token", {"token": hpt}))
                        assert claims["valid"] is True, claims
        async with create_mcp_http_client() as client:
            async with streamable_http_client(f"{base}/mcp", http_client=client) as (read, write, *_):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    r = await session.call_tool("verify_presence_token", {"token": hpt or "x.y.z"})
                    assert is_error(r), r
        print("streamable HTTP /mcp: tools listed, " + ("token verified; " if hpt else "") + "no bearer token refused")

        # The older HTTP+SSE transport (MCP 2024-11-05), as the spec's hosted server.
        async with sse_client(f"{base}/sse", headers={"Authorization": f"Bearer {token}"}) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                names = {t.name for t in (await session.list_tools()).tools}
                assert names == EXPECTED, names
                started = text_json(await session.call_tool("request_human_presence", {"purpose": "Approve a payment"}))
                assert "/verify-presence/vpt_" in started["verifyUrl"], started
                if hpt:
                    claims = text_json(await session.call_tool("verify_presence_token", {"token": hpt}))
                    assert claims["valid"] is True, claims
        status, v = http("GET", f"{base}/sse")
        assert status == 401, (status, v)
        status, v = http("POST", f"{base}/messages?sessionId=nope", {"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert status == 404, (status, v)
        print("HTTP+SSE /sse: tools listed, a presence requested" + (", token verified" if hpt else "") + "; no bearer token refused, unknown session 404")
    finally:
        server.terminate()
        server.wait()


asyncio.run(main())
