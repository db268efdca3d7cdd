#!/usr/bin/env python3
"""Turns a pytest JUnit XML report into check-baseline.py's result lines.

    conformance/lib/junit-results.py REPORT.xml

One `PASS Class.test` / `FAIL Class.test: why` / `SKIP Class.test: why` line per test, sorted by
name (a test whose call or teardown failed counts as failed), a blank line, `# failing (N): ...`,
and a last line `N passed, M failed, K skipped`.
"""
import sys
import xml.etree.ElementTree as ET

RANK = {"PASS": 0, "SKIP": 1, "FAIL": 2}


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = ET.parse(sys.argv[1]).getroot()
    tests = {}
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}.{case.get('name')}"
        status, why = "PASS", ""
        for child in case:
            if child.tag in ("failure", "error"):
                status, why = "FAIL", (child.get("message") or child.tag)
                break
            if child.tag == "skipped":
                status, why = "SKIP", (child.get("message") or "skipped")
        why = " ".join(why.split())[:300]
        # pytest reports a teardown error as a second entry for the same test.
        if name not in tests or RANK[status] > RANK[tests[name][0]]:
            tests[name] = (status, why)
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for name in sorted(tests):
        status, why = tests[name]
        counts[status] += 1
        print(f"{status} {name}{': ' + why if why else ''}")
    failing = sorted(n for n, (st, _) in tests.items() if st == "FAIL")
    print()
    print(f"# failing ({len(failing)}): {' '.join(failing)}")
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
