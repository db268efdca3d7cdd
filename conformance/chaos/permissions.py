#!/usr/bin/env python3
"""The permission matrix: users without a role, reader, contributor and a reader with a per-file
`deny READ` entry × S3 and WebDAV × every read and write, against the shared gateway (bucket mode
`folders` on share Chaos). Each cell checks the status; each refused write also checks that
nothing changed (item 12: a refused CreateBucket must not create the bucket; item 1: a per-file
deny hides everything of that file)."""

import os
import time

import requests

from botocore.exceptions import ClientError

from chaoslib import api, check, cred, dav, guard, md5, s3, skip

S3URL, DAV, EMU = os.environ["MAIN_S3"], os.environ["MAIN_DAV"], os.environ["MAIN_SCAIDRIVE"]
B = f"perm-{int(time.time()) % 100000}"
D = f"{DAV}/Chaos/{B}"
owner = s3(S3URL, *cred("owner"))
SECRET_BODY = b"the denied file's content " * 40
DENIED_ETAG = md5(SECRET_BODY)
REFUSED = {403, 404}


def status(fn):
    try:
        r = fn()
        return r["ResponseMetadata"]["HTTPStatusCode"]
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"]


def exists(key):
    return status(lambda: owner.head_object(Bucket=B, Key=key)) == 200


def content(key):
    return owner.get_object(Bucket=B, Key=key)["Body"].read()


def dav_status(*a, **kw):
    """The status of a WebDAV request, or the error when the answer broke off (a 200 whose body
    is cut is no refusal)."""
    try:
        return dav(*a, **kw).status_code
    except requests.RequestException as e:
        return f"{type(e).__name__} after the status line"


def cell(name, got, want):
    check(name, got in want, f"status {got}, want {sorted(want)}")


def setup():
    owner.create_bucket(Bucket=B)
    for k in ("readable.txt", "victim.txt", "victim-dav.txt"):
        owner.put_object(Bucket=B, Key=k, Body=b"public " + k.encode(), Metadata={"m": "v"})
    owner.put_object(Bucket=B, Key="denied.txt", Body=SECRET_BODY, Metadata={"secret": "hush"},
                     Tagging="t=secret")
    r = dav("PROPPATCH", f"{D}/denied.txt", *cred("owner"), data=PROPPATCH_BODY("hush"),
            headers={"Content-Type": "application/xml"})
    assert r.status_code == 207, f"PROPPATCH by the owner: {r.status_code}"
    token = "chaos-owner-token"
    root = api(EMU, token, "GET", "/folders/root/children", params={"share_id": "shr_CHAOS"}).json()
    folder = next(i["id"] for i in root["items"] if i["name"] == B)
    kids = api(EMU, token, "GET", f"/folders/{folder}/children", params={"share_id": "shr_CHAOS"}).json()
    fid = next(i["id"] for i in kids["items"] if i["name"] == "denied.txt")
    r = api(EMU, token, "POST", f"/permissions/acl/file/{fid}",
            json={"principal_type": "user", "principal_id": "usr_CHAOSDENIED", "permissions": ["READ"],
                  "ace_type": "deny", "inherit_to_children": False})
    assert r.status_code == 201, f"deny entry: {r.status_code} {r.text}"
    r = api(EMU, "chaos-denied-token", "GET", f"/files/{fid}")
    assert r.status_code == 403, f"ScaiDrive itself answers {r.status_code} to the denied reader"


def PROPPATCH_BODY(value):
    return (f'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:chaos">'
            f'<D:set><D:prop><Z:note>{value}</Z:note></D:prop></D:set></D:propertyupdate>')


PROPFIND_ALL = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'


def reads(user, target):
    """Every read of `target` as `user`; want = the statuses that are right."""
    c = s3(S3URL, *cred(user))
    k, s = cred(user)
    if user == "norole":
        ok = REFUSED
    elif user == "denied" and target == "denied.txt":
        ok = {403}
    else:
        ok = {200}
    acl_ok = REFUSED if user == "norole" else {403}
    tag = f"{user}/{target}"
    cell(f"s3-get/{tag}", status(lambda: c.get_object(Bucket=B, Key=target)), ok)
    cell(f"s3-head/{tag}", status(lambda: c.head_object(Bucket=B, Key=target)), ok)
    cell(f"s3-get-tagging/{tag}", status(lambda: c.get_object_tagging(Bucket=B, Key=target)), ok)
    cell(f"s3-get-acl/{tag}", status(lambda: c.get_object_acl(Bucket=B, Key=target)), acl_ok)
    cell(f"dav-get/{tag}", dav_status("GET", f"{D}/{target}", k, s), ok)
    cell(f"dav-head/{tag}", dav_status("HEAD", f"{D}/{target}", k, s), ok)
    ok207 = {207} if ok == {200} else ok
    cell(f"dav-propfind-depth0/{tag}",
         dav_status("PROPFIND", f"{D}/{target}", k, s, data=PROPFIND_ALL, headers={"Depth": "0"}), ok207)


def listings(user):
    c = s3(S3URL, *cred(user))
    k, s = cred(user)
    want = REFUSED if user == "norole" else {200}
    try:
        r = c.list_objects_v2(Bucket=B)
        st = r["ResponseMetadata"]["HTTPStatusCode"]
    except ClientError as e:
        r, st = None, e.response["ResponseMetadata"]["HTTPStatusCode"]
    cell(f"s3-list/{user}", st, want)
    r1 = dav("PROPFIND", f"{D}/", k, s, data=PROPFIND_ALL, headers={"Depth": "1"})
    cell(f"dav-propfind-depth1/{user}", r1.status_code, {207} if want == {200} else want)
    if user == "denied":
        # Item 1: the listing may name the file (a folder READ lists names), but nothing that
        # comes from the file itself: its MD5 ETag, user metadata, dead properties, checksums.
        etags = [o.get("ETag", "").strip('"') for o in (r or {}).get("Contents", []) if o["Key"] == "denied.txt"]
        check("s3-list-hides-denied-etag/denied", DENIED_ETAG not in etags, f"listing shows ETag {etags}")
        body = r1.text
        check("dav-propfind-depth1-hides-denied-props/denied",
              "hush" not in body and DENIED_ETAG not in body,
              "the denied file's dead property or MD5 is in the Depth 1 answer")


def s3_writes(user):
    c = s3(S3URL, *cred(user))
    allowed = user == "contributor"
    refused = REFUSED if user == "norole" else {403}
    st = status(lambda: c.put_object(Bucket=B, Key=f"new-{user}.txt", Body=b"x"))
    cell(f"s3-put/{user}", st, {200} if allowed else refused)
    if not allowed:
        check(f"s3-put-changes-nothing/{user}", not exists(f"new-{user}.txt"), "the object exists")
    if not allowed:
        st = status(lambda: c.delete_object(Bucket=B, Key="victim.txt"))
        cell(f"s3-delete/{user}", st, refused)
        check(f"s3-delete-changes-nothing/{user}", content("victim.txt") == b"public victim.txt", "victim changed")
    else:
        cell(f"s3-delete/{user}", status(lambda: c.delete_object(Bucket=B, Key=f"new-{user}.txt")), {204})
    st = status(lambda: c.copy_object(Bucket=B, Key=f"copy-{user}.txt",
                                      CopySource={"Bucket": B, "Key": "readable.txt"}))
    cell(f"s3-copy/{user}", st, {200} if allowed else refused)
    if not allowed:
        check(f"s3-copy-changes-nothing/{user}", not exists(f"copy-{user}.txt"), "the copy exists")
    bucket = f"{B}-acl-{user}"
    # authenticated-read adds an entry (everyone READ); public-read is created private (docs/s3.md § ACLs).
    st = status(lambda: c.create_bucket(Bucket=bucket, ACL="authenticated-read"))
    cell(f"s3-create-bucket-acl/{user}", st, refused)
    check(f"s3-create-bucket-acl-changes-nothing/{user}",
          status(lambda: owner.head_bucket(Bucket=bucket)) == 404, "the refused bucket exists (item 12)")
    if allowed:
        st = status(lambda: c.create_bucket(Bucket=f"{B}-private-{user}", ACL="private"))
        cell(f"s3-create-bucket-private/{user}", st, {200})


def dav_writes(user):
    k, s = cred(user)
    allowed = user == "contributor"
    # A share the user cannot see is a missing parent for a new resource: 409 is right there.
    refused = REFUSED | {409} if user == "norole" else {403}

    def want(ok):
        return ok if allowed else refused

    r = dav("PUT", f"{D}/dav-new-{user}.txt", k, s, data=b"x")
    cell(f"dav-put/{user}", r.status_code, want({201, 204}))
    if not allowed:
        check(f"dav-put-changes-nothing/{user}", not exists(f"dav-new-{user}.txt"), "the file exists")
    r = dav("COPY", f"{D}/readable.txt", k, s, headers={"Destination": f"{D}/dav-copy-{user}.txt"})
    cell(f"dav-copy/{user}", r.status_code, want({201, 204}))
    if not allowed:
        check(f"dav-copy-changes-nothing/{user}", not exists(f"dav-copy-{user}.txt"), "the copy exists")
    r = dav("PROPPATCH", f"{D}/readable.txt", k, s, data=PROPPATCH_BODY(f"by-{user}"),
            headers={"Content-Type": "application/xml"})
    if allowed:
        cell(f"dav-proppatch/{user}", r.status_code, {207})
    else:
        ok = r.status_code in refused or (r.status_code == 207 and "403" in r.text and "200 OK" not in r.text)
        check(f"dav-proppatch/{user}", ok, f"status {r.status_code}")
        got = dav("PROPFIND", f"{D}/readable.txt", *cred("owner"), data=PROPFIND_ALL, headers={"Depth": "0"})
        check(f"dav-proppatch-changes-nothing/{user}", f"by-{user}" not in got.text, "the property was set")
    lock = ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
            '<D:locktype><D:write/></D:locktype><D:owner>chaos</D:owner></D:lockinfo>')
    r = dav("LOCK", f"{D}/readable.txt", k, s, data=lock, headers={"Timeout": "Second-30", "Depth": "0"})
    cell(f"dav-lock/{user}", r.status_code, want({200}))
    if allowed and r.status_code == 200:
        tok = r.headers.get("Lock-Token", "")
        dav("UNLOCK", f"{D}/readable.txt", k, s, headers={"Lock-Token": tok})
    r = dav("MKCOL", f"{D}/dir-{user}", k, s)
    cell(f"dav-mkcol/{user}", r.status_code, want({201}))
    r = dav("MOVE", f"{D}/victim-dav.txt", k, s, headers={"Destination": f"{D}/moved-{user}.txt"})
    cell(f"dav-move/{user}", r.status_code, want({201, 204}))
    if not allowed:
        check(f"dav-move-changes-nothing/{user}",
              content("victim-dav.txt") == b"public victim-dav.txt" and not exists(f"moved-{user}.txt"),
              "the file moved")
        r = dav("DELETE", f"{D}/victim-dav.txt", k, s)
        cell(f"dav-delete/{user}", r.status_code, refused)
        check(f"dav-delete-changes-nothing/{user}", exists("victim-dav.txt"), "the file is gone")
    else:
        cell(f"dav-delete/{user}", dav("DELETE", f"{D}/moved-{user}.txt", k, s).status_code, {204})


def main():
    if guard("setup", setup) is None and not exists("denied.txt"):
        skip("matrix", "the setup failed")
        return
    for user in ("norole", "reader", "denied"):
        guard(f"reads/{user}", lambda: reads(user, "readable.txt" if user != "denied" else "denied.txt"))
    guard("reads/denied-other-file", lambda: reads("denied", "readable.txt"))
    for user in ("norole", "reader", "contributor", "denied"):
        guard(f"listings/{user}", lambda: listings(user))
    for user in ("norole", "reader", "denied", "contributor"):
        guard(f"s3-writes/{user}", lambda: s3_writes(user))
        guard(f"dav-writes/{user}", lambda: dav_writes(user))
    reads("contributor", "readable.txt")


main()
