#!/usr/bin/env python3
"""Validate every line of a JSONL file against a JSON Schema (Draft 2020-12).

    python3 scripts/validate-json.py SCHEMA.json FILE.jsonl

Prints one line per invalid line (FILE:LINE: reason) and a final "N valid, M invalid" line; exits 1
when any line is invalid, 2 on usage or schema errors. Blank lines are skipped.

Lines are read as bytes and must be strict UTF-8 JSON. Two things Python's json module would let
through are rejected, because Vigil's contracts forbid them: NaN/Infinity literals, unpaired
surrogate escapes and repeated member names (Python would silently keep the last one). `format` is checked (date-time needs the
rfc3339-validator package; a warning says when it is missing).
"""
import json
import sys

try:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match
except ImportError:
    print("validate-json: the jsonschema package is required (pip install jsonschema)", file=sys.stderr)
    sys.exit(2)


def reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def reject_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate member name {key!r}")
        seen[key] = value
    return seen


def reject_lone_surrogates(value):
    """Python accepts \\ud800 escapes that decode to no character; RFC 8259 parsers may not."""
    if isinstance(value, str):
        value.encode("utf-8", errors="strict")
    elif isinstance(value, list):
        for item in value:
            reject_lone_surrogates(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_lone_surrogates(key)
            reject_lone_surrogates(item)


def parse_line(raw):
    text = raw.decode("utf-8", errors="strict")
    value = json.loads(text, parse_constant=reject_constant, object_pairs_hook=reject_duplicates)
    reject_lone_surrogates(value)
    return value


def main(argv):
    if len(argv) != 3:
        print("usage: validate-json.py SCHEMA.json FILE.jsonl", file=sys.stderr)
        return 2
    schema_path, data_path = argv[1], argv[2]
    try:
        with open(schema_path, "rb") as handle:
            schema = json.loads(handle.read().decode("utf-8"))
        Draft202012Validator.check_schema(schema)
    except Exception as error:  # any unreadable or invalid schema is a usage error
        print(f"validate-json: bad schema {schema_path}: {error}", file=sys.stderr)
        return 2
    checker = Draft202012Validator.FORMAT_CHECKER
    if "date-time" not in checker.checkers:
        print("validate-json: warning: date-time format not checked (pip install rfc3339-validator)", file=sys.stderr)
    validator = Draft202012Validator(schema, format_checker=checker)

    valid = invalid = 0
    with open(data_path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            try:
                instance = parse_line(raw)
            except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
                print(f"{data_path}:{number}: not JSON: {error}")
                invalid += 1
                continue
            error = best_match(validator.iter_errors(instance))
            if error is None:
                valid += 1
            else:
                path = "/".join(str(part) for part in error.absolute_path) or "(root)"
                print(f"{data_path}:{number}: {path}: {error.message}")
                invalid += 1
    print(f"{valid} valid, {invalid} invalid")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
