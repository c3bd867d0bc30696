#!/usr/bin/env python3
"""Stand-in test photos for a clone without `../shared/eval` beside it.

The tests read face photos from `../shared/eval` (evaluation data that sits beside this
repository in CI and is never committed). On a fresh clone that folder is absent, so this
script builds a smaller stand-in set with the same file names from photos shipped inside
registry packages, each package checked against its sha256:

  PyPI face_recognition==1.3.0 (sdist, MIT, Adam Geitgey): tests/test_images/
      obama.jpg, obama2.jpg, obama3.jpg (one person), biden.jpg (another)
  npm @vladmandic/face-api@1.7.15 (MIT): demo/sample2.jpg (two people), sample5.jpg (five)

Only two single people are in those packages, so img1, img2, img4 and img6 are person A and
img5, img8 and img16 are person B; tests that need a third person are skipped.

into OUT/faces/ (default target/test-data/eval), with a pairs.txt for the identities and a
SOURCES.md. The tests resolve their photos through crates/testkit/src/evaldata.rs, which
uses `../shared/eval` when it exists and this folder when it does not; a test whose photo
has no stand-in says in one line that it was skipped.

usage: fetch_test_data.py [OUT]     (needs python3 with pip, and npm; idempotent)
"""
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target", "test-data", "eval"))

PACKAGES = {
    "face_recognition-1.3.0.tar.gz": {
        "fetch": [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                  "--disable-pip-version-check", "--quiet", "face_recognition==1.3.0"],
        "sha256": "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
        "source": "PyPI face_recognition 1.3.0 (sdist; MIT, Copyright (c) 2017 Adam Geitgey)",
    },
    "vladmandic-face-api-1.7.15.tgz": {
        "fetch": ["npm", "pack", "--silent", "@vladmandic/face-api@1.7.15"],
        "sha256": "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
        "source": "npm @vladmandic/face-api 1.7.15 (MIT)",
    },
}

# stand-in name -> (package, path in the package, what the tests may assume)
FILES = {
    "faces/img1.jpg": ("face_recognition-1.3.0.tar.gz", "face_recognition-1.3.0/tests/test_images/obama.jpg", "person A"),
    "faces/img2.jpg": ("face_recognition-1.3.0.tar.gz", "face_recognition-1.3.0/tests/test_images/obama2.jpg", "person A"),
    "faces/img4.jpg": ("face_recognition-1.3.0.tar.gz", "face_recognition-1.3.0/tests/test_images/obama3.jpg", "person A"),
    "faces/img6.jpg": ("face_recognition-1.3.0.tar.gz", "face_recognition-1.3.0/tests/test_images/obama_partial_face2.jpg", "person A"),
    "faces/img8.jpg": ("face_recognition-1.3.0.tar.gz", "face_recognition-1.3.0/tests/test_images/biden.jpg", "person B"),
    "faces/img5.jpg": ("face_recognition-1.3.0.tar.gz", "face_recognition-1.3.0/tests/test_images/biden.jpg", "person B"),
    "faces/img16.jpg": ("face_recognition-1.3.0.tar.gz", "face_recognition-1.3.0/tests/test_images/biden.jpg", "person B"),
    "faces/couple.jpg": ("vladmandic-face-api-1.7.15.tgz", "package/demo/sample2.jpg", "two people"),
    "faces/selfie-many-people.jpg": ("vladmandic-face-api-1.7.15.tgz", "package/demo/sample5.jpg", "five people"),
}
PAIRS = """img1.jpg img2.jpg same
img1.jpg img4.jpg same
img2.jpg img4.jpg same
img1.jpg img8.jpg diff
img2.jpg img8.jpg diff
img4.jpg img8.jpg diff
img1.jpg img6.jpg same
img1.jpg img5.jpg diff
img1.jpg img16.jpg diff
"""


def log(msg):
    print(f"fetch-test-data: {msg}", file=sys.stderr, flush=True)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def main():
    want = [n for n in FILES if not os.path.isfile(os.path.join(out, n))]
    if not want and os.path.isfile(os.path.join(out, "faces", "pairs.txt")):
        log(f"ok  {len(FILES)} stand-in photos already in {out}")
        return
    os.makedirs(os.path.join(out, "faces"), exist_ok=True)
    cache = os.path.join(root, "target", "test-data", "packages")
    os.makedirs(cache, exist_ok=True)
    for package, spec in PACKAGES.items():
        path = os.path.join(cache, package)
        if os.path.isfile(path) and sha256(open(path, "rb").read()) == spec["sha256"]:
            continue
        with tempfile.TemporaryDirectory(prefix="vouch-test-data-") as tmp:
            log(f"downloading {package}")
            cmd = spec["fetch"] + (["--dest", tmp] if spec["fetch"][0] == sys.executable else [])
            r = subprocess.run(cmd, cwd=tmp, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            got = os.path.join(tmp, package)
            if r.returncode != 0 or not os.path.isfile(got):
                sys.exit(f"fetch-test-data: ERROR: {' '.join(cmd)} failed")
            data = open(got, "rb").read()
            if sha256(data) != spec["sha256"]:
                sys.exit(f"fetch-test-data: ERROR: {package}: sha256 {sha256(data)}, expected {spec['sha256']}")
            shutil.move(got, path)
        log(f"ok  {package} (sha256 matches)")
    for package in PACKAGES:
        names = {}   # member -> the stand-in names it serves
        for name, (pkg, member, _) in FILES.items():
            if pkg == package:
                names.setdefault(member, []).append(name)
        with tarfile.open(os.path.join(cache, package), "r:gz") as tf:
            for m in tf:   # one pass over the archive
                if m.name in names:
                    data = tf.extractfile(m).read()
                    for name in names[m.name]:
                        with open(os.path.join(out, name), "wb") as f:
                            f.write(data)
    with open(os.path.join(out, "faces", "pairs.txt"), "w") as f:
        f.write(PAIRS)
    with open(os.path.join(out, "SOURCES.md"), "w") as f:
        f.write("# Stand-in test photos (scripts/fetch_test_data.py)\n\n| file | from | the tests may assume |\n|---|---|---|\n")
        for name, (package, member, what) in FILES.items():
            f.write(f"| {name} | {PACKAGES[package]['source']}: `{member}` | {what} |\n")
    log(f"ok  {len(FILES)} stand-in photos written to {out}")


main()
