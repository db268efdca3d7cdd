#!/usr/bin/env python3
"""Read-after-write consistency across gateway instances, each pair of requests sent to two
DIFFERENT instances addressed directly (no balancer in between):

- PAIRS (1000) PUT-then-GET/HEAD/LIST pairs: PutObject on one instance, then GetObject (same
  bytes), HeadObject (same length and ETag) and ListObjectsV2 with the key as prefix (key listed,
  same size) on another;
- DELETE_PAIRS (200) DELETE-then-LIST/HEAD pairs: DeleteObject on one, then the key must be gone
  from ListObjectsV2 and HeadObject must answer 404 on another;
- WEBDAV_PAIRS (50) WebDAV PUT on one, then PROPFIND Depth 1 of the collection on another lists it;
- WebDAV LOCK taken on one: a PUT without the token on another is refused with 423, a PUT with
  the token (If header) on a third succeeds, UNLOCK on another frees it.

Every instance's cache is warmed first (the folders listed through each), so a stale listing
shows up as a stale answer. A stale answer is a read that does not show the write; an error is
any other failure (5xx, connection). Both must be 0.

Env: CLUSTER_S3_ENDPOINTS, CLUSTER_WEBDAV_ENDPOINTS (space-separated base URLs, one per
instance, same order), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, BUCKET, WEBDAV_COLLECTION
(default Documents), RUN_ID, PAIRS, DELETE_PAIRS, WEBDAV_PAIRS, WORKERS (default 4).
Prints one PASS/FAIL line per kind (`consistency-put-get` ...) and `# ...` count lines.
"""

import base64
import hashlib
import os
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import boto3
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError

S3 = os.environ.get("CLUSTER_S3_ENDPOINTS", "").split()
DAV = os.environ.get("CLUSTER_WEBDAV_ENDPOINTS", "").split()
BUCKET = os.environ.get("BUCKET", "documents")
COLLECTION = os.environ.get("WEBDAV_COLLECTION", "Documents")
RUN_ID = os.environ.get("RUN_ID") or f"{int(time.time())}-{os.getpid()}"
PAIRS = int(os.environ.get("PAIRS", "1000"))
DELETE_PAIRS = int(os.environ.get("DELETE_PAIRS", "200"))
WEBDAV_PAIRS = int(os.environ.get("WEBDAV_PAIRS", "50"))
WORKERS = int(os.environ.get("WORKERS", "4"))
FOLDERS = 10
PREFIX = f"cluster-consistency-{RUN_ID}"


class Tally:
    """Counts per kind: pairs tried, stale answers, errors, and the first few examples."""

    def __init__(self):
        self.lock = threading.Lock()
        self.kinds = {}

    def add(self, kind, outcome, detail=""):
        with self.lock:
            k = self.kinds.setdefault(kind, {"pairs": 0, "stale": 0, "errors": 0, "examples": []})
            k["pairs"] += 1
            if outcome != "ok":
                k[outcome] += 1
                if len(k["examples"]) < 3:
                    k["examples"].append(detail)

    def report(self, kind):
        k = self.kinds.get(kind, {"pairs": 0, "stale": 0, "errors": 0, "examples": []})
        print(f"# {kind}: {k['pairs']} pairs, {k['stale']} stale, {k['errors']} errors", flush=True)
        for e in k["examples"]:
            print(f"#   e.g. {e}", flush=True)
        if k["pairs"] == 0:
            print(f"FAIL consistency-{kind}: no pair ran", flush=True)
            return False
        if k["stale"] or k["errors"]:
            print(f"FAIL consistency-{kind}: {k['stale']} stale, {k['errors']} errors of {k['pairs']}", flush=True)
            return False
        print(f"PASS consistency-{kind}", flush=True)
        return True


def s3_client(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            max_pool_connections=WORKERS * 2,
        ),
    )


def pair_of(k, n):
    """(writer, reader): two different instances, every ordered pair used in turn."""
    a = k % n
    b = (a + 1 + (k // n) % (n - 1)) % n
    return a, b


def code_of(e):
    return e.response.get("Error", {}).get("Code") or str(e.response["ResponseMetadata"]["HTTPStatusCode"])


def key_of(k):
    return f"{PREFIX}/d{k % FOLDERS}/k{k:05d}.bin"


def body_of(k):
    return hashlib.sha256(f"{RUN_ID}/{k}".encode()).digest() * (1 + k % 7)


def put_pair(clients, tally, k):
    a, b = pair_of(k, len(clients))
    key, body = key_of(k), body_of(k)
    where = f"{key} put on #{a + 1}, read on #{b + 1}"
    try:
        etag = clients[a].put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"]
    except Exception as e:  # the write itself failed: every read of this pair is an error
        for kind in ("put-get", "put-head", "put-list"):
            tally.add(kind, "errors", f"{where}: PUT {type(e).__name__}: {e}")
        return
    reader = clients[b]
    try:
        got = reader.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        if got == body:
            tally.add("put-get", "ok")
        else:
            tally.add("put-get", "stale", f"{where}: GET {len(got)} bytes, not the {len(body)} written")
    except ClientError as e:
        c = code_of(e)
        tally.add("put-get", "stale" if c in ("NoSuchKey", "404") else "errors", f"{where}: GET {c}")
    except Exception as e:
        tally.add("put-get", "errors", f"{where}: GET {type(e).__name__}: {e}")
    try:
        h = reader.head_object(Bucket=BUCKET, Key=key)
        if h["ContentLength"] == len(body) and h["ETag"] == etag:
            tally.add("put-head", "ok")
        else:
            tally.add("put-head", "stale", f"{where}: HEAD {h['ContentLength']} {h['ETag']} != {len(body)} {etag}")
    except ClientError as e:
        c = code_of(e)
        tally.add("put-head", "stale" if c in ("NoSuchKey", "404") else "errors", f"{where}: HEAD {c}")
    except Exception as e:
        tally.add("put-head", "errors", f"{where}: HEAD {type(e).__name__}: {e}")
    try:
        r = reader.list_objects_v2(Bucket=BUCKET, Prefix=key)
        sizes = {o["Key"]: o["Size"] for o in r.get("Contents", [])}
        if sizes.get(key) == len(body):
            tally.add("put-list", "ok")
        else:
            tally.add("put-list", "stale", f"{where}: LIST shows {sizes.get(key)}")
    except Exception as e:
        tally.add("put-list", "errors", f"{where}: LIST {type(e).__name__}: {e}")


def delete_pair(clients, tally, k):
    # Other orders than the PUT pairs: the reader is the instance that wrote the key, or a third.
    n = len(clients)
    a, b = pair_of(k + 1, n)
    key = key_of(k)
    where = f"{key} deleted on #{a + 1}, read on #{b + 1}"
    reader = clients[b]
    # The reader looks at the key first (its cache holds it, where it sees it), then the delete
    # goes elsewhere.
    try:
        reader.head_object(Bucket=BUCKET, Key=key)
    except Exception:
        pass
    try:
        clients[a].delete_object(Bucket=BUCKET, Key=key)
    except Exception as e:
        for kind in ("delete-list", "delete-head"):
            tally.add(kind, "errors", f"{where}: setup {type(e).__name__}: {e}")
        return
    try:
        r = reader.list_objects_v2(Bucket=BUCKET, Prefix=key)
        keys = [o["Key"] for o in r.get("Contents", [])]
        tally.add("delete-list", "stale" if key in keys else "ok", f"{where}: LIST still lists it")
    except Exception as e:
        tally.add("delete-list", "errors", f"{where}: LIST {type(e).__name__}: {e}")
    try:
        reader.head_object(Bucket=BUCKET, Key=key)
        tally.add("delete-head", "stale", f"{where}: HEAD 200")
    except ClientError as e:
        c = code_of(e)
        tally.add("delete-head", "ok" if c in ("NoSuchKey", "404") else "errors", f"{where}: HEAD {c}")
    except Exception as e:
        tally.add("delete-head", "errors", f"{where}: HEAD {type(e).__name__}: {e}")


class Dav:
    def __init__(self):
        user = os.environ.get("AWS_ACCESS_KEY_ID", "")
        pw = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
        self.auth = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
        self.http = urllib3.PoolManager(maxsize=WORKERS * 2, retries=False, timeout=60)

    def req(self, i, method, path, body=None, headers=None):
        h = {"Authorization": self.auth}
        h.update(headers or {})
        url = DAV[i].rstrip("/") + "/" + urllib.parse.quote(path.lstrip("/"))
        return self.http.request(method, url, body=body, headers=h, redirect=False)


def propfind_names(dav, i, coll):
    r = dav.req(i, "PROPFIND", coll + "/", headers={"Depth": "1", "Content-Type": "application/xml"})
    return r.status, r.data.decode("utf-8", "replace")


def webdav_pairs(dav, tally):
    n = len(DAV)
    coll = f"{COLLECTION}/{PREFIX}/dav"
    r = dav.req(0, "MKCOL", coll + "/")
    if r.status not in (201, 405):
        tally.add("webdav-put-propfind", "errors", f"MKCOL {coll} on #1: {r.status}")
        return
    for i in range(n):  # warm every instance's listing of the collection
        propfind_names(dav, i, coll)
    for k in range(WEBDAV_PAIRS):
        a, b = pair_of(k, n)
        name = f"f{k:04d}.txt"
        where = f"{coll}/{name} put on #{a + 1}, PROPFIND on #{b + 1}"
        r = dav.req(a, "PUT", f"{coll}/{name}", body=f"webdav {k}\n".encode())
        if r.status == 409:  # the writer does not see the collection made on another instance
            tally.add("webdav-put-propfind", "stale", f"{where}: PUT 409 (collection not seen)")
            continue
        if r.status not in (200, 201, 204):
            tally.add("webdav-put-propfind", "errors", f"{where}: PUT {r.status}")
            continue
        status, text = propfind_names(dav, b, coll)
        if status != 207:
            tally.add("webdav-put-propfind", "stale" if status == 404 else "errors", f"{where}: PROPFIND {status}")
        elif name in text:
            tally.add("webdav-put-propfind", "ok")
        else:
            tally.add("webdav-put-propfind", "stale", f"{where}: not listed")


def webdav_locks(dav, tally):
    n = len(DAV)
    lock_body = (
        b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
        b"<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
        b"<D:owner>cluster consistency</D:owner></D:lockinfo>"
    )
    for rnd in range(n):
        a, b, c = rnd % n, (rnd + 1) % n, (rnd + 2) % n
        # In the share's top collection, which every instance knows: only the lock is shared.
        path = f"{COLLECTION}/{PREFIX}-locked-{rnd}.txt"
        where = f"{path} locked on #{a + 1}"
        r = dav.req(a, "PUT", path, body=b"before the lock\n")
        if r.status not in (200, 201, 204):
            tally.add("webdav-lock-refused", "errors", f"{where}: PUT {r.status}")
            continue
        r = dav.req(a, "LOCK", path, body=lock_body,
                    headers={"Timeout": "Second-120", "Depth": "0", "Content-Type": "application/xml"})
        token = r.headers.get("Lock-Token", "").strip()
        if r.status != 200 or not token:
            tally.add("webdav-lock-refused", "errors", f"{where}: LOCK {r.status} token {token!r}")
            continue
        r = dav.req(b, "PUT", path, body=b"without the token\n")
        tally.add("webdav-lock-refused", "ok" if r.status == 423 else "stale",
                  f"{where}: PUT without the token on #{b + 1}: {r.status}")
        url = DAV[c].rstrip("/") + "/" + urllib.parse.quote(path)
        r = dav.req(c, "PUT", path, body=b"with the token\n", headers={"If": f"<{url}> ({token})"})
        tally.add("webdav-lock-token", "ok" if r.status in (200, 201, 204) else "stale",
                  f"{where}: PUT with the token on #{c + 1}: {r.status}")
        r = dav.req(b, "UNLOCK", path, headers={"Lock-Token": token})
        unlocked = r.status == 204
        r2 = dav.req(c, "PUT", path, body=b"after the unlock\n")
        tally.add("webdav-unlock", "ok" if unlocked and r2.status in (200, 201, 204) else "stale",
                  f"{where}: UNLOCK on #{b + 1}: {r.status}, then PUT on #{c + 1}: {r2.status}")


def cleanup(clients, dav):
    for rnd in range(len(DAV)):
        try:
            dav.req(rnd % len(DAV), "DELETE", f"{COLLECTION}/{PREFIX}-locked-{rnd}.txt")
        except Exception:
            pass
    try:
        s3 = clients[0]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX + "/"):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys, "Quiet": True})
    except Exception as e:
        print(f"# cleanup of {PREFIX}/ failed: {type(e).__name__}: {e}")


def main():
    if len(S3) < 2 or len(DAV) != len(S3):
        print("FAIL setup: CLUSTER_S3_ENDPOINTS and CLUSTER_WEBDAV_ENDPOINTS need 2+ instances each")
        return 2
    clients = [s3_client(e) for e in S3]
    tally = Tally()
    print(f"# {len(S3)} instances; {PAIRS} put pairs, {DELETE_PAIRS} delete pairs, "
          f"{WEBDAV_PAIRS} WebDAV pairs, {WORKERS} workers; prefix {PREFIX}/", flush=True)
    start = time.monotonic()
    # Warm every instance's listings of the folders the pairs write into.
    for c in clients:
        for f in range(FOLDERS):
            try:
                c.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/d{f}/")
            except Exception:
                pass
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda k: put_pair(clients, tally, k), range(PAIRS)))
    t_put = time.monotonic() - start
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda k: delete_pair(clients, tally, k), range(min(DELETE_PAIRS, PAIRS))))
    t_del = time.monotonic() - start - t_put
    dav = Dav()
    try:
        webdav_pairs(dav, tally)
        webdav_locks(dav, tally)
    except Exception as e:
        tally.add("webdav-put-propfind", "errors", f"{type(e).__name__}: {e}")
    t_dav = time.monotonic() - start - t_put - t_del
    print(f"# wall time: put pairs {t_put:.1f} s, delete pairs {t_del:.1f} s, WebDAV {t_dav:.1f} s", flush=True)
    ok = True
    for kind in ("put-get", "put-head", "put-list", "delete-list", "delete-head",
                 "webdav-put-propfind", "webdav-lock-refused", "webdav-lock-token", "webdav-unlock"):
        ok = tally.report(kind) and ok
    total = sum(k["stale"] for k in tally.kinds.values())
    print(f"# stale answers in total: {total}", flush=True)
    cleanup(clients, dav)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
