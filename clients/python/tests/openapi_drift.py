"""Checks the client against an OpenAPI document (the committed content/openapi.json): every
operation it calls exists with that method and the same path parameters, and the fields and
values it relies on are documented. Exits 1 naming each difference."""

import json
import re
import sys

from fox_ml.client import OPERATIONS, TERMINAL

doc = json.load(open(sys.argv[1]))
paths = doc.get("paths", {})
schemas = doc.get("components", {}).get("schemas", {})
problems = []

for op, (method, path) in OPERATIONS.items():
    item = paths.get(path)
    if item is None or method.lower() not in item:
        problems.append(f"{op}: {method} {path} is not in the document")
        continue
    documented = {p["name"] for p in item[method.lower()].get("parameters", []) if p.get("in") == "path"}
    used = set(re.findall(r"{(\w+)}", path))
    if documented != used:
        problems.append(f"{op}: path parameters {sorted(used)} vs documented {sorted(documented)}")

# Fields the client reads.
READS = {
    "JobView": ["id", "state", "error"],
    "JobList": ["jobs", "next_cursor"],
    "EventView": ["id", "kind", "data"],
    "ArtifactList": ["artifacts"],
    "ArtifactView": ["path", "size", "sha256"],
    "DatasetList": ["datasets"],
    "DatasetView": ["id", "columns", "row_count"],
    "ErrorDetail": ["code", "message", "request_id", "details"],
    "Usage": ["jobs_this_month"],
}
for name, fields in READS.items():
    props = schemas.get(name, {}).get("properties", {})
    for f in fields:
        if f not in props:
            problems.append(f"{name}.{f} is not documented")

states = schemas.get("JobState", {}).get("enum", [])
for s in TERMINAL:
    if s not in states:
        problems.append(f"JobState has no {s!r} (documented: {states})")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
