#!/usr/bin/env python3
"""Client sides of the cluster lane's fault checks (conformance/cluster.sh drives the faults).

    faults.py multipart   # one multipart upload through the balancer; pauses half-way for a kill
    faults.py traffic     # PUTs through the balancer; pauses for a PostgreSQL restart
    faults.py feed        # a file written straight into ScaiDrive, seen by every live instance

`multipart` and `traffic` create the file $FAULT_DIR/<name>.half half-way and wait (at most
60 s) for $FAULT_DIR/<name>.go, written by the lane once the fault is under way; then they go
on, with the SDK's retries, and verify: every object's SHA-256, no object missing or extra, no
multipart upload left behind.

Env: S3_ENDPOINT (the balancer), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, BUCKET, RUN_ID,
FAULT_DIR; feed: CLUSTER_S3_ENDPOINTS (the live instances), SCAIDRIVE_URL, SCAIDRIVE_TOKEN,
SHARE_NAME (default Documents), FEED_BOUND_SECS. One PASS/FAIL line per check.
"""

import hashlib
import json
import os
import sys
import time
import urllib.request
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

BUCKET = os.environ.get("BUCKET", "documents")
RUN_ID = os.environ.get("RUN_ID") or f"{int(time.time())}-{os.getpid()}"
FAULT_DIR = os.environ.get("FAULT_DIR", ".")
MIB = 1024 * 1024
failed = 0


def check(name, cond, why=""):
    global failed
    print(f"PASS {name}" if cond else f"FAIL {name}: {why}", flush=True)
    failed += 0 if cond else 1
    return cond


def client(endpoint=None, attempts=10):
    return boto3.client(
        "s3",
        endpoint_url=endpoint or os.environ["S3_ENDPOINT"],
        region_name=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        config=Config(s3={"addressing_style": "path"},
                      retries={"max_attempts": attempts, "mode": "standard"},
                      connect_timeout=5, read_timeout=120),
    )


def pause(name):
    """Signals the lane that the client is half-way and waits for the fault to be under way."""
    open(os.path.join(FAULT_DIR, f"{name}.half"), "w").close()
    go = os.path.join(FAULT_DIR, f"{name}.go")
    deadline = time.monotonic() + 60
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            check(f"{name}-fault-injected", False, "the lane never signalled the fault")
            return
        time.sleep(0.05)
    check(f"{name}-fault-injected", True)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def multipart():
    s3 = client()
    key = f"cluster-faults-{RUN_ID}/multipart.bin"
    parts_n, size = 12, 5 * MIB
    data = [os.urandom(size) for _ in range(parts_n)]
    whole = hashlib.sha256(b"".join(data)).hexdigest()
    try:
        up = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    except Exception as e:
        check("multipart-create", False, f"{type(e).__name__}: {e}")
        return
    check("multipart-create", True)
    etags, part_errors = [], []
    for i, chunk in enumerate(data, start=1):
        if i == parts_n // 3 + 1:
            pause("multipart")
        try:
            etags.append(s3.upload_part(Bucket=BUCKET, Key=key, UploadId=up, PartNumber=i, Body=chunk)["ETag"])
        except Exception as e:
            part_errors.append(f"part {i}: {type(e).__name__}: {e}")
    check("multipart-parts-uploaded", not part_errors, "; ".join(part_errors[:3]))
    try:
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key=key, UploadId=up,
            MultipartUpload={"Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, start=1)]})
        check("multipart-complete", True)
    except Exception as e:
        check("multipart-complete", False, f"{type(e).__name__}: {e}")
    try:
        got = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        check("multipart-sha256", sha(got) == whole, f"{len(got)} bytes, sha256 {sha(got)[:16]}… != {whole[:16]}…")
    except Exception as e:
        check("multipart-sha256", False, f"{type(e).__name__}: {e}")
    try:
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("Contents", [])]
        check("multipart-one-object", listed == [key], f"listed {listed}")
        left = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads", [])
        check("multipart-none-left", not left, f"{len(left)} upload(s) still listed")
    except Exception as e:
        check("multipart-one-object", False, f"{type(e).__name__}: {e}")
    try:
        s3.delete_object(Bucket=BUCKET, Key=key)
    except Exception:
        pass


def traffic():
    s3 = client()
    prefix = f"cluster-faults-{RUN_ID}/traffic/"
    n = int(os.environ.get("TRAFFIC_OBJECTS", "90"))
    sums, errors = {}, []
    for i in range(n):
        if i == n // 3:
            pause("traffic")
        key = f"{prefix}o{i:04d}.bin"
        body = os.urandom(4096 + (i * 7919) % (256 * 1024))
        try:
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            sums[key] = sha(body)
        except Exception as e:
            errors.append(f"{key}: {type(e).__name__}: {e}")
    check("traffic-puts-finish", not errors, f"{len(errors)} failed: " + "; ".join(errors[:2]))
    try:
        listed = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            listed += [o["Key"] for o in page.get("Contents", [])]
        missing = sorted(set(sums) - set(listed))
        extra = sorted(set(listed) - set(sums))
        dup = len(listed) - len(set(listed))
        check("traffic-none-lost-or-duplicated", not missing and not extra and not dup,
              f"{len(missing)} missing, {len(extra)} extra, {dup} duplicated")
    except Exception as e:
        check("traffic-none-lost-or-duplicated", False, f"{type(e).__name__}: {e}")
    bad = []
    for key, want in sums.items():
        try:
            got = sha(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
            if got != want:
                bad.append(key)
        except Exception as e:
            bad.append(f"{key} ({type(e).__name__})")
    check("traffic-sha256", sums and not bad, f"{len(bad)} of {len(sums)} differ: {bad[:3]}")
    print(f"# traffic: {len(sums)} objects written and checked", flush=True)
    try:
        keys = [{"Key": k} for k in sums]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
    except Exception:
        pass


def scaidrive(method, path, body=None, headers=None):
    url = os.environ["SCAIDRIVE_URL"].rstrip("/") + path
    h = {"Authorization": f"Bearer {os.environ['SCAIDRIVE_TOKEN']}"}
    h.update(headers or {})
    with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=h, method=method), timeout=30) as r:
        return json.loads(r.read() or b"null")


def feed():
    endpoints = os.environ.get("CLUSTER_S3_ENDPOINTS", "").split()
    bound = float(os.environ.get("FEED_BOUND_SECS", "5"))
    share_name = os.environ.get("SHARE_NAME", "Documents")
    name = f"cluster-feed-{RUN_ID}-{uuid.uuid4().hex[:8]}.txt"
    clients = [client(e, attempts=1) for e in endpoints]
    # Every live instance lists the bucket root first: its cache now holds a listing without it.
    for c in clients:
        try:
            c.list_objects_v2(Bucket=BUCKET, Delimiter="/")
        except Exception:
            pass
    try:
        shares = scaidrive("GET", "/api/v1/users/me/shares")["shares"]
        share = next(s["id"] for s in shares if s["name"] == share_name)
        boundary = uuid.uuid4().hex
        content = f"written straight into ScaiDrive {RUN_ID}\n".encode()
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"share_id\"\r\n\r\n{share}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: text/plain\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
        scaidrive("POST", "/api/v1/files", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    except Exception as e:
        check("feed-direct-write", False, f"{type(e).__name__}: {e}")
        return
    written = time.monotonic()
    check("feed-direct-write", True)
    seen = {}
    while len(seen) < len(clients) and time.monotonic() - written < bound * 3:
        for i, c in enumerate(clients):
            if i in seen:
                continue
            try:
                got = c.get_object(Bucket=BUCKET, Key=name)["Body"].read()
                if got == content:
                    seen[i] = time.monotonic() - written
            except Exception:
                pass
        time.sleep(0.1)
    for i, e in enumerate(endpoints):
        t = seen.get(i)
        print(f"# feed: instance {e} served the direct write after "
              f"{'%.1f s' % t if t is not None else 'never (%.0f s)' % (bound * 3)}", flush=True)
    late = [e for i, e in enumerate(endpoints) if seen.get(i) is None or seen[i] > bound]
    check("feed-seen-by-every-live-instance", not late, f"not within {bound:.0f} s on {late}")
    try:
        clients[0].delete_object(Bucket=BUCKET, Key=name)
    except ClientError:
        pass


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    fn = {"multipart": multipart, "traffic": traffic, "feed": feed}.get(what)
    if fn is None:
        print(__doc__)
        return 2
    fn()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
