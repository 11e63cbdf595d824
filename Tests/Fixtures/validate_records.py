#!/usr/bin/env python3
"""Validate uasense NDJSON records against docs/detection-record.schema.json with the reference
Python implementation of JSON Schema (`pip install jsonschema`), draft 2020-12, formats checked.

  validate_records.py SCHEMA FILE.ndjson...

Checks the schema against the draft 2020-12 metaschema first (exit 2 if it is not valid), then
every line of every file. Prints one JSON object:
  {"records": N, "by_kind": {"remote_id": n, "track/update": n, "track/lost": n, ...},
   "invalid": [{"file": F, "line": L, "keywords": [...], "paths": [...], "message": M}, ...]}
and exits 0; the caller decides what the counts mean (the Swift tests expect some files to be
entirely valid and others — hand-broken records — to be entirely invalid).
"""
import json
import sys

import jsonschema
from jsonschema import Draft202012Validator


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    try:
        Draft202012Validator.check_schema(schema)
    except jsonschema.exceptions.SchemaError as error:
        print(f"schema is not valid draft 2020-12: {error.message}", file=sys.stderr)
        sys.exit(2)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    records = 0
    by_kind = {}
    invalid = []
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                records += 1
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    invalid.append({"file": path, "line": number, "keywords": ["json"], "paths": [],
                                    "message": str(error)})
                    continue
                kind = record.get("kind", "?") if isinstance(record, dict) else "?"
                if kind == "track":
                    kind += "/" + str(record.get("event", "?"))
                by_kind[kind] = by_kind.get(kind, 0) + 1
                errors = list(validator.iter_errors(record))
                if errors:
                    invalid.append({
                        "file": path, "line": number,
                        # The keyword that failed; a `false` schema (a field forbidden here) reports as "false".
                        "keywords": sorted({str(e.validator) if e.validator is not None else "false" for e in errors}),
                        "paths": sorted({"/".join(str(p) for p in e.absolute_path) for e in errors}),
                        "message": "; ".join(e.message for e in errors)[:500],
                    })
    print(json.dumps({"records": records, "by_kind": by_kind, "invalid": invalid}))


if __name__ == "__main__":
    main()
