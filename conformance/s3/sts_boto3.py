#!/usr/bin/env python3
"""boto3 STS: assume_role_with_web_identity with a ScaiDrive token, then a multipart upload (and
a presigned GET, SigV4 and SigV2) with the temporary credentials; assume_role signed with the
gateway's key pair; an expired session refused with ExpiredToken.

The embedded emulator stands in for ScaiDrive: a fresh token of its first user is written into
its database (and removed at the end).
Env: S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET GATEWAY_DATA_DIR (unset: not a
scaidrive-gateway with an embedded emulator, skipped) [KEEP_GOING]. The gateway must allow
1-second sessions (SCAIDRIVE_GATEWAY_STS_MIN_SESSION_SECS=1).
"""

import hashlib
import os
import secrets
import sqlite3
import sys
import time
import urllib.request

import boto3
from botocore import UNSIGNED
from boto3.s3.transfer import S3Transfer, TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import CheckFailed, attempt, check, failures  # noqa: E402

ENDPOINT = os.environ.get("S3_ENDPOINT", "")
BUCKET = os.environ.get("BUCKET", "")
REGION = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
DATA_DIR = os.environ.get("GATEWAY_DATA_DIR", "")
PREFIX = f"conformance-sts-boto3-{os.environ.get('RUN_ID') or f'{int(time.time())}-{os.getpid()}'}"
MIB = 1024 * 1024
ARN = "arn:aws:iam::scaidrive:role/user"

if ENDPOINT.startswith("http://"):
    os.environ.pop("AWS_CA_BUNDLE", None)


def s3_with(creds, **cfg):
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **cfg),
    )


def main():
    if not DATA_DIR:
        print("SKIP sts-boto3: not a scaidrive-gateway with an embedded emulator")
        return 0
    db = sqlite3.connect(os.path.join(DATA_DIR, "emulator", "scaidrive.db"), timeout=10)
    user = db.execute("SELECT id FROM users ORDER BY rowid LIMIT 1").fetchone()[0]
    token = "sdconf_" + secrets.token_hex(16)
    db.execute("INSERT INTO tokens (token, user_id, scopes, expires_at) VALUES (?, ?, NULL, NULL)", (token, user))
    db.commit()
    # Unsigned STS (no key pair): AssumeRoleWithWebIdentity needs none.
    sts = boto3.client("sts", endpoint_url=ENDPOINT, region_name=REGION, config=Config(signature_version=UNSIGNED))
    s3 = None
    try:
        r = attempt(
            "assume-role-with-web-identity",
            lambda: sts.assume_role_with_web_identity(
                RoleArn=ARN, RoleSessionName="boto3", WebIdentityToken=token, DurationSeconds=3600
            ),
        )
        creds = (r or {}).get("Credentials") or {}
        check("subject-is-the-user", (r or {}).get("SubjectFromWebIdentityToken") == user, repr(r))
        left = (creds["Expiration"].timestamp() - time.time()) if creds else 0
        check("duration-honoured", 3590 <= left <= 3600, f"{left:.0f} s left")

        s3 = s3_with(creds, signature_version="s3v4")
        data = os.urandom(20 * MIB + 12345)
        key = f"{PREFIX}/multipart.bin"
        cfg = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=3)
        path = _write(data)
        attempt("temporary-multipart-upload", lambda: S3Transfer(s3, cfg).upload_file(path, BUCKET, key))
        os.remove(path)
        head = attempt("head-multipart", lambda: s3.head_object(Bucket=BUCKET, Key=key))
        check("multipart-etag-has-5-parts", (head or {}).get("ETag", "").endswith('-5"'), repr((head or {}).get("ETag")))
        body = attempt("get-multipart", lambda: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        check("multipart-bytes-equal", body is not None and hashlib.sha256(body).digest() == hashlib.sha256(data).digest())
        for sig in ("s3v4", "s3"):
            url = s3_with(creds, signature_version=sig).generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300
            )
            got = attempt(f"presigned-get-{sig}", lambda: urllib.request.urlopen(url).read())  # noqa: B023
            check(f"presigned-get-{sig}-bytes", got == data)

        # AssumeRole signed with the key pair; GetCallerIdentity with its answer.
        signed = boto3.client("sts", endpoint_url=ENDPOINT, region_name=REGION)
        r = attempt("assume-role-signed", lambda: signed.assume_role(RoleArn=ARN, RoleSessionName="ci"))
        role_creds = (r or {}).get("Credentials") or {}
        who = attempt(
            "get-caller-identity-temporary",
            lambda: boto3.client(
                "sts",
                endpoint_url=ENDPOINT,
                region_name=REGION,
                aws_access_key_id=role_creds["AccessKeyId"],
                aws_secret_access_key=role_creds["SecretAccessKey"],
                aws_session_token=role_creds["SessionToken"],
            ).get_caller_identity(),
        )
        check("caller-is-assumed-role-ci", (who or {}).get("Arn", "").endswith("assumed-role/user/ci"), repr(who))

        # A one-second session (parameter validation off: botocore asks for at least 900).
        lax = boto3.client(
            "sts",
            endpoint_url=ENDPOINT,
            region_name=REGION,
            config=Config(parameter_validation=False, signature_version=UNSIGNED),
        )
        r = attempt(
            "one-second-session",
            lambda: lax.assume_role_with_web_identity(
                RoleArn=ARN, RoleSessionName="short", WebIdentityToken=token, DurationSeconds=1
            ),
        )
        time.sleep(2)
        try:
            s3_with(r["Credentials"], signature_version="s3v4").list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)
            check("expired-session-ExpiredToken", False, "the listing worked")
        except ClientError as e:
            code = e.response["Error"].get("Code")
            check("expired-session-ExpiredToken", code == "ExpiredToken", code)
        except (TypeError, KeyError) as e:
            check("expired-session-ExpiredToken", False, repr(e))
    except CheckFailed:
        pass
    finally:
        if s3 is not None:
            try:
                s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/multipart.bin")
            except Exception:  # clean-up only
                pass
        db.execute("DELETE FROM tokens WHERE token = ?", (token,))
        db.commit()
    if failures():
        print(f"# sts_boto3.py: {failures()} check(s) failed")
        return 1
    print("# sts_boto3.py: all checks passed")
    return 0


def _write(data):
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"sts-boto3-{os.getpid()}.bin")
    with open(path, "wb") as f:
        f.write(data)
    return path


if __name__ == "__main__":
    sys.exit(main())
