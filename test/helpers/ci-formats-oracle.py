#!/usr/bin/env python3
"""Independent readers of kabi's CI formats, for test/audit/ci-formats.test.ts.

  junit FILE          parses the JUnit XML with Python's own XML parser (expat: a malformed
                      document fails here) and prints its suites and test cases as JSON.
  sarif SCHEMA FILE   validates the SARIF log against the SARIF 2.1.0 JSON schema with the
                      `jsonschema` package (Debian: python3-jsonschema) and prints the errors
                      as a JSON list (empty: valid).
"""
import json
import sys
import xml.etree.ElementTree as ET


def junit(path):
    root = ET.parse(path).getroot()
    suites = []
    for suite in root.findall("testsuite"):
        cases = []
        for case in suite.findall("testcase"):
            outcome = None
            for tag in ("failure", "error", "skipped"):
                found = case.find(tag)
                if found is not None:
                    outcome = {"tag": tag, "attrs": dict(found.attrib), "text": found.text or ""}
            out = case.find("system-out")
            cases.append({
                "attrs": dict(case.attrib),
                "outcome": outcome,
                "systemOut": None if out is None else (out.text or ""),
                "children": [child.tag for child in case],
            })
        props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
        suites.append({"attrs": dict(suite.attrib), "properties": props, "cases": cases})
    return {"tag": root.tag, "attrs": dict(root.attrib), "suites": suites}


def sarif(schema_path, path):
    import jsonschema

    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return [{"path": list(map(str, e.absolute_path)), "message": e.message} for e in validator.iter_errors(doc)]


if __name__ == "__main__":
    if sys.argv[1] == "junit":
        result = junit(sys.argv[2])
    elif sys.argv[1] == "sarif":
        result = sarif(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: ci-formats-oracle.py junit FILE | sarif SCHEMA FILE")
    json.dump(result, sys.stdout)
