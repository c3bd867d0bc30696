#!/usr/bin/env bash
# Side by side on the same labelled pairs, in one run: vouch's face engine and
# face_recognition (dlib). Prints a JSON summary and writes it to bench/compare/side-by-side.json.
#   bench/compare/run.sh [PAIRS] [IMAGES]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pairs=${1:-$root/../shared/eval/faces/pairs.txt}
images=${2:-$root/../shared/eval/faces}
"$here/setup.sh" >&2
"$root/scripts/fetch-models.sh" >&2
(cd "$root" && cargo build --release -q -p vouch)
echo "running vouch face eval" >&2
VOUCH_MODELS_DIR="$root/models" "$root/target/release/vouch" face eval --pairs "$pairs" --images "$images" >"$here/vouch-result.json"
echo "running face_recognition" >&2
"$here/.venv/bin/python" "$here/face_recognition_eval.py" --pairs "$pairs" --images "$images" >"$here/face_recognition-result.json"
python3 - "$here" <<'PY'
import json, sys
here = sys.argv[1]
v = json.load(open(f"{here}/vouch-result.json"))
f = json.load(open(f"{here}/face_recognition-result.json"))
def row(d, name):
    s = d["summary"]
    return {"engine": name, "pairs": len(d["pairs"]), "threshold": s["threshold"], "accuracy": s["accuracy"],
            "auc": s["auc"], "tarAtFar0.01": s["tarAtFar"]["0.01"]["tar"] if isinstance(s["tarAtFar"]["0.01"], dict) else s["tarAtFar"]["0.01"],
            "msPerImageMedian": d["msPerImage"]["median"], "msPerImageMean": d["msPerImage"]["mean"]}
out = {"vouch": row(v, "vouch (MTCNN + MobileFaceNet, ONNX Runtime)"), "face_recognition": row(f, f.get("library", "face_recognition")),
       "speedupMedian": f["msPerImage"]["median"] / v["msPerImage"]["median"],
       "speedupMean": f["msPerImage"]["mean"] / v["msPerImage"]["mean"]}
json.dump(out, open(f"{here}/side-by-side.json", "w"), indent=2)
print(json.dumps(out, indent=2))
PY
