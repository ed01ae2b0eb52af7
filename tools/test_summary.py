#!/usr/bin/env python3
"""Counts test cases from meson's testlog.json: cmocka's own PASSED/FAILED
lines per program, and a program that died without them as one failure.
Prints the failures, then 'N passed, N failed[, N skipped]' as the last line.

usage: test_summary.py LOG [--prefix P LOG]... [--check NAME RC]...
  --prefix P LOG  one more testlog (the contract run's), its failures named P...
  --check NAME RC one more check run outside meson (contract_lint): RC 0 passes"""
import json
import re
import sys

passed = failed = skipped = 0
failures = []


def count_log(path, prefix):
    global passed, failed, skipped
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            t = json.loads(line)
            name = prefix + t["name"]
            out = t.get("stdout") or ""
            # cmocka writes one line per case on stdout: "[       OK ] name" or
            # "[  FAILED  ] name"; its totals go to stderr.
            ok = re.findall(r"^\[       OK \] (\S+)", out, re.M)
            bad = re.findall(r"^\[  FAILED  \] (\S+)$", out, re.M)
            skip = re.findall(r"^\[  SKIPPED \] (\S+)$", out, re.M)
            passed += len(ok)
            skipped += len(skip)
            failed += len(bad)
            failures.extend("%s: %s" % (name, b) for b in bad)
            if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL") and not bad:
                failed += 1
                failures.append("%s (%s, exit %s)" % (name, t["result"], t.get("returncode")))
            elif t["result"] == "SKIP" and not ok and not bad:
                skipped += 1


args = sys.argv[1:]
count_log(args.pop(0), "")
while args:
    opt = args.pop(0)
    if opt == "--prefix" and len(args) >= 2:
        prefix, path = args.pop(0), args.pop(0)
        try:
            count_log(path, prefix)
        except OSError:
            failed += 1
            failures.append("%s(no test log: %s)" % (prefix, path))
    elif opt == "--check" and len(args) >= 2:
        name, rc = args.pop(0), args.pop(0)
        if rc == "0":
            passed += 1
        else:
            failed += 1
            failures.append("%s (exit %s)" % (name, rc))
    else:
        sys.exit("test_summary.py: bad arguments near %s" % opt)
for name in failures:
    print("FAILED: " + name)
tail = ", %d skipped" % skipped if skipped else ""
print("%d passed, %d failed%s" % (passed, failed, tail))
