#!/usr/bin/env python3
"""Compares a run-clients.sh result file with a committed baseline of checks that pass.

    conformance/check-baseline.py RESULTS BASELINE            # exit 1 on any regression
    conformance/check-baseline.py RESULTS BASELINE --update   # rewrite BASELINE from RESULTS

RESULTS is any file of `== script` headers and `PASS name` / `FAIL name: why` / `SKIP name` lines:
run-clients.sh's, s3s-e2e.sh's or s3tests.sh's.

A baseline line is `script<TAB>check`: a check that passed when the baseline was written and must
keep passing. Lines starting with `#` are comments; a failing check may be listed as
`# script<TAB>check<TAB>reason` to say why it does not pass yet. A check that passes but is not in
the baseline is reported as an improvement (the baseline only moves up: --update takes it in).
--update keeps the header comment and the reasons already written for checks that still fail; a
newly failing check gets the reason `fails` until someone writes one.
"""
import re
import sys


def parse_results(path):
    """{(script, check): status} from a run-clients.sh results file."""
    out = {}
    script = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("== "):
                script = line[3:].strip()
                continue
            # "PASS name", "FAIL name: why" (names may hold spaces, not ": ").
            m = re.match(r"^(PASS|FAIL|SKIP) (.+?)(?:: .*)?$", line)
            if m and script:
                key = (script, m.group(2))
                # A check that failed anywhere in the run counts as failed.
                if out.get(key) != "FAIL":
                    out[key] = m.group(1)
    return out


def parse_reasons(path):
    """{(script, check): reason} of the failing checks commented in an existing baseline, and its
    leading comment block (the header)."""
    reasons, header, in_header = {}, [], True
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                parts = line[2:].split("\t") if line.startswith("# ") else []
                if len(parts) >= 3:
                    reasons[(parts[0], parts[1])] = parts[2]
                    in_header = False
                elif in_header and line.startswith("#"):
                    header.append(line)
                else:
                    in_header = False
    except FileNotFoundError:
        pass
    return reasons, header


def parse_baseline(path):
    keep = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line.strip() or line.startswith("#"):
                    continue
                parts = line.split("\t")
                if len(parts) >= 2:
                    keep.append((parts[0], parts[1]))
    except FileNotFoundError:
        pass
    return keep


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    update = "--update" in sys.argv
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    results_path, baseline_path = args
    try:
        results = parse_results(results_path)
    except FileNotFoundError:
        print(f"check-baseline: {results_path} does not exist (the run did not happen)", file=sys.stderr)
        return 2
    if not results:
        print(f"check-baseline: no PASS/FAIL lines in {results_path}", file=sys.stderr)
        return 2
    if update:
        reasons, header = parse_reasons(baseline_path)
        if not header:
            header = [
                "# Checks of conformance/run-clients.sh that pass and must keep passing.",
                "# Written by conformance/check-baseline.py --update; failing checks as comments.",
            ]
        with open(baseline_path, "w", encoding="utf-8") as f:
            for line in header:
                f.write(line + "\n")
            for (script, check), status in sorted(results.items()):
                if status == "PASS":
                    f.write(f"{script}\t{check}\n")
                elif status == "FAIL":
                    reason = reasons.get((script, check), "fails")
                    f.write(f"# {script}\t{check}\t{reason}\n")
        print(f"check-baseline: wrote {baseline_path}")
        return 0

    baseline = parse_baseline(baseline_path)
    regressions = [k for k in baseline if results.get(k) != "PASS"]
    known = set(baseline)
    improvements = sorted(k for k, v in results.items() if v == "PASS" and k not in known)
    for script, check in regressions:
        print(f"REGRESSION {script} {check}: {results.get((script, check), 'not run')}")
    for script, check in improvements:
        print(f"IMPROVED   {script} {check} (not in the baseline yet)")
    passed = sum(1 for v in results.values() if v == "PASS")
    print(
        f"check-baseline: {passed} of {len(results)} checks pass; baseline {len(baseline)}, "
        f"{len(regressions)} regressions, {len(improvements)} improvements"
    )
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
