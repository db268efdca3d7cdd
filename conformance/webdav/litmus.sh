#!/usr/bin/env bash
# litmus 0.13 (all suites: basic copymove props locks http) against a WebDAV endpoint with -k (keep
# going). litmus exits 0 even when tests fail, so its `summary for` lines are read instead: one
# PASS/FAIL line per test and per suite, and conformance/results/litmus.txt gets passed/failed/skipped per suite
# plus the names of failing and skipped tests. Exit 1 if any suite had a failure or no summary.
# Env: WEBDAV_URL (a collection the scripts may write under; litmus uses WEBDAV_URL/litmus/)
#      WEBDAV_USER WEBDAV_PASS [LITMUS_TESTS="basic copymove props locks http"] [RESULTS_DIR]
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env WEBDAV_URL WEBDAV_USER WEBDAV_PASS
require_cmd litmus python3

suites="${LITMUS_TESTS:-basic copymove props locks http}"
results="${RESULTS_DIR:-$CONF_DIR/results}"
mkdir -p "$results"
out="$results/litmus.txt"
raw="$results/litmus.log"

# litmus writes debug.log into its working directory.
(cd "$WORK" && TESTS="$suites" timeout 900 litmus -k "${WEBDAV_URL%/}/" "$WEBDAV_USER" "$WEBDAV_PASS") >"$raw" 2>&1 \
    || echo "# litmus exited with $?" >>"$raw"
cp "$WORK/debug.log" "$results/litmus-debug.log" 2>/dev/null || true

python3 - "$raw" "$out" "$WEBDAV_URL" $suites <<'PY'
import re, sys
raw, out, url, suites = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
text = open(raw, encoding="utf-8", errors="replace").read().replace("\r", "\n")
def blank():
    return {"summary": None, "failed": [], "skipped": [], "results": {}}
per = {s: blank() for s in suites}
current = None
# litmus prints "N. name...... " before a test and its result after the dots, sometimes on a later
# line (after a WARNING); a long name leaves no dots before the result, so the last test label seen owns the next result. A name can recur in a
# suite (locks runs some tests twice), so results are keyed "N-name".
token = re.compile(r"-> running `([^']+)'|<- summary for `([^']+)': of (\d+) tests run: (\d+) passed, (\d+) failed"
                   r"|(\d+)\. (\w+)(?=[. ])|(?:\.+ | )(pass|FAIL|SKIPPED)\b( \([^\n]*)?")
test = None
for m in token.finditer(text):
    if m.group(1):
        current, test = m.group(1), None
        per.setdefault(current, blank())
    elif m.group(2):
        per.setdefault(m.group(2), blank())
        per[m.group(2)]["summary"] = (int(m.group(3)), int(m.group(4)), int(m.group(5)))
    elif m.group(7):
        test = (m.group(6), m.group(7))
    elif m.group(8) and current is not None and test is not None:
        num, name = test
        res, why = m.group(8), (m.group(9) or "").strip()
        per[current]["results"][f"{num}-{name}"] = (res, why)
        if res != "pass":
            entry = f"{num}. {name}{(' ' + why) if why else ''}"
            per[current]["failed" if res == "FAIL" else "skipped"].append(entry)
        test = None

lines = [f"litmus against {url}", ""]
ok = True
total = [0, 0, 0, 0]
for s in per:
    d = per[s]
    if d["summary"] is None:
        ok = False
        lines.append(f"{s}: NO SUMMARY (suite aborted or did not run)")
        print(f"FAIL litmus-{s}: no summary line")
        continue
    for name, (res, why) in d["results"].items():
        if res == "pass":
            print(f"PASS litmus-{s}/{name}")
        elif res == "FAIL":
            print(f"FAIL litmus-{s}/{name}: {why or 'failed'}")
        else:
            print(f"SKIP litmus-{s}/{name}: {why or 'skipped'}")
    run, passed, failed = d["summary"]
    skipped = len(d["skipped"])
    total = [total[0] + run, total[1] + passed, total[2] + failed, total[3] + skipped]
    lines.append(f"{s}: {passed} passed, {failed} failed, {skipped} skipped (of {run} run)")
    for f in d["failed"]:
        lines.append(f"  FAIL {f}")
    for f in d["skipped"]:
        lines.append(f"  SKIPPED {f}")
    if failed:
        ok = False
        print(f"FAIL litmus-{s}: {passed}/{run} passed, {failed} failed ({', '.join(x.split(' (')[0] for x in d['failed'])})")
    else:
        print(f"PASS litmus-{s}: {passed}/{run} passed, {skipped} skipped")
lines += ["", f"total: {total[1]} passed, {total[2]} failed, {total[3]} skipped (of {total[0]} run)"]
open(out, "w", encoding="utf-8").write("\n".join(lines) + "\n")
print(f"# litmus total: {total[1]} passed, {total[2]} failed, {total[3]} skipped (of {total[0]} run); see {out}")
sys.exit(0 if ok else 1)
PY
