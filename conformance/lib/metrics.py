#!/usr/bin/env python3
"""Upstream call counts from the gateway's admin /metrics.

    metrics.py snapshot ADMIN_URL > FILE
    metrics.py diff BEFORE AFTER FILES [MAX_OTHER_PER_FILE]

`diff` prints one `key=value` per line: uploads (POST /api/v1/files and upload sessions),
listings, feed (change-feed polls), other (every call that is not an upload, feed polls
included), other_per_file, status_429, paced. With MAX_OTHER_PER_FILE it exits 1 when
other_per_file exceeds it.
"""
import json
import re
import sys
import urllib.request

LINE = re.compile(
    r'^scaidrive_gateway_upstream_requests_total\{method="([^"]*)",endpoint="([^"]*)",status="([^"]*)"\} (\d+)$'
)


def snapshot(admin):
    text = urllib.request.urlopen(admin.rstrip("/") + "/metrics", timeout=30).read().decode()
    calls = []
    paced = 0
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            calls.append([m.group(1), m.group(2), m.group(3), int(m.group(4))])
        elif line.startswith("scaidrive_gateway_upstream_paced_total "):
            paced = int(line.split()[1])
    return {"calls": calls, "paced": paced}


def totals(snap):
    out = {}
    for method, endpoint, status, n in snap["calls"]:
        key = (method, endpoint, status)
        out[key] = out.get(key, 0) + n
    return out


def main():
    if sys.argv[1] == "snapshot":
        json.dump(snapshot(sys.argv[2]), sys.stdout)
        return 0
    before, after = (json.load(open(p)) for p in sys.argv[2:4])
    files = int(sys.argv[4])
    limit = float(sys.argv[5]) if len(sys.argv) > 5 else None
    b, a = totals(before), totals(after)
    delta = {k: n - b.get(k, 0) for k, n in a.items() if n - b.get(k, 0) > 0}
    uploads = sum(
        n for (m, e, s), n in delta.items()
        if s.startswith("2") and m == "POST" and e in ("/api/v1/files", "/api/v1/uploads")
    )
    listings = sum(n for (m, e, _), n in delta.items() if e.endswith("/children"))
    feed = sum(n for (m, e, _), n in delta.items() if e == "/api/v1/sync/changes")
    total = sum(delta.values())
    other = total - uploads
    per_file = other / files if files else 0.0
    print(f"uploads={uploads}")
    print(f"listings={listings}")
    print(f"feed={feed}")
    print(f"other={other}")
    print(f"other_per_file={per_file:.3f}")
    print(f"status_429={sum(n for (_, _, s), n in delta.items() if s == '429')}")
    print(f"paced={after['paced'] - before['paced']}")
    for (m, e, s), n in sorted(delta.items()):
        print(f"# {m} {e} {s}: {n}")
    if limit is not None and per_file > limit:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
