#!/usr/bin/env python3
"""boto3 over HTTPS: the SDK sends STREAMING-UNSIGNED-PAYLOAD-TRAILER aws-chunked bodies with the
checksum in the trailer (it does so only over TLS). PutObject with CRC32 and CRC64NVME trailers,
a multipart upload with CRC32 trailers per part; the stored checksums come back on HEAD/GET with
checksum mode; a corrupted trailer gets BadDigest and stores nothing.

Env: S3_ENDPOINT (https://…) AWS_CA_BUNDLE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
[AWS_DEFAULT_REGION] [KEEP_GOING]
Prints one PASS/FAIL line per check; exits 1 on the first FAIL (or at the end with KEEP_GOING).
"""

import base64
import os
import sys
import time
import zlib

import boto3
import botocore.httpchecksum as hc
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import CheckFailed, attempt, check, failures  # noqa: E402

ENDPOINT = os.environ.get("S3_ENDPOINT", "")
BUCKET = os.environ.get("BUCKET", "")
REGION = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
PREFIX = f"conformance-https-{os.environ.get('RUN_ID') or f'{int(time.time())}-{os.getpid()}'}"
MIB = 1024 * 1024


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def crc64nvme_b64(data):
    """CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5, init and xorout all ones)."""
    poly = 0x9A6C9329AC4BC9B5
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFFFFFFFFFF
    return base64.b64encode(crc.to_bytes(8, "big")).decode()


class Recorder:
    """Notes the x-amz-content-sha256 and x-amz-trailer of every request the SDK sends."""

    def __init__(self):
        self.seen = []

    def __call__(self, request, **_):
        h = request.headers
        self.seen.append((h.get("x-amz-content-sha256"), h.get("x-amz-trailer")))


def client():
    s3 = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    rec = Recorder()
    s3.meta.events.register("before-send.s3", rec)
    return s3, rec


def as_str(v):
    return v.decode() if isinstance(v, bytes) else (v or "")


def trailer_sent(rec, algo):
    return any(
        as_str(sha) == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        and as_str(tr).lower() == f"x-amz-checksum-{algo}"
        for sha, tr in rec.seen
    )


def missing(s3, key):
    try:
        s3.head_object(Bucket=BUCKET, Key=key)
        return False
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def main():
    if not ENDPOINT.startswith("https://"):
        print("FAIL setup: S3_ENDPOINT must be an https:// URL")
        return 2
    s3, rec = client()
    body = os.urandom(300_000)

    # PutObject, CRC32 in the trailer (the SDK default).
    key = f"{PREFIX}/crc32.bin"
    rec.seen.clear()
    attempt("put-crc32-trailer", lambda: s3.put_object(
        Bucket=BUCKET, Key=key, Body=body, ChecksumAlgorithm="CRC32"))
    check("put-crc32-sent-as-unsigned-trailer", trailer_sent(rec, "crc32"), repr(rec.seen))
    h = attempt("head-crc32", lambda: s3.head_object(
        Bucket=BUCKET, Key=key, ChecksumMode="ENABLED"))
    check("head-crc32-stored", bool(h) and h.get("ChecksumCRC32") == crc32_b64(body),
          f"{(h or {}).get('ChecksumCRC32')} vs {crc32_b64(body)}")
    g = attempt("get-crc32-validated", lambda: s3.get_object(
        Bucket=BUCKET, Key=key, ChecksumMode="ENABLED"))
    check("get-crc32-body", bool(g) and g["Body"].read() == body)

    # PutObject, CRC64NVME in the trailer (needs awscrt in the SDK).
    key = f"{PREFIX}/crc64nvme.bin"
    rec.seen.clear()
    attempt("put-crc64nvme-trailer", lambda: s3.put_object(
        Bucket=BUCKET, Key=key, Body=body, ChecksumAlgorithm="CRC64NVME"))
    check("put-crc64nvme-sent-as-unsigned-trailer", trailer_sent(rec, "crc64nvme"), repr(rec.seen))
    h = attempt("head-crc64nvme", lambda: s3.head_object(
        Bucket=BUCKET, Key=key, ChecksumMode="ENABLED"))
    check("head-crc64nvme-stored",
          bool(h) and h.get("ChecksumCRC64NVME") == crc64nvme_b64(body),
          f"{(h or {}).get('ChecksumCRC64NVME')} vs {crc64nvme_b64(body)}")

    # Multipart: every part with a CRC32 trailer; the object keeps the composite checksum.
    key = f"{PREFIX}/multipart.bin"
    parts_data = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1000)]
    up = attempt("mpu-create-crc32", lambda: s3.create_multipart_upload(
        Bucket=BUCKET, Key=key, ChecksumAlgorithm="CRC32"))
    parts = []
    rec.seen.clear()
    for n, data in enumerate(parts_data, start=1):
        r = attempt(f"mpu-part-{n}-crc32-trailer", lambda: s3.upload_part(
            Bucket=BUCKET, Key=key, UploadId=up["UploadId"], PartNumber=n, Body=data,
            ChecksumAlgorithm="CRC32")) if up else None
        check(f"mpu-part-{n}-checksum", bool(r) and r.get("ChecksumCRC32") == crc32_b64(data),
              f"{(r or {}).get('ChecksumCRC32')} vs {crc32_b64(data)}")
        parts.append({"PartNumber": n, "ETag": (r or {}).get("ETag"),
                      "ChecksumCRC32": (r or {}).get("ChecksumCRC32")})
    check("mpu-parts-sent-as-unsigned-trailer", trailer_sent(rec, "crc32"), repr(rec.seen[:3]))
    raw = b"".join(base64.b64decode(crc32_b64(d)) for d in parts_data)
    composite = f"{crc32_b64(raw)}-{len(parts_data)}"
    done = attempt("mpu-complete", lambda: s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=up["UploadId"],
        MultipartUpload={"Parts": parts})) if up else None
    check("mpu-complete-composite-checksum",
          bool(done) and done.get("ChecksumCRC32") == composite,
          f"{(done or {}).get('ChecksumCRC32')} vs {composite}")
    h = attempt("mpu-head", lambda: s3.head_object(
        Bucket=BUCKET, Key=key, ChecksumMode="ENABLED"))
    check("mpu-head-composite-checksum", bool(h) and h.get("ChecksumCRC32") == composite,
          f"{(h or {}).get('ChecksumCRC32')} vs {composite}")
    g = attempt("mpu-get", lambda: s3.get_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED"))
    check("mpu-get-body", bool(g) and g["Body"].read() == b"".join(parts_data))

    # A trailer whose value does not match the body: BadDigest, nothing stored.
    key = f"{PREFIX}/corrupt.bin"
    classes = [c for c in (getattr(hc, "Crc32Checksum", None), getattr(hc, "CrtCrc32Checksum", None)) if c]
    saved = [(c, c.b64digest) for c in classes]
    wrong = crc32_b64(b"something else entirely")
    for c in classes:
        c.b64digest = lambda self: wrong
    try:
        code, status = None, None
        try:
            s3.put_object(Bucket=BUCKET, Key=key, Body=body, ChecksumAlgorithm="CRC32")
        except ClientError as e:
            code = e.response["Error"].get("Code")
            status = e.response["ResponseMetadata"]["HTTPStatusCode"]
    finally:
        for c, fn in saved:
            c.b64digest = fn
    check("corrupt-trailer-bad-digest", code == "BadDigest" and status == 400, f"{code} {status}")
    check("corrupt-trailer-stores-nothing", missing(s3, key))

    # Clean up.
    for k in ("crc32.bin", "crc64nvme.bin", "multipart.bin"):
        try:
            s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/{k}")
        except ClientError:
            pass
    return 1 if failures() else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed:
        sys.exit(1)
