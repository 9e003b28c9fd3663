#!/usr/bin/python3
"""json-check.py - check pvmmu's --json output against its documentation.

Usage: json-check.py SCHEMA DOCS FILE...

SCHEMA is docs/pvmmu.schema.json, DOCS is docs/json.md.  Checks that the
field tables of DOCS name exactly the fields the schema names, then that
each FILE holds exactly one JSON document that the schema accepts, with its
fields in the documented order.  Prints one line per problem and exits 1 if
there is one.  Needs Debian's python3-jsonschema (scripts/deps.sh).
"""
import json
import re
import sys

import jsonschema


def schema_fields(node, out):
    """Every property name the schema defines, at any depth."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            out.add(name)
            schema_fields(sub, out)
        for key, sub in node.items():
            if key != "properties":
                schema_fields(sub, out)
    elif isinstance(node, list):
        for sub in node:
            schema_fields(sub, out)
    return out


def doc_fields(text):
    """The names in the first column of the field tables: rows like | `name` | ..."""
    return set(re.findall(r"^\| `([a-z_]+)` \|", text, re.M))


def order_problems(pairs, order, where):
    """Fields out of the documented order (order lists every known field once)."""
    seen = [k for k, _ in pairs if k in order]
    want = sorted(seen, key=order.index)
    return [] if seen == want else ["%s: fields in the order %s, documented %s" % (where, seen, want)]


def check_order(doc, order):
    """doc as (key, value) pairs all the way down: runs in the documented order, schema_version first."""
    problems = []
    top = dict(doc)
    if doc and doc[0][0] != "schema_version":
        problems.append("schema_version is not the first field")
    if "policies" in top:
        for i, run in enumerate(top["policies"]):
            problems += order_problems(run, order, "policies[%d]" % i)
    else:
        problems += order_problems(doc[1:], order, "top level")
    return problems


def main(argv):
    if len(argv) < 4:
        print("usage: json-check.py SCHEMA DOCS FILE...", file=sys.stderr)
        return 2
    schema = json.load(open(argv[1]))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    bad = 0
    named, documented = schema_fields(schema, set()), doc_fields(open(argv[2]).read())
    for f in sorted(named - documented):
        print("json-check: %s: field `%s` of the schema is not documented" % (argv[2], f))
        bad += 1
    for f in sorted(documented - named):
        print("json-check: %s: documents `%s`, which the schema does not define" % (argv[2], f))
        bad += 1
    order = list(schema["$defs"]["run_fields"]["properties"])
    for path in argv[3:]:
        text = open(path).read()
        try:
            doc = json.loads(text)
            pairs = json.loads(text, object_pairs_hook=lambda p: p)
        except ValueError as e:
            print("json-check: %s: not one JSON document: %s" % (path, e))
            bad += 1
            continue
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        for e in errors[:5]:
            print("json-check: %s: at /%s: %s" % (path, "/".join(map(str, e.absolute_path)), e.message[:300]))
        problems = check_order(pairs, order)
        for p in problems:
            print("json-check: %s: %s" % (path, p))
        bad += len(errors) + len(problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
