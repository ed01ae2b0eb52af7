#!/usr/bin/env python3
"""Counts test cases from meson's testlog.json: cmocka's own PASSED/FAILED
lines per program, and a program that died without them as one failure.
Prints the failures, then 'N passed, N failed[, N skipped]' as the last line."""
import json
import re
import sys

passed = failed = skipped = 0
failures = []
with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
    for line in f:
        t = json.loads(line)
        out = t.get("stdout") or ""
        # cmocka writes one line per case on stdout: "[       OK ] name" or
        # "[  FAILED  ] name"; its totals go to stderr.
        ok = re.findall(r"^\[       OK \] (\S+)", out, re.M)
        bad = re.findall(r"^\[  FAILED  \] (\S+)$", out, re.M)
        skip = re.findall(r"^\[  SKIPPED \] (\S+)$", out, re.M)
        passed += len(ok)
        skipped += len(skip)
        failed += len(bad)
        failures += ["%s: %s" % (t["name"], b) for b in bad]
        if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL") and not bad:
            failed += 1
            failures.append("%s (%s, exit %s)" % (t["name"], t["result"], t.get("returncode")))
        elif t["result"] == "SKIP" and not ok and not bad:
            skipped += 1
for name in failures:
    print("FAILED: " + name)
tail = ", %d skipped" % skipped if skipped else ""
print("%d passed, %d failed%s" % (passed, failed, tail))
