#!/usr/bin/env python3
"""Upstream faults: its own `scaidrive-gateway emulator` with fault injection and a `serve` in
front of it (SCAIDRIVE_URL, a static key pair). Under 5xx errors, latency and cut downloads:
PUT, GET, multipart, listing and WebDAV PUT. Afterwards, with the faults off, the SHA-256 of every
object that was acknowledged matches, and nothing unacknowledged is half-visible."""

import os

from botocore.exceptions import ClientError

from chaoslib import (MIB, TMP, Emulator, Gateway, check, cred, dav, guard, md5, multipart_etag, s3,
                      sha, write_seed)

seed = os.path.join(TMP, "faults-seed.toml")
write_seed(seed, [("owner", False)], [("owner", "owner")])
emu = Emulator(os.path.join(TMP, "data-faults-emulator"), seed)
KEY, SECRET = cred("owner")
gw = None
B = "chaos"
acked, unacked = {}, {}


def put(c, key, body):
    try:
        r = c.put_object(Bucket=B, Key=key, Body=body)
        acked[key] = (sha(body), f'"{md5(body)}"')
        return r
    except Exception:  # an error answer (or a cut one): the object is not acknowledged
        unacked[key] = sha(body)
        return None


def multipart(c, key, parts):
    try:
        up = c.create_multipart_upload(Bucket=B, Key=key)["UploadId"]
        spec = [{"PartNumber": i, "ETag": c.upload_part(Bucket=B, Key=key, UploadId=up, PartNumber=i,
                                                         Body=p)["ETag"]} for i, p in enumerate(parts, 1)]
        c.complete_multipart_upload(Bucket=B, Key=key, UploadId=up, MultipartUpload={"Parts": spec})
        acked[key] = (sha(b"".join(parts)), multipart_etag(parts))
    except Exception:
        unacked[key] = sha(b"".join(parts))


def under_faults():
    c = s3(gw.s3url, KEY, SECRET, retries=1, read_timeout=20)
    emu.faults(error_rate=0.25, error_statuses=[500, 502, 503], latency_ms=20)
    for i in range(16):
        put(c, f"f/put-{i:02}.bin", os.urandom(1000 * (i + 1) * (37 if i % 4 == 0 else 1)))
    for i in range(3):
        multipart(c, f"f/mp-{i}.bin", [os.urandom(5 * MIB), os.urandom(100_000 + i)])
    for i in range(6):
        body = os.urandom(30_000 + i)
        r = None
        try:
            r = dav("PUT", f"{gw.davurl}/Chaos/f/dav-{i}.bin", KEY, SECRET, data=body)
        except Exception:  # a cut answer: not acknowledged
            pass
        if r is not None and r.status_code in (201, 204):
            acked[f"f/dav-{i}.bin"] = (sha(body), None)
        else:
            unacked[f"f/dav-{i}.bin"] = sha(body)
    # Listings under faults: an error, or only keys that were written.
    bad, errors = [], 0
    for _ in range(8):
        try:
            keys = [o["Key"] for o in c.list_objects_v2(Bucket=B, Prefix="f/").get("Contents", [])]
            bad += [k for k in keys if k not in acked and k not in unacked]
        except ClientError:
            errors += 1
    check("listing-under-5xx-lists-only-written-keys", not bad, f"{bad}")
    # GETs under faults: an error or the right bytes, never wrong bytes with a success.
    wrong = []
    for k, (digest, _) in list(acked.items())[:10]:
        try:
            body = c.get_object(Bucket=B, Key=k)["Body"].read()
            if sha(body) != digest:
                wrong.append(k)
        except Exception:  # an error answer is fine under faults
            pass
    check("get-under-5xx-never-wrong-bytes", not wrong, f"{wrong}")
    emu.faults(error_rate=0.0, latency_ms=0)


def cut_downloads():
    c = s3(gw.s3url, KEY, SECRET, retries=1, read_timeout=20)
    body = os.urandom(3 * MIB)
    c.put_object(Bucket=B, Key="f/cut.bin", Body=body)
    acked["f/cut.bin"] = (sha(body), None)
    emu.faults(reset_after_bytes=100_000, reset_count=4)
    outcomes = []
    for _ in range(4):
        try:
            got = c.get_object(Bucket=B, Key="f/cut.bin")["Body"].read()
            outcomes.append("ok" if sha(got) == sha(body) else f"wrong {len(got)} bytes")
        except Exception as e:  # an incomplete body is the right outcome of a cut
            outcomes.append(type(e).__name__)
    check("get-under-connection-reset-never-wrong-bytes", not any(o.startswith("wrong") for o in outcomes),
          f"{outcomes}")
    emu.faults(reset_after_bytes=None, reset_count=1)


def latency():
    c = s3(gw.s3url, KEY, SECRET, retries=1, read_timeout=20)
    emu.faults(latency_ms=400)
    body = os.urandom(200_000)
    try:
        c.put_object(Bucket=B, Key="f/slow.bin", Body=body)
        ok = sha(c.get_object(Bucket=B, Key="f/slow.bin")["Body"].read()) == sha(body)
    finally:
        emu.faults(latency_ms=0)
    acked["f/slow.bin"] = (sha(body), None)
    check("put-get-under-latency", ok)


def verify():
    c = s3(gw.s3url, KEY, SECRET, retries=3)
    bad = []
    for k, (digest, etag) in acked.items():
        try:
            r = c.get_object(Bucket=B, Key=k)
            got = r["Body"].read()
            if sha(got) != digest or (etag and r["ETag"] != etag):
                bad.append(f"{k}: sha/ETag differ ({r['ETag']} vs {etag})")
        except ClientError as e:
            bad.append(f"{k}: {e.response['Error']['Code']}")
    check("acknowledged-objects-intact", not bad and len(acked) > 0, f"{len(acked)} acked; {bad[:5]}")
    half = []
    for k, digest in unacked.items():
        try:
            got = c.get_object(Bucket=B, Key=k)["Body"].read()
            if sha(got) != digest:
                half.append(k)
        except ClientError as e:
            if e.response["ResponseMetadata"]["HTTPStatusCode"] != 404:
                half.append(f"{k}: {e.response['Error']['Code']}")
    check("unacknowledged-objects-absent-or-whole", not half, f"{len(unacked)} unacked; {half[:5]}")
    print(f"# faults: {len(acked)} acknowledged, {len(unacked)} not", flush=True)
    parts = c.list_multipart_uploads(Bucket=B).get("Uploads", [])
    for u in parts:
        c.abort_multipart_upload(Bucket=B, Key=u["Key"], UploadId=u["UploadId"])


try:
    gw = Gateway("faults", os.path.join(TMP, "data-faults"), ["--upstream-max-retries", "1"],
                 env={"SCAIDRIVE_URL": emu.url, "SCAIDRIVE_GATEWAY_ACCESS_KEY_ID": KEY,
                      "SCAIDRIVE_GATEWAY_SECRET_ACCESS_KEY": SECRET, "SCAIDRIVE_TOKEN": "chaos-owner-token"})
    guard("under-faults", under_faults)
    guard("cut-downloads", cut_downloads)
    guard("latency", latency)
    emu.faults(error_rate=0.0, latency_ms=0, reset_after_bytes=None)
    guard("verify", verify)
finally:
    if gw:
        gw.stop()
    emu.stop()
