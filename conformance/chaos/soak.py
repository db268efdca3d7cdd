#!/usr/bin/env python3
"""A short bounded soak against the shared gateway: four clients (two S3, two WebDAV) writing,
reading, listing and deleting for CHAOS_SOAK_SECS (default 60) seconds. Prints the gateway's RSS
every 5 s (from /proc/<pid>/status) and checks it stays under CHAOS_SOAK_RSS_MIB (default 192)
and does not keep growing (the last third's mean within 16 MiB of the middle third's)."""

import os
import threading
import time

from chaoslib import check, cred, dav, s3, sha

S3URL, DAV = os.environ["MAIN_S3"], os.environ["MAIN_DAV"]
PID = int(os.environ["MAIN_PID"])
SECS = int(os.environ.get("CHAOS_SOAK_SECS") or 60)
BOUND = int(os.environ.get("CHAOS_SOAK_RSS_MIB") or 192)
KEY, SECRET = cred("owner")
B = f"soak-{int(time.time()) % 100000}"
stop = time.monotonic() + SECS
ops, errors, wrong = [0], [], []


def rss_mib():
    with open(f"/proc/{PID}/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("VmRSS:"))) / 1024


def s3_worker(n):
    c = s3(S3URL, KEY, SECRET, retries=2)
    i = 0
    while time.monotonic() < stop:
        k, body = f"s3-{n}/{i % 20}.bin", os.urandom(1000 + (i % 7) * 50_000)
        try:
            c.put_object(Bucket=B, Key=k, Body=body)
            if sha(c.get_object(Bucket=B, Key=k)["Body"].read()) != sha(body):
                wrong.append(k)
            c.list_objects_v2(Bucket=B, Prefix=f"s3-{n}/")
            if i % 5 == 4:
                c.delete_object(Bucket=B, Key=k)
            ops[0] += 3
        except Exception as e:  # counted; the soak goes on
            errors.append(f"{type(e).__name__}: {e}"[:120])
        i += 1


def dav_worker(n):
    base = f"{DAV}/Chaos/{B}"
    i = 0
    while time.monotonic() < stop:
        url, body = f"{base}/dav-{n}-{i % 20}.bin", os.urandom(2000 + (i % 5) * 40_000)
        try:
            dav("PUT", url, KEY, SECRET, data=body)
            r = dav("GET", url, KEY, SECRET)
            if r.status_code != 200 or sha(r.content) != sha(body):
                wrong.append(url)
            dav("PROPFIND", f"{base}/", KEY, SECRET, headers={"Depth": "1"})
            if i % 5 == 4:
                dav("DELETE", url, KEY, SECRET)
            ops[0] += 3
        except Exception as e:  # counted; the soak goes on
            errors.append(f"{type(e).__name__}: {e}"[:120])
        i += 1


s3(S3URL, KEY, SECRET).create_bucket(Bucket=B)
series = [rss_mib()]
workers = [threading.Thread(target=s3_worker, args=(i,), daemon=True) for i in range(2)]
workers += [threading.Thread(target=dav_worker, args=(i,), daemon=True) for i in range(2)]
for w in workers:
    w.start()
while time.monotonic() < stop:
    time.sleep(5)
    series.append(rss_mib())
for w in workers:
    w.join(60)
series.append(rss_mib())
print(f"# soak: {SECS} s, {ops[0]} operations, {len(errors)} errors; RSS MiB every 5 s: "
      + " ".join(f"{v:.0f}" for v in series), flush=True)
check("soak-no-wrong-content", not wrong, f"{wrong[:5]}")
check("soak-few-errors", len(errors) <= ops[0] // 100, f"{len(errors)} errors: {errors[:3]}")
check("soak-rss-under-bound", max(series) < BOUND, f"peak {max(series):.0f} MiB, bound {BOUND} MiB")
third = max(1, len(series) // 3)
middle, last = series[third:2 * third], series[-third:]
growth = sum(last) / len(last) - sum(middle) / max(1, len(middle))
check("soak-rss-no-steady-growth", growth < 16, f"the last third averages {growth:.0f} MiB above the middle third")
