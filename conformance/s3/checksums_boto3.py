#!/usr/bin/env python3
"""boto3 against an S3 endpoint: a multipart upload with a FULL_OBJECT CRC64NVME checksum (the SDK
computes each part's CRC; the server combines them) checked against the whole file's CRC64NVME
computed here, a FULL_OBJECT CRC32 one likewise, HEAD with checksum mode, a download the SDK
validates, GetObjectAttributes (ETag, Checksum, ObjectParts, StorageClass, ObjectSize), and
delete markers through boto3 (delete_object answers one; deleting it restores the object).

Env: S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET [AWS_DEFAULT_REGION] [KEEP_GOING]
Prints one PASS/FAIL line per check; exits 1 on the first FAIL (or at the end with KEEP_GOING).
"""

import base64
import os
import sys
import time
import zlib

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import CheckFailed, attempt, check, failures  # noqa: E402

ENDPOINT = os.environ.get("S3_ENDPOINT", "")
BUCKET = os.environ.get("BUCKET", "")
REGION = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
PREFIX = f"conformance-checksums-{os.environ.get('RUN_ID') or f'{int(time.time())}-{os.getpid()}'}"
MIB = 1024 * 1024

if ENDPOINT.startswith("http://"):
    os.environ.pop("AWS_CA_BUNDLE", None)


def b64(value, width):
    return base64.b64encode(value.to_bytes(width, "big")).decode()


def crc64nvme(data):
    from awscrt import checksums  # botocore's CRC64NVME needs awscrt too

    return b64(checksums.crc64nvme(data), 8)


def crc32(data):
    return b64(zlib.crc32(data), 4)


def client():
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def full_object(s3, algorithm, local):
    key = f"{PREFIX}/full-{algorithm.lower()}.bin"
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1234567)]
    whole = b"".join(parts)
    name = algorithm.lower()
    up = attempt(
        f"{name}-create-full-object",
        lambda: s3.create_multipart_upload(
            Bucket=BUCKET, Key=key, ChecksumAlgorithm=algorithm, ChecksumType="FULL_OBJECT"
        ),
    )
    check(f"{name}-create-answers-full-object", (up or {}).get("ChecksumType") == "FULL_OBJECT", repr(up))
    uid = up["UploadId"]
    done_parts = []
    for n, body in enumerate(parts, 1):
        r = attempt(
            f"{name}-upload-part-{n}",
            lambda: s3.upload_part(
                Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=n, Body=body, ChecksumAlgorithm=algorithm
            ),
        )
        done_parts.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{algorithm}": r[f"Checksum{algorithm}"]})
    r = attempt(
        f"{name}-complete",
        lambda: s3.complete_multipart_upload(
            Bucket=BUCKET, Key=key, UploadId=uid, MultipartUpload={"Parts": done_parts}
        ),
    )
    want = local(whole)
    got = (r or {}).get(f"Checksum{algorithm}")
    check(f"{name}-complete-whole-object-crc", got == want, f"{got} != {want} (computed here)")
    check(f"{name}-complete-type-full-object", (r or {}).get("ChecksumType") == "FULL_OBJECT", repr(r))
    h = attempt(f"{name}-head-checksum-mode", lambda: s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED"))
    check(f"{name}-head-crc", (h or {}).get(f"Checksum{algorithm}") == want, repr(h))
    g = attempt(
        f"{name}-get-validated",
        lambda: s3.get_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")["Body"].read(),
    )
    check(f"{name}-get-bytes", g == whole)
    a = attempt(
        f"{name}-get-object-attributes",
        lambda: s3.get_object_attributes(
            Bucket=BUCKET,
            Key=key,
            ObjectAttributes=["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"],
        ),
    )
    a = a or {}
    check(f"{name}-attributes-size", a.get("ObjectSize") == len(whole), repr(a))
    check(f"{name}-attributes-checksum", a.get("Checksum", {}).get(f"Checksum{algorithm}") == want, repr(a))
    check(f"{name}-attributes-parts", a.get("ObjectParts", {}).get("TotalPartsCount") == 3, repr(a))
    check(f"{name}-attributes-storage-class", a.get("StorageClass") == "STANDARD", repr(a))
    check(f"{name}-attributes-etag", bool(a.get("ETag")) and a["ETag"].strip('"').endswith("-3"), repr(a))


def markers(s3):
    key = f"{PREFIX}/marked.txt"
    attempt("marker-put", lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=b"keep me"))
    d = attempt("marker-delete", lambda: s3.delete_object(Bucket=BUCKET, Key=key)) or {}
    check("marker-delete-answers-marker", d.get("DeleteMarker") is True and bool(d.get("VersionId")), repr(d))
    try:
        s3.get_object(Bucket=BUCKET, Key=key)
        check("marker-get-404", False, "GET of a deleted key succeeded")
    except ClientError as e:
        check("marker-get-404", e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, repr(e.response))
    r = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": key, "VersionId": d["VersionId"]}]})
    gone = (r.get("Deleted") or [{}])[0]
    check("delete-objects-names-the-marker", gone.get("DeleteMarker") is True, repr(r))
    g = attempt("marker-get-after-undelete", lambda: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    check("marker-undeleted-bytes", g == b"keep me")


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
    if not os.environ.get("ADMIN_URL"):
        # Delete markers are the gateway's mapping of ScaiDrive's trash; a peer has none.
        print("SKIP checksums: not a gateway run (no ADMIN_URL)")
        return 0
    s3 = client()
    try:
        full_object(s3, "CRC64NVME", crc64nvme)
        full_object(s3, "CRC32", crc32)
        markers(s3)
    except CheckFailed:
        pass
    finally:
        cleanup(s3)
    if failures():
        print(f"# checksums_boto3.py: {failures()} check(s) failed")
        return 1
    print("# checksums_boto3.py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
