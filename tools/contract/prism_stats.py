#!/usr/bin/env python3
"""What the contract run checked: per test program, the exchanges Prism
validated, the requests it refused (and the server refused too), the
requests sent straight to the server, Prism's start-up time and the
program's duration; read from the harness's lines in meson's testlog.

usage: prism_stats.py build-test/meson-logs/testlog-prism.json"""
import json
import re
import sys

DONE = re.compile(r"harness: Prism checked (\d+) exchanges; (\d+) refused .*?; (\d+) sent straight")
START = re.compile(r"harness: Prism checks .* \(started in ([0-9.]+) s\)")

rows = []
with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
    for line in f:
        t = json.loads(line)
        err = t.get("stderr") or ""
        done = DONE.search(err)
        start = START.search(err)
        name = t["name"].split(" / ")[-1]
        if done:
            rows.append((name, *map(int, done.groups()), float(start.group(1)) if start else 0.0, t["duration"]))
        else:
            rows.append((name, 0, 0, 0, 0.0, t["duration"]))
print("%-26s %8s %8s %8s %8s %8s" % ("contract run", "checked", "refused", "direct", "prism s", "total s"))
for r in sorted(rows):
    print("%-26s %8d %8d %8d %8.1f %8.1f" % r)
tot = [sum(r[i] for r in rows) for i in range(1, 6)]
print("%-26s %8d %8d %8d %8.1f %8.1f" % ("all", *tot))
