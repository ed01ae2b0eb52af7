#!/usr/bin/env python3
"""Turns openapi/openapi.yaml into a C source holding it as JSON, so the
binary serves GET /openapi.json without reading files at run time."""
import json
import sys

import yaml

src, out = sys.argv[1], sys.argv[2]
with open(src, encoding="utf-8") as f:
    doc = yaml.safe_load(f)
data = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
with open(out, "w", encoding="ascii") as f:
    f.write("/* Generated from openapi/openapi.yaml by tools/openapi_embed.py. */\n")
    f.write("#include <stddef.h>\n")
    f.write("const char arc_openapi_json[] = {\n")
    for i in range(0, len(data), 20):
        f.write("  " + ", ".join(str(b) for b in data[i:i + 20]) + ",\n")
    f.write("  0};\n")
    f.write("const size_t arc_openapi_json_len = %d;\n" % len(data))
