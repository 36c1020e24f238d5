"""Strict JSON checks shared by the tests: Python's parser without NaN/Infinity, node's
JSON.parse, and a validator of the JSON Schema keywords the trackers' schemas use.

    strict_load(path)        the parsed file; raises ValueError on NaN, Infinity, -Infinity
                             (json.loads accepts them by default) and on malformed JSON
    node_parse(path)         None when node's JSON.parse reads the file, else its error;
                             NO_NODE when node is not installed
    validate(schema, value)  [problems] of value against a JSON Schema (draft-07 subset:
                             type, properties, patternProperties, additionalProperties,
                             required, items, minItems, minLength, maxLength)
"""

import json
import re
import shutil
import subprocess

NO_NODE = "node is not installed"


def _refuse(constant):
    raise ValueError(f"{constant} is not JSON (RFC 8259 has no NaN or Infinity)")


def strict_loads(text):
    return json.loads(text, parse_constant=_refuse)


# A bare constant where a JSON value starts (after : [ or ,), outside strings.
BARE = re.compile(r'[:\[,]\s*(-?Infinity|NaN)\b')


def strict_load(path):
    """The parsed file; a NaN or Infinity is a ValueError naming its line and column."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return strict_loads(text)
    except ValueError as e:
        m = BARE.search(text)
        if m is None:
            raise
        line = text.count("\n", 0, m.start(1)) + 1
        col = m.start(1) - text.rfind("\n", 0, m.start(1))
        raise ValueError(f"{e} (first at line {line} column {col}: "
                         f"{text[text.rfind(chr(10), 0, m.start(1)) + 1:m.end(1)].strip()})")


def node_parse(path):
    """None when `node -e JSON.parse(...)` reads the file, else the error it printed."""
    if shutil.which("node") is None:
        return NO_NODE
    p = subprocess.run(["node", "-e", "JSON.parse(require('fs').readFileSync(process.argv[1], "
                        "'utf8'))", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=120)
    if p.returncode == 0:
        return None
    lines = [ln for ln in p.stderr.splitlines() if "Error" in ln]
    return (lines[0] if lines else p.stderr.strip()[-300:]) or f"node exited {p.returncode}"


TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is_type(value, kind):
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, TYPES[kind])


def validate(schema, value, where="$"):
    """The problems of value against schema (empty: valid)."""
    problems = []
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(_is_type(value, k) for k in kinds):
            return [f"{where}: {type(value).__name__} {str(value)[:60]!r} is not "
                    f"{' or '.join(kinds)}"]
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{where}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{where}: longer than {schema['maxLength']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{where}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                problems += validate(schema["items"], item, f"{where}[{i}]")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{where}: {key!r} is required")
        properties = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        for key, item in value.items():
            matched = False
            if key in properties:
                matched = True
                problems += validate(properties[key], item, f"{where}.{key}")
            for pattern, sub in patterns.items():
                if re.search(pattern, key):
                    matched = True
                    problems += validate(sub, item, f"{where}[{key!r}]")
            if not matched and schema.get("additionalProperties") is False:
                problems.append(f"{where}: unexpected key {key!r}")
    return problems
