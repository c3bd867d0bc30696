#!/usr/bin/env python3
"""Runs PassportEye's read_mrz over the MRZ documents of DIR/expected.json and prints a JSON
summary in the same shape as `vouch doc eval DIR --json`.

    passporteye_eval.py DIR [--limit N]

Counting:
  documents   entries of expected.json whose format is an MRZ format (AAMVA entries are skipped
              and listed under "skipped")
  read        read_mrz returned an MRZ whose `valid` is true: every check digit holds, and
              (PassportEye's own rule) each line has its exact length and the first letter fits
  checkDigitsOk  read_mrz returned an MRZ whose check digits all hold, whatever the lengths
  fields      per field of expected.json (format, documentCode, issuingCountry, documentNumber,
              surname, givenNames, nationality, dateOfBirth, sex, expiryDate, personalNumber),
              over every document that has the field; a document with no MRZ found counts as
              wrong on each of its fields
  msPerDocument  wall time of each read_mrz call (file decode included), one at a time

Normalisation, applied to both sides: upper case, '<' to space, runs of spaces collapsed,
trimmed; dates YYMMDD to YYYY-MM-DD with birth in the past and expiry within 50 years of today;
an unspecified sex ('<' or empty) is X; MRVA/MRVB are spelled MRV-A/MRV-B.
"""

import argparse
import datetime as dt
import importlib.metadata as md
import json
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # Tesseract on one thread, like one request

FIELDS = ["format", "documentCode", "issuingCountry", "documentNumber", "surname", "givenNames",
          "nationality", "dateOfBirth", "sex", "expiryDate", "personalNumber"]
MRZ_FORMATS = {"TD1", "TD2", "TD3", "MRV-A", "MRV-B"}


def norm_text(v):
    if v is None:
        return ""
    return " ".join(str(v).upper().replace("<", " ").split())


def yymmdd(v, birth):
    v = (v or "").strip()
    if len(v) != 6 or not v.isdigit():
        return norm_text(v)
    yy, mm, dd = int(v[:2]), int(v[2:4]), int(v[4:])
    today = dt.date.today()
    year = 2000 + yy
    if birth:
        try:
            if dt.date(year, mm, dd) > today:
                year -= 100
        except ValueError:
            return v
    elif year > today.year + 50:
        year -= 100
    try:
        return dt.date(year, mm, dd).isoformat()
    except ValueError:
        return v


def norm_sex(v):
    v = norm_text(v)
    return v if v in ("M", "F") else "X"


def from_passporteye(d):
    """PassportEye's to_dict() in expected.json's field names, normalised."""
    fmt = {"MRVA": "MRV-A", "MRVB": "MRV-B"}.get(d.get("mrz_type"), d.get("mrz_type") or "")
    out = {
        "format": fmt,
        "documentCode": norm_text(d.get("type")),
        "issuingCountry": norm_text(d.get("country")),
        "documentNumber": norm_text(d.get("number")),
        "surname": norm_text(d.get("surname")),
        "givenNames": norm_text(d.get("names")),
        "nationality": norm_text(d.get("nationality")),
        "dateOfBirth": yymmdd(d.get("date_of_birth"), birth=True),
        "sex": norm_sex(d.get("sex")),
        "expiryDate": yymmdd(d.get("expiration_date"), birth=False),
    }
    if fmt == "TD3":
        out["personalNumber"] = norm_text(d.get("personal_number"))
    return out


def norm_expected(e):
    out = {}
    for f in FIELDS:
        if f in e:
            out[f] = norm_sex(e[f]) if f == "sex" else (e[f] if f in ("dateOfBirth", "expiryDate") else norm_text(e[f]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--limit", type=int, default=0, help="only the first N MRZ documents")
    args = ap.parse_args()

    from passporteye import read_mrz  # imported here so --help works without the venv
    import pytesseract

    with open(os.path.join(args.dir, "expected.json")) as f:
        expected = json.load(f)
    names = [n for n, e in expected.items() if e.get("format") in MRZ_FORMATS]
    skipped = [n for n in expected if n not in names]
    if args.limit:
        names = names[: args.limit]

    fields = {f: {"correct": 0, "total": 0} for f in FIELDS}
    times, failures, per_doc = [], [], []
    read = 0
    check_ok = 0
    for i, name in enumerate(names, 1):
        want = norm_expected(expected[name])
        start = time.perf_counter()
        try:
            mrz = read_mrz(os.path.join(args.dir, name))
            error = None
        except Exception as e:  # a crash on one photo is a failure to read it
            mrz, error = None, f"{type(e).__name__}: {e}"
        ms = (time.perf_counter() - start) * 1000.0
        times.append(ms)
        got = from_passporteye(mrz.to_dict()) if mrz is not None else {}
        valid = bool(mrz is not None and mrz.valid)
        read += valid
        digits_ok = bool(mrz is not None and mrz.mrz_type is not None and all(mrz.valid_check_digits))
        check_ok += digits_ok
        wrong = []
        for f, v in want.items():
            fields[f]["total"] += 1
            if got.get(f) == v:
                fields[f]["correct"] += 1
            else:
                wrong.append(f)
        if not valid:
            failures.append(name)
        doc = {"name": name, "read": valid, "checkDigitsOk": digits_ok, "found": mrz is not None,
               "ms": round(ms, 1), "wrongFields": wrong}
        if error:
            doc["error"] = error
        per_doc.append(doc)
        print(f"[passporteye] {i}/{len(names)} {name}: {'read' if valid else 'not read'}, "
              f"{len(wrong)} wrong fields, {ms:.0f} ms", file=sys.stderr)

    for f in list(fields):
        t = fields[f]
        if t["total"] == 0:
            del fields[f]
        else:
            t["accuracy"] = t["correct"] / t["total"]
    correct = sum(t["correct"] for t in fields.values())
    total = sum(t["total"] for t in fields.values())
    n = len(names)
    result = {
        "tool": "passporteye",
        "version": f"PassportEye {md.version('PassportEye')}, Tesseract {pytesseract.get_tesseract_version()}",
        "dir": os.path.abspath(args.dir),
        "documents": n,
        "read": read,
        "readRate": read / n if n else 0.0,
        "checkDigitsOk": check_ok,
        "fields": fields,
        "fieldAccuracy": correct / total if total else 0.0,
        "msPerDocument": {"p50": statistics.median(times) if times else 0.0,
                          "mean": statistics.fmean(times) if times else 0.0},
        "failures": failures,
        "skipped": skipped,
        "threads": os.environ.get("OMP_THREAD_LIMIT"),
        "perDocument": per_doc,
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
