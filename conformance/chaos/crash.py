#!/usr/bin/env python3
"""`kill -9` of `serve` (its own gateway, embedded emulator) mid-PUT, mid-WebDAV-PUT,
mid-CompleteMultipartUpload and mid-delete, then a restart on the same data dir: nothing
half-visible, no debris (no live `… (deleted …)` names, item 10; no spool files left in
`<data_dir>/staging/webdav`, item 11), `PRAGMA integrity_check` = ok on the state DB and the
emulator's DB; and a long non-ASCII name stays usable after its delete (item 10)."""

import os
import sqlite3
import threading
import time
import urllib.parse

from botocore.exceptions import ClientError

from chaoslib import MIB, TMP, Gateway, basic, check, dav, guard, multipart_etag, raw, s3, sha, sign, wait_until

DATA = os.path.join(TMP, "data-crash")
gw = Gateway("crash", DATA)
B = "documents"


def client():
    return s3(gw.s3url, gw.key, gw.secret)


def in_background(fn):
    t = threading.Thread(target=lambda: guard("background request", fn) and None, daemon=True)
    t.start()
    return t


def status(c, key):
    try:
        c.head_object(Bucket=B, Key=key)
        return 200
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"]


def main():
    c = client()
    # Objects to delete later, and a multipart upload ready to complete.
    doomed = {f"doomed/{i:02}.bin": os.urandom(20_000) for i in range(12)}
    for k, v in doomed.items():
        c.put_object(Bucket=B, Key=k, Body=v)
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(MIB)]
    up = c.create_multipart_upload(Bucket=B, Key="crash-complete.bin", Metadata={"m": "1"})["UploadId"]
    etags = [c.upload_part(Bucket=B, Key="crash-complete.bin", UploadId=up, PartNumber=i, Body=p)["ETag"]
             for i, p in enumerate(parts, 1)]
    old = os.urandom(3000)
    c.put_object(Bucket=B, Key="crash-put-old.bin", Body=old)

    # In flight at the kill: a slow S3 PUT (new key and overwrite), a chunked WebDAV PUT, the
    # Complete and twelve deletes.
    s3url, key, secret = gw.s3url, gw.key, gw.secret
    big = os.urandom(4 * MIB)

    def slow_put(k):
        path = f"/{B}/{k}"
        h = sign("PUT", s3url + path, key, secret, {"Content-Length": str(len(big))})
        raw(s3url, "PUT", path, h, big, pause_after=MIB, pause_secs=0, timeout=5)

    def dav_chunked():
        body = b"".join(b"10000\r\n" + os.urandom(0x10000) + b"\r\n" for _ in range(16))
        raw(gw.davurl, "PUT", "/Documents/crash-dav.bin",
            {"Authorization": basic(key, secret), "Transfer-Encoding": "chunked"}, body, timeout=5)

    def complete():
        xml = "".join(f"<Part><PartNumber>{i}</PartNumber><ETag>{e}</ETag></Part>" for i, e in enumerate(etags, 1))
        body = f"<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>".encode()
        path = f"/{B}/crash-complete.bin?uploadId={urllib.parse.quote(up)}"
        raw(s3url, "POST", path, sign("POST", s3url + path, key, secret, {"Content-Length": str(len(body))}),
            body, timeout=10)

    def delete(k):
        path = f"/{B}/{urllib.parse.quote(k)}"
        raw(s3url, "DELETE", path, sign("DELETE", s3url + path, key, secret), timeout=10)

    threads = [in_background(lambda: slow_put("crash-put-new.bin")), in_background(lambda: slow_put("crash-put-old.bin")),
               in_background(dav_chunked), in_background(complete)]
    threads += [in_background(lambda k=k: delete(k)) for k in doomed]
    time.sleep(0.15)
    gw.kill9()
    for t in threads:
        t.join(15)
    gw.restart()
    c = client()

    # Nothing half-visible.
    check("kill9-mid-put-new-key-absent", status(c, "crash-put-new.bin") == 404, "a killed PUT left an object")
    got = c.get_object(Bucket=B, Key="crash-put-old.bin")["Body"].read()
    check("kill9-mid-put-keeps-old-content", got == old, "the overwritten object changed")
    st = status(c, "crash-complete.bin")
    if st == 200:
        h = c.head_object(Bucket=B, Key="crash-complete.bin")
        body = c.get_object(Bucket=B, Key="crash-complete.bin")["Body"].read()
        ok = sha(body) == sha(b"".join(parts)) and h["ETag"] == multipart_etag(parts) and h.get("Metadata") == {"m": "1"}
        check("kill9-mid-complete-all-or-nothing", ok, f"committed with ETag {h['ETag']}, metadata {h.get('Metadata')}")
    else:
        parts_left = c.list_parts(Bucket=B, Key="crash-complete.bin", UploadId=up).get("Parts", [])
        check("kill9-mid-complete-all-or-nothing", len(parts_left) == 3, f"no object and {len(parts_left)} parts left")
    bad = []
    for k, v in doomed.items():
        if status(c, k) == 200 and sha(c.get_object(Bucket=B, Key=k)["Body"].read()) != sha(v):
            bad.append(k)
    check("kill9-mid-delete-objects-whole-or-gone", not bad, f"{bad}")
    debris = [o["Key"] for o in c.list_objects_v2(Bucket=B, Prefix="doomed/").get("Contents", [])
              if "(deleted " in o["Key"]]
    check("kill9-mid-delete-no-debris-s3", not debris, f"{debris} (item 10)")
    r = dav("PROPFIND", f"{gw.davurl}/Documents/doomed/", gw.key, gw.secret, headers={"Depth": "1"})
    # 404: every delete finished before the kill and the emptied folder was pruned with the last.
    check("kill9-mid-delete-no-debris-webdav",
          r.status_code == 404 or (r.status_code == 207 and "(deleted " not in urllib.parse.unquote(r.text)),
          f"status {r.status_code} (item 10)")
    check("kill9-dav-put-no-file", status(c, "crash-dav.bin") == 404, "a killed WebDAV PUT left a file")
    staging = os.path.join(DATA, "staging", "webdav")
    empty = wait_until(lambda: not os.path.isdir(staging) or not os.listdir(staging), 10)
    check("kill9-no-staging-debris", empty, f"{os.listdir(staging) if os.path.isdir(staging) else ''} (item 11)")
    for name, path in [("state", os.path.join(DATA, "gateway.db")), ("emulator", os.path.join(DATA, "emulator", "scaidrive.db"))]:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            res = db.execute("PRAGMA integrity_check").fetchall()
        finally:
            db.close()
        check(f"kill9-integrity-check-{name}-db", res == [("ok",)], f"{res[:3]}")
    body = os.urandom(10_000)
    c.put_object(Bucket=B, Key="after-restart.bin", Body=body)
    check("kill9-serves-after-restart", c.get_object(Bucket=B, Key="after-restart.bin")["Body"].read() == body)


def long_name():
    """Item 10: delete of a 308-byte name, then the same name again, over S3 and WebDAV."""
    c = client()
    name = "文" * 76 + ".txt"
    c.put_object(Bucket=B, Key=name, Body=b"one")
    c.delete_object(Bucket=B, Key=name)
    try:
        c.put_object(Bucket=B, Key=name, Body=b"two")
        ok = c.get_object(Bucket=B, Key=name)["Body"].read() == b"two"
        why = ""
    except ClientError as e:
        ok, why = False, e.response["Error"]["Code"]
    check("delete-long-name-reusable-s3", ok, f"{why} (item 10)")
    url = f"{gw.davurl}/Documents/{urllib.parse.quote('dav-' + name)}"
    dav("PUT", url, gw.key, gw.secret, data=b"one")
    dav("DELETE", url, gw.key, gw.secret)
    r = dav("PUT", url, gw.key, gw.secret, data=b"two")
    check("delete-long-name-reusable-webdav", r.status_code in (201, 204), f"status {r.status_code} (item 10)")
    live = [o["Key"] for o in c.list_objects_v2(Bucket=B, Prefix="文").get("Contents", []) if "(deleted " in o["Key"]]
    check("delete-long-name-no-live-debris", not live, f"{live} (item 10)")


try:
    guard("kill9", main)
    guard("long-name", long_name)
finally:
    gw.stop()
