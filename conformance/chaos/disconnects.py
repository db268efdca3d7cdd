#!/usr/bin/env python3
"""Client disconnects over raw sockets against the shared gateway: mid-PUT, mid-UploadPart,
mid-CompleteMultipartUpload, mid-GET (S3 and WebDAV). Afterwards: no partial object, no new
version, the gateway still serves; a Complete whose client left finishes the whole job (item 8),
and a retried identical Complete answers 200 with the same ETag (item 9)."""

import os
import time
import urllib.parse

from botocore.exceptions import ClientError

from chaoslib import MIB, check, cred, dav, guard, multipart_etag, raw, s3, sha, sign, wait_until

S3URL, DAV = os.environ["MAIN_S3"], os.environ["MAIN_DAV"]
KEY, SECRET = cred("owner")
B = f"disc-{int(time.time()) % 100000}"
c = s3(S3URL, KEY, SECRET)


def signed(method, path, headers=None, body=None):
    return sign(method, S3URL + path, KEY, SECRET, headers, body=body)


def head_status(key):
    try:
        c.head_object(Bucket=B, Key=key)
        return 200
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"]


def versions(key):
    r = c.list_object_versions(Bucket=B, Prefix=key)
    return [v["VersionId"] for v in r.get("Versions", []) if v["Key"] == key]


def serves():
    body = os.urandom(1000)
    c.put_object(Bucket=B, Key="alive.bin", Body=body)
    return c.get_object(Bucket=B, Key="alive.bin")["Body"].read() == body


def mid_put():
    body = os.urandom(2 * MIB)
    path = f"/{B}/cut-new.bin"
    h = signed("PUT", path, {"Content-Length": str(len(body))})
    raw(S3URL, "PUT", path, h, body, send_bytes=700_000, close_after_send=True)
    time.sleep(1)  # the gateway has to notice the cut; the check is that nothing ever shows
    check("s3-mid-put-no-object", head_status("cut-new.bin") == 404, "a cut PUT left an object")
    old = os.urandom(5000)
    c.put_object(Bucket=B, Key="cut-old.bin", Body=old)
    before = versions("cut-old.bin")
    path = f"/{B}/cut-old.bin"
    h = signed("PUT", path, {"Content-Length": str(len(body))})
    raw(S3URL, "PUT", path, h, body, send_bytes=700_000, close_after_send=True)
    time.sleep(1)
    got = c.get_object(Bucket=B, Key="cut-old.bin")["Body"].read()
    check("s3-mid-put-keeps-old-content", got == old, "the object changed")
    check("s3-mid-put-no-new-version", versions("cut-old.bin") == before, f"{before} -> {versions('cut-old.bin')}")
    check("s3-serves-after-mid-put", serves())


def mid_part():
    up = c.create_multipart_upload(Bucket=B, Key="cut-part.bin")["UploadId"]
    p1 = os.urandom(5 * MIB)
    e1 = c.upload_part(Bucket=B, Key="cut-part.bin", UploadId=up, PartNumber=1, Body=p1)["ETag"]
    path = f"/{B}/cut-part.bin?partNumber=2&uploadId={urllib.parse.quote(up)}"
    h = signed("PUT", path, {"Content-Length": str(5 * MIB)})
    raw(S3URL, "PUT", path, h, os.urandom(5 * MIB), send_bytes=MIB, close_after_send=True)
    time.sleep(1)
    parts = c.list_parts(Bucket=B, Key="cut-part.bin", UploadId=up).get("Parts", [])
    check("s3-mid-part-only-whole-parts", [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, e1)],
          f"parts {[(p['PartNumber'], p['Size']) for p in parts]}")
    c.abort_multipart_upload(Bucket=B, Key="cut-part.bin", UploadId=up)
    check("s3-mid-part-no-object", head_status("cut-part.bin") == 404)


def complete_body(etags):
    parts = "".join(f"<Part><PartNumber>{i}</PartNumber><ETag>{e}</ETag></Part>" for i, e in enumerate(etags, 1))
    return f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()


def mid_complete():
    key = "cut-complete.bin"
    up = c.create_multipart_upload(Bucket=B, Key=key, Metadata={"color": "blue"})["UploadId"]
    parts = [os.urandom(5 * MIB), os.urandom(MIB)]
    etags = [c.upload_part(Bucket=B, Key=key, UploadId=up, PartNumber=i, Body=p)["ETag"]
             for i, p in enumerate(parts, 1)]
    body = complete_body(etags)
    path = f"/{B}/{key}?uploadId={urllib.parse.quote(up)}"
    h = signed("POST", path, {"Content-Length": str(len(body))}, body)
    raw(S3URL, "POST", path, h, body, close_after_send=True)
    want = multipart_etag(parts)
    present = wait_until(lambda: head_status(key) == 200, 20)
    check("s3-mid-complete-object-committed", present, "no object 20 s after the Complete (item 8)")
    # The gateway may still be writing the attributes: give it a moment to finish the job.
    r = {"ETag": "none (no object)"}
    if present:
        r = wait_until(lambda: (lambda h: h if h["ETag"] == want else None)(c.head_object(Bucket=B, Key=key)),
                       10) or c.head_object(Bucket=B, Key=key)
    check("s3-mid-complete-etag", r["ETag"] == want, f"ETag {r['ETag']}, want {want} (item 8)")
    check("s3-mid-complete-metadata", r.get("Metadata") == {"color": "blue"}, f"metadata {r.get('Metadata')} (item 8)")
    check("s3-mid-complete-version-id", bool(r.get("VersionId")), "no x-amz-version-id (item 8)")
    got = c.get_object(Bucket=B, Key=key)["Body"].read() if present else b""
    check("s3-mid-complete-content", sha(got) == sha(b"".join(parts)), "content differs")
    try:
        c.abort_multipart_upload(Bucket=B, Key=key, UploadId=up)
        code = "no error"
    except ClientError as e:
        code = e.response["Error"]["Code"]
    check("s3-abort-after-complete-nosuchupload", code == "NoSuchUpload", f"{code} (item 8)")
    try:
        r2 = c.complete_multipart_upload(Bucket=B, Key=key, UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, 1)]})
        got2 = r2["ETag"]
    except ClientError as e:
        got2 = e.response["Error"]["Code"]
    check("s3-retried-complete-after-cut-same-etag", got2 == want, f"{got2} (item 9)")


def retried_complete():
    key = "retried.bin"
    up = c.create_multipart_upload(Bucket=B, Key=key)["UploadId"]
    parts = [os.urandom(5 * MIB), b"tail"]
    spec = {"Parts": [{"PartNumber": i, "ETag": c.upload_part(Bucket=B, Key=key, UploadId=up, PartNumber=i,
                                                                Body=p)["ETag"]} for i, p in enumerate(parts, 1)]}
    first = c.complete_multipart_upload(Bucket=B, Key=key, UploadId=up, MultipartUpload=spec)["ETag"]
    try:
        again = c.complete_multipart_upload(Bucket=B, Key=key, UploadId=up, MultipartUpload=spec)["ETag"]
    except ClientError as e:
        again = e.response["Error"]["Code"]
    check("s3-retried-complete-same-etag", again == first, f"{again}, first {first} (item 9)")


def mid_get():
    big = os.urandom(8 * MIB)
    c.put_object(Bucket=B, Key="big.bin", Body=big)
    dav_url = f"{DAV}/Chaos/{B}/big.bin"
    for _ in range(5):
        path = f"/{B}/big.bin"
        raw(S3URL, "GET", path, signed("GET", path), cap=100_000, timeout=5)
        raw(DAV, "GET", f"/Chaos/{B}/big.bin", {"Authorization": dav_basic()}, cap=100_000, timeout=5)
    got = c.get_object(Bucket=B, Key="big.bin")["Body"].read()
    check("s3-serves-after-mid-get", sha(got) == sha(big))
    r = dav("GET", dav_url, KEY, SECRET, timeout=30)
    check("dav-serves-after-mid-get", r.status_code == 200 and sha(r.content) == sha(big), f"{r.status_code}")


def dav_basic():
    from chaoslib import basic
    return basic(KEY, SECRET)


def dav_mid_put():
    body = os.urandom(2 * MIB)
    path = f"/Chaos/{B}/dav-cut.bin"
    raw(DAV, "PUT", path, {"Authorization": dav_basic(), "Content-Length": str(len(body))}, body,
        send_bytes=600_000, close_after_send=True)
    raw(DAV, "PUT", f"/Chaos/{B}/dav-cut-chunked.bin",
        {"Authorization": dav_basic(), "Transfer-Encoding": "chunked"},
        b"10000\r\n" + os.urandom(0x10000) + b"\r\n10000\r\n" + os.urandom(1000), close_after_send=True)
    time.sleep(1)
    check("dav-mid-put-no-file", head_status("dav-cut.bin") == 404, "a cut WebDAV PUT left a file")
    check("dav-mid-chunked-put-no-file", head_status("dav-cut-chunked.bin") == 404, "a cut chunked PUT left a file")
    staging = os.path.join(os.environ["MAIN_DATA"], "staging", "webdav")
    left = wait_until(lambda: not os.listdir(staging) if os.path.isdir(staging) else True, 10)
    check("dav-mid-put-no-spool-left", left, f"{os.listdir(staging) if os.path.isdir(staging) else ''}")


def main():
    c.create_bucket(Bucket=B)
    for name, fn in [("mid-put", mid_put), ("mid-part", mid_part), ("mid-complete", mid_complete),
                     ("retried-complete", retried_complete), ("mid-get", mid_get), ("dav-mid-put", dav_mid_put)]:
        guard(name, fn)
    check("gateway-still-serves", guard("serves", serves) is True)


main()
