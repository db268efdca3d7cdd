#!/usr/bin/env python3
"""boto3 against an S3 endpoint: metadata round trip, ranges (incl. suffix), conditional GETs,
a multipart upload with parts sent out of order and one part sent twice, ListObjectVersions, and
presigned GETs (SigV4 and the SDK default, SigV2) fetched with urllib.

Env: S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET [AWS_DEFAULT_REGION] [KEEP_GOING]
Prints one PASS/FAIL line per check; exits 1 on the first FAIL (or at the end with KEEP_GOING).
"""

import hashlib
import os
import sys
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import CheckFailed, attempt, check, failures  # noqa: E402

ENDPOINT = os.environ.get("S3_ENDPOINT", "")
BUCKET = os.environ.get("BUCKET", "")
REGION = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
PREFIX = f"conformance-boto3-{os.environ.get('RUN_ID') or f'{int(time.time())}-{os.getpid()}'}"
MIB = 1024 * 1024

if ENDPOINT.startswith("http://"):
    os.environ.pop("AWS_CA_BUNDLE", None)


def get(s3, key, **kwargs):
    """GetObject and its body (the SDK validates response checksums while reading)."""
    r = s3.get_object(Bucket=BUCKET, Key=key, **kwargs)
    return r, r["Body"].read()


def status_of(fn):
    """HTTP status of a call that may raise ClientError (304/412 arrive as errors)."""
    try:
        r = fn()
        return r["ResponseMetadata"]["HTTPStatusCode"]
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"]
    except Exception as e:  # the SDK could not even parse the answer
        return f"{type(e).__name__}: {e}"


def client(**cfg):
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}, **cfg),
    )


def metadata(s3):
    key = f"{PREFIX}/meta.txt"
    body = b"metadata round trip\n"
    attempt("meta-put", lambda: s3.put_object(
        Bucket=BUCKET, Key=key, Body=body, ContentType="application/x-conformance",
        CacheControl="max-age=60", Metadata={"color": "blue", "mixed-case": "Value With Spaces"}))
    h = attempt("meta-head", lambda: s3.head_object(Bucket=BUCKET, Key=key)) or {}
    check("meta-head-content-type", h.get("ContentType") == "application/x-conformance", repr(h.get("ContentType")))
    check("meta-head-cache-control", h.get("CacheControl") == "max-age=60", repr(h.get("CacheControl")))
    want_meta = {"color": "blue", "mixed-case": "Value With Spaces"}
    lower = lambda m: {k.lower(): v for k, v in (m or {}).items()}
    check("meta-head-user-metadata", lower(h.get("Metadata")) == want_meta, repr(h.get("Metadata")))
    # S3 returns x-amz-meta-* names in lower case; SDKs hand them over as sent.
    check("meta-head-user-metadata-lowercase", h.get("Metadata") == want_meta, repr(h.get("Metadata")))
    check("meta-head-length", h.get("ContentLength") == len(body), repr(h.get("ContentLength")))
    g, got = attempt("meta-get", lambda: get(s3, key)) or ({}, None)
    check("meta-get-body", got == body)
    check("meta-get-user-metadata", lower(g.get("Metadata")) == want_meta, repr(g.get("Metadata")))
    check("meta-get-content-type", g.get("ContentType") == "application/x-conformance", repr(g.get("ContentType")))
    # CopyObject keeps metadata by default (MetadataDirective COPY).
    attempt("meta-copy", lambda: s3.copy_object(Bucket=BUCKET, Key=f"{PREFIX}/meta-copy.txt",
                                                CopySource={"Bucket": BUCKET, "Key": key}))
    c = attempt("meta-copy-head", lambda: s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}/meta-copy.txt")) or {}
    check("meta-copy-keeps-metadata", lower(c.get("Metadata")).items() >= want_meta.items() and c.get("ContentType") == h.get("ContentType"),
          repr((c.get("Metadata"), c.get("ContentType"))))


def ranges(s3):
    key = f"{PREFIX}/range.bin"
    data = os.urandom(4096)
    attempt("range-put", lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=data))
    # With the SDK's defaults a range answer that carries the whole object's checksum fails.
    attempt("range-default-client-no-checksum-error", lambda: get(s3, key, Range="bytes=0-9"))
    # The range semantics themselves, with response checksum validation only where required.
    s3 = client(signature_version="s3v4", response_checksum_validation="when_required")
    cases = [
        ("first-10", "bytes=0-9", data[0:10], "bytes 0-9/4096"),
        ("middle", "bytes=100-199", data[100:200], "bytes 100-199/4096"),
        ("suffix-10", "bytes=-10", data[-10:], "bytes 4086-4095/4096"),
        ("open-ended", "bytes=4000-", data[4000:], "bytes 4000-4095/4096"),
        ("past-end-clamped", "bytes=4090-9999", data[4090:], "bytes 4090-4095/4096"),
    ]
    for name, rng, want, content_range in cases:
        rb = attempt(f"range-{name}", lambda rng=rng: get(s3, key, Range=rng))
        if rb is None:
            continue
        r, body = rb
        check(f"range-{name}-status-206", r["ResponseMetadata"]["HTTPStatusCode"] == 206,
              str(r["ResponseMetadata"]["HTTPStatusCode"]))
        check(f"range-{name}-bytes", body == want, f"{len(body)} bytes")
        check(f"range-{name}-content-range", r.get("ContentRange") == content_range, repr(r.get("ContentRange")))
    st = status_of(lambda: s3.get_object(Bucket=BUCKET, Key=key, Range="bytes=5000-"))
    check("range-unsatisfiable-416", st == 416, str(st))


def conditionals(s3):
    key = f"{PREFIX}/cond.txt"
    put = attempt("cond-put", lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=b"conditional")) or {}
    etag = put.get("ETag", '"missing"')
    check("cond-etag-is-md5", etag == f'"{hashlib.md5(b"conditional").hexdigest()}"', etag)
    other = '"00000000000000000000000000000000"'
    for name, kwargs, want in [
        ("if-match-same-200", {"IfMatch": etag}, 200),
        ("if-match-other-412", {"IfMatch": other}, 412),
        ("if-none-match-same-304", {"IfNoneMatch": etag}, 304),
        ("if-none-match-other-200", {"IfNoneMatch": other}, 200),
    ]:
        st = status_of(lambda kwargs=kwargs: s3.get_object(Bucket=BUCKET, Key=key, **kwargs))
        check(f"cond-get-{name}", st == want, f"status {st}")
        st = status_of(lambda kwargs=kwargs: s3.head_object(Bucket=BUCKET, Key=key, **kwargs))
        check(f"cond-head-{name}", st == want, f"status {st}")


def multipart(s3):
    key = f"{PREFIX}/multipart.bin"
    p1, p2_old, p2, p3 = os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(MIB + 17)
    up = attempt("mpu-create", lambda: s3.create_multipart_upload(Bucket=BUCKET, Key=key, ContentType="application/x-mpu"))
    if up is None:
        return
    uid = up["UploadId"]
    etags = {}

    def part(n, body):
        r = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=n, Body=body)
        etags[n] = r["ETag"]
        return r

    # Out of order (3, 1, 2), and part 2 twice: the second upload replaces the first.
    attempt("mpu-part-3-first", lambda: part(3, p3))
    attempt("mpu-part-1", lambda: part(1, p1))
    attempt("mpu-part-2-old", lambda: part(2, p2_old))
    attempt("mpu-part-2-again", lambda: part(2, p2))
    check("mpu-part-etags-are-md5", all(etags[n] == f'"{hashlib.md5(b).hexdigest()}"' for n, b in [(1, p1), (2, p2), (3, p3)]),
          repr(etags))
    lp = attempt("mpu-list-parts", lambda: s3.list_parts(Bucket=BUCKET, Key=key, UploadId=uid)) or {}
    parts = [(p["PartNumber"], p["ETag"], p["Size"]) for p in lp.get("Parts", [])]
    check("mpu-list-parts-latest-part-2", parts == [(1, etags.get(1), len(p1)), (2, etags.get(2), len(p2)), (3, etags.get(3), len(p3))],
          repr(parts))
    ups = attempt("mpu-list-uploads", lambda: s3.list_multipart_uploads(Bucket=BUCKET, Prefix=PREFIX)) or {}
    check("mpu-list-uploads-has-it", any(u["UploadId"] == uid for u in ups.get("Uploads", [])))
    done = attempt("mpu-complete", lambda: s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags.get(n)} for n in (1, 2, 3)]})) or {}
    want_etag = '"%s-3"' % hashlib.md5(b"".join(hashlib.md5(b).digest() for b in (p1, p2, p3))).hexdigest()
    check("mpu-complete-etag", done.get("ETag") == want_etag, f"{done.get('ETag')} != {want_etag}")
    g, body = attempt("mpu-get", lambda: get(s3, key)) or ({}, b"")
    check("mpu-get-bytes", body == p1 + p2 + p3, f"{len(body)} bytes, want {len(p1 + p2 + p3)}")
    check("mpu-get-content-type", (g or {}).get("ContentType") == "application/x-mpu", repr((g or {}).get("ContentType")))
    # An aborted upload leaves no object and no upload behind.
    akey = f"{PREFIX}/aborted.bin"
    a = attempt("mpu-abort-create", lambda: s3.create_multipart_upload(Bucket=BUCKET, Key=akey))
    if a:
        attempt("mpu-abort-part", lambda: s3.upload_part(Bucket=BUCKET, Key=akey, UploadId=a["UploadId"], PartNumber=1, Body=b"x" * 100))
        attempt("mpu-abort", lambda: s3.abort_multipart_upload(Bucket=BUCKET, Key=akey, UploadId=a["UploadId"]))
        st = status_of(lambda: s3.head_object(Bucket=BUCKET, Key=akey))
        check("mpu-abort-no-object", st == 404, f"status {st}")
        ups = attempt("mpu-abort-list-uploads", lambda: s3.list_multipart_uploads(Bucket=BUCKET, Prefix=PREFIX)) or {}
        check("mpu-abort-upload-gone", not any(u["UploadId"] == a["UploadId"] for u in ups.get("Uploads", [])))


def versions(s3):
    r = attempt("list-object-versions", lambda: s3.list_object_versions(Bucket=BUCKET, Prefix=f"{PREFIX}/cond"))
    vs = (r or {}).get("Versions", [])
    check("list-object-versions-lists-key", [v["Key"] for v in vs] == [f"{PREFIX}/cond.txt"], repr([v["Key"] for v in vs]))
    check("list-object-versions-is-latest", all(v.get("IsLatest") and v.get("VersionId") for v in vs), repr(vs))
    st = status_of(lambda: s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}/cond.txt", VersionId="null"))
    check("head-version-id-null-200", st == 200, f"status {st}")


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def presigned():
    key = f"{PREFIX}/presigned.bin"
    data = os.urandom(3000)
    v4 = client(signature_version="s3v4")
    attempt("presign-put-object", lambda: v4.put_object(Bucket=BUCKET, Key=key, Body=data))
    url = v4.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
    check("presign-v4-url-is-v4", "X-Amz-Signature=" in url, url)
    st, body = fetch(url)
    check("presign-v4-get-200", st == 200, f"status {st}: {body[:200]!r}")
    check("presign-v4-get-bytes", body == data)
    st, _ = fetch(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    check("presign-v4-bad-signature-403", st == 403, f"status {st}")
    short = v4.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=1)
    time.sleep(2)
    st, _ = fetch(short)
    check("presign-v4-expired-403", st == 403, f"status {st}")
    # The SDK's default presigner (no signature_version configured) signs with SigV2.
    default = boto3.client("s3", endpoint_url=ENDPOINT, region_name=REGION,
                           config=Config(s3={"addressing_style": "path"}))
    url2 = default.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
    kind = "v2" if "AWSAccessKeyId=" in url2 else "v4"
    print(f"# default presigned URL is Sig{kind.upper()}", flush=True)
    st, body = fetch(url2)
    check(f"presign-default-{kind}-get-200", st == 200, f"status {st}: {body[:200]!r}")
    check(f"presign-default-{kind}-get-bytes", body == data)


def cleanup(s3):
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/"):
            objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objs:
                s3.delete_objects(Bucket=BUCKET, Delete={"Objects": objs, "Quiet": True})
        for u in s3.list_multipart_uploads(Bucket=BUCKET, Prefix=PREFIX).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=BUCKET, Key=u["Key"], UploadId=u["UploadId"])
    except Exception as e:
        print(f"# cleanup: {e}", flush=True)


def main():
    for v in ("S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "BUCKET"):
        if not os.environ.get(v):
            print(f"FAIL setup: environment variable {v} is required")
            return 2
    s3 = client(signature_version="s3v4")
    try:
        metadata(s3)
        ranges(s3)
        conditionals(s3)
        multipart(s3)
        versions(s3)
        presigned()
        # DeleteObjects, then the prefix lists empty.
        cleanup(s3)
        r = attempt("delete-objects-then-empty", lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/"))
        check("prefix-empty-after-delete", not (r or {}).get("Contents"), repr((r or {}).get("Contents")))
    except CheckFailed:
        pass
    finally:
        cleanup(s3)
    if failures():
        print(f"# boto3_workflow.py: {failures()} check(s) failed")
        return 1
    print("# boto3_workflow.py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
