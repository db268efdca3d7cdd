#!/usr/bin/env python3
"""The bad-input corpus against the shared gateway: signatures and regions (item 6), oversized and
malformed headers, refused paths on S3 and WebDAV (items 16, 17), XML bombs and oversized XML
bodies (item 5), the range corpus on S3 and WebDAV GET (item 2), Content-Length lies (item 14),
stalled bodies and silent connections (item 4) and `Expect: 100-continue` with an empty body
(item 13). Every read is bounded by a timeout and a byte cap."""

import os
import re
import socket
import threading
import time
import urllib.parse

from chaoslib import (MIB, basic, check, cred, dav, error_code, guard, raw, s3, sign)

S3URL, DAV = os.environ["MAIN_S3"], os.environ["MAIN_DAV"]
PID = int(os.environ["MAIN_PID"])
BODY_TIMEOUT = int(os.environ.get("CHAOS_BODY_TIMEOUT") or 20)
KEY, SECRET = cred("owner")
B = f"bad-{int(time.time()) % 100000}"
c = s3(S3URL, KEY, SECRET)
AUTH = {"Authorization": basic(KEY, SECRET)}
OBJ = os.urandom(1000)


def signed(method, path, headers=None, region="us-east-1", body=b""):
    return sign(method, S3URL + path, KEY, SECRET, headers, region=region, body=body)


def rss_kib():
    with open(f"/proc/{PID}/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("VmRSS:")))


def has_message(a):
    return b"<Message>" in a.body and b"<Message></Message>" not in a.body


def signatures():
    path = f"/{B}/obj.bin"
    h = signed("GET", path)
    h["Authorization"] = h["Authorization"][:-4] + ("0000" if not h["Authorization"].endswith("0000") else "1111")
    a = raw(S3URL, "GET", path, h)
    check("sig-bad-signature", a.status == 403 and error_code(a.body) == "SignatureDoesNotMatch", repr(a))
    check("sig-bad-signature-has-message", has_message(a), f"{a!r} (item 19)")
    a = raw(S3URL, "GET", path)
    check("sig-missing", a.status == 403 and error_code(a.body) == "AccessDenied", repr(a))
    a = raw(S3URL, "GET", path, signed("GET", path, region="eu-west-1"))
    check("sig-wrong-region", a.status == 400 and error_code(a.body) == "AuthorizationHeaderMalformed"
          and b"us-east-1" in a.body, f"{repr(a)} (item 6)")
    a = raw(S3URL, "GET", path, signed("GET", path, region="US"))
    check("sig-region-US", a.status == 200 or (a.status == 400 and error_code(a.body) == "AuthorizationHeaderMalformed"
                                                 and b"us-east-1" in a.body), f"{repr(a)} (item 6)")


def headers():
    path = f"/{B}/obj.bin"
    h = signed("GET", path)
    h["X-Huge"] = "a" * 70_000
    a = raw(S3URL, "GET", path, h)
    check("header-oversized", a.status in (400, 431), repr(a))
    a = raw(S3URL, "GET", path, {"Bad Header Line": "x", "NoColonHere\x01": "y"})
    check("header-malformed", a.status == 400, repr(a))
    check("serves-after-bad-headers", c.get_object(Bucket=B, Key="obj.bin")["Body"].read() == OBJ)


def paths():
    c.put_object(Bucket=B, Key="keep/child.txt", Body=b"keep")
    for name, key in [("dotdot", "a/../keep"), ("dot", "a/./b"),
                      ("control-char", "a%01b"), ("backslash", "a%5Cb"), ("long-segment", "x" * 300)]:
        path = f"/{B}/{key}"
        a = raw(S3URL, "PUT", path, signed("PUT", path, {"Content-Length": "1"}), b"x")
        check(f"s3-path-{name}", a.status == 400 and has_message(a), repr(a))
    dav_base = f"/Chaos/{B}"
    for name, p in [("dotdot", "keep/x/.."), ("dotdot-encoded", "keep/x/%2E%2E"), ("dot", "keep/."),
                    ("control-char", "a%01b"), ("backslash", "a%5Cb"), ("long-name", "x" * 300)]:
        a = raw(DAV, "PUT", f"{dav_base}/{p}", AUTH, b"x")
        check(f"dav-put-path-{name}", a.status in (400, 403) and len(a.body) > 0, f"{repr(a)} (items 16, 17)")
    a = raw(DAV, "DELETE", f"{dav_base}/keep/child.txt/..", AUTH)
    still = kept("keep/child.txt")
    check("dav-delete-dotdot-refused", a.status == 400 and still, f"{repr(a)}, child kept: {still} (item 17)")
    c.put_object(Bucket=B, Key="keep/child.txt", Body=b"keep")
    a = raw(DAV, "MOVE", f"{dav_base}/keep/child.txt", {**AUTH, "Destination": f"{DAV}{dav_base}/keep/%2E%2E/moved.txt"})
    still = kept("keep/child.txt")
    check("dav-move-destination-dotdot-refused", a.status == 400 and still, f"{repr(a)} (item 17)")
    a = raw(DAV, "MOVE", f"{dav_base}/keep/child.txt", {**AUTH, "Destination": f"{DAV}{dav_base}/{'y' * 300}"})
    check("dav-move-long-name-refused", a.status in (400, 403) and len(a.body) > 0, f"{repr(a)} (item 16)")


def kept(key):
    try:
        return c.get_object(Bucket=B, Key=key)["Body"].read() == b"keep"
    except Exception:  # gone
        return False


def xml():
    path = f"/{B}/?delete"
    bomb = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
            + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
            + ']><Delete><Object><Key>&i;</Key></Object></Delete>').encode()
    before = rss_kib()
    a = raw(S3URL, "POST", path, signed("POST", path, {"Content-Length": str(len(bomb))}, body=bomb), bomb)
    check("xml-entity-expansion", a.status == 400 and error_code(a.body) == "MalformedXML", f"{a!r} (item 5)")
    deep = b"<Delete>" + b"<a>" * 200_000 + b"</a>" * 200_000 + b"</Delete>"
    a = raw(S3URL, "POST", path, signed("POST", path, {"Content-Length": str(len(deep))}, body=deep), deep, timeout=30)
    check("xml-deep-nesting", a.status == 400 and error_code(a.body) in ("MalformedXML", "MaxMessageLengthExceeded"),
          f"{a!r} (item 5)")
    entry = b"<Object><Key>" + b"k" * 1000 + b"</Key></Object>"
    huge = b"<Delete>" + entry * (20 * MIB // len(entry)) + b"</Delete>"
    results = []

    def send():
        results.append(raw(S3URL, "POST", path, signed("POST", path, {"Content-Length": str(len(huge))}), huge,
                           timeout=60))
    threads = [threading.Thread(target=send) for _ in range(4)]
    peak = [before]

    def watch():
        while any(t.is_alive() for t in threads):
            peak[0] = max(peak[0], rss_kib())
            time.sleep(0.1)
    for t in threads:
        t.start()
    w = threading.Thread(target=watch)
    w.start()
    for t in threads:
        t.join(70)
    w.join(5)
    codes = [(a.status, error_code(a.body)) for a in results]
    check("xml-20MiB-delete-objects", len(codes) == 4 and all(
        s == 400 and e in ("MalformedXML", "MaxMessageLengthExceeded") for s, e in codes), f"{codes} (item 5)")
    grew = (peak[0] - before) // 1024
    check("xml-20MiB-rss-bounded", grew < 64, f"RSS grew {grew} MiB with 4 bodies of 20 MiB (item 5)")


def ranges():
    path = f"/{B}/obj.bin"
    size = len(OBJ)
    corpus = ["bytes=5-18446744073709551615", "bytes=5-18446744073709551616", "bytes=18446744073709551615-",
              "bytes=0-0", "bytes=-0", "bytes=-5", "bytes=999999-", "bytes=5-2", "bytes=abc", "bytes=0-1,5-6",
              "bytes=-18446744073709551615", "items=0-1"]
    for i, rng in enumerate(corpus):
        for side, (url, p, h) in {"s3": (S3URL, path, signed("GET", path)),
                                  "webdav": (DAV, f"/Chaos/{B}/obj.bin", dict(AUTH))}.items():
            h = dict(h)
            h["Range"] = rng
            a = raw(url, "GET", p, h, timeout=5, cap=2 * MIB)
            cl = a.header("content-length")
            # S3 may refuse a range it cannot parse with a 400 that says so; WebDAV ignores it.
            ok = a.status in ((200, 206, 400, 416) if side == "s3" else (200, 206, 416)) and "cap" not in a.note and "streaming" not in a.note \
                and (len(a.body) <= size or a.status == 400) and (cl is None or int(cl) <= size or a.status == 400) and (cl is None or int(cl) == len(a.body))
            if a.status == 206 and not (a.header("content-type") or "").startswith("multipart/byteranges"):
                ok = ok and OBJ.find(a.body) >= 0 if a.body else ok
            check(f"range-{side}-{i:02}[{rng}]", ok,
                  f"{a.status} Content-Length {cl}, {len(a.body)} bytes read, {a.note}" + (" (item 2)" if i < 3 else ""))


def lengths():
    """A body shorter than its Content-Length, the writing side then closed (item 14)."""
    for side, url, p, h in [("s3", S3URL, f"/{B}/short.bin", None), ("webdav", DAV, f"/Chaos/{B}/short-dav.bin", AUTH)]:
        headers = signed("PUT", p, {"Content-Length": "10000"}) if h is None else {**h, "Content-Length": "10000"}
        u = urllib.parse.urlsplit(url)
        s = socket.create_connection((u.hostname, u.port), timeout=5)
        try:
            head = f"PUT {p} HTTP/1.1\r\nHost: {u.netloc}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            s.sendall(head.encode() + b"\r\n" + b"x" * 4000)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(15)
            data = b""
            try:
                while chunk := s.recv(65536):
                    data += chunk
            except OSError:
                pass
        finally:
            s.close()
        status = int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else 0
        check(f"{side}-short-body", status in (0, 400), f"status {status} (item 14)")
        check(f"{side}-short-body-no-object", _absent(p.rsplit("/", 1)[1]), "a short body made an object")


def _absent(key):
    try:
        c.head_object(Bucket=B, Key=key)
        return False
    except Exception:  # 404 (or any refusal) = absent
        return True


def stalls():
    """Bodies that stop without closing, and a connection that sends nothing (item 4)."""
    bound = BODY_TIMEOUT + 8
    up = c.create_multipart_upload(Bucket=B, Key="stall-part.bin")["UploadId"]
    cases = [("s3-put", S3URL, f"/{B}/stall.bin", None),
             ("s3-upload-part", S3URL, f"/{B}/stall-part.bin?partNumber=1&uploadId={urllib.parse.quote(up)}", None),
             ("webdav-put", DAV, f"/Chaos/{B}/stall-dav.bin", AUTH)]
    out = {}

    def one(name, url, p, h):
        headers = signed("PUT", p, {"Content-Length": "100000"}) if h is None else {**h, "Content-Length": "100000"}
        t0 = time.monotonic()
        a = raw(url, "PUT", p, headers, b"y" * 100000, pause_after=1000, timeout=bound)
        out[name] = (a, time.monotonic() - t0)

    def silent():
        u = urllib.parse.urlsplit(S3URL)
        s = socket.create_connection((u.hostname, u.port), timeout=5)
        t0 = time.monotonic()
        s.settimeout(40)
        try:
            closed = s.recv(1) == b""
        except OSError:
            closed = False
        finally:
            s.close()
        out["silent"] = (closed, time.monotonic() - t0)

    threads = [threading.Thread(target=one, args=case) for case in cases] + [threading.Thread(target=silent)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for name, _, _, _ in cases:
        a, took = out.get(name, (None, 0))
        want = (408,) if name.startswith("webdav") else (400,)
        ok = a is not None and a.status in want and (name.startswith("webdav") or error_code(a.body) == "RequestTimeout")
        check(f"stalled-body-{name}", ok, f"{a!r} after {took:.0f} s, want {want} within {bound} s (item 4)")
    closed, took = out.get("silent", (False, 0))
    check("silent-connection-closed-at-header-timeout", closed and took <= 35, f"closed {closed} after {took:.0f} s (item 4)")
    c.abort_multipart_upload(Bucket=B, Key="stall-part.bin", UploadId=up)


def expect_continue():
    """An empty PUT with Expect: 100-continue: `100 Continue` comes (botocore relies on it), and
    the next request on the same connection gets its own answer (item 13)."""
    u = urllib.parse.urlsplit(S3URL)
    s = socket.create_connection((u.hostname, u.port), timeout=5)
    s.settimeout(5)
    try:
        p1, p2 = f"/{B}/empty-1.txt", f"/{B}/empty-2.txt"
        h1 = signed("PUT", p1, {"Content-Length": "0", "Expect": "100-continue"})
        req = f"PUT {p1} HTTP/1.1\r\nHost: {u.netloc}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h1.items()) + "\r\n"
        s.sendall(req.encode())
        data = b""
        deadline = time.monotonic() + 5
        # Read until a final (non-1xx) answer head is complete; a `100 Continue` may come first.
        final = re.compile(rb"HTTP/1\.1 [2-5]\d\d[^\r]*\r\n.*?\r\n\r\n", re.S)
        while not final.search(data) and time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        check("expect-100-empty-body-sends-100", data.startswith(b"HTTP/1.1 100"), f"{data[:40]!r} (item 13)")
        check("expect-100-empty-body-answers-200", b"HTTP/1.1 200" in data, f"{data[:80]!r}")
        h2 = signed("PUT", p2, {"Content-Length": "3"}, body=b"abc")
        req = f"PUT {p2} HTTP/1.1\r\nHost: {u.netloc}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h2.items()) + "\r\n"
        s.sendall(req.encode() + b"abc")
        more = b""
        try:
            while b"\r\n\r\n" not in more:
                chunk = s.recv(65536)
                if not chunk:
                    break
                more += chunk
        except OSError:
            pass
        check("expect-100-next-request-answered", more.startswith(b"HTTP/1.1 200"), f"{more[:40]!r} (item 13)")
    finally:
        s.close()


def main():
    c.create_bucket(Bucket=B)
    c.put_object(Bucket=B, Key="obj.bin", Body=OBJ)
    for name, fn in [("signatures", signatures), ("headers", headers), ("paths", paths), ("xml", xml),
                     ("ranges", ranges), ("lengths", lengths), ("stalls", stalls), ("expect", expect_continue)]:
        guard(name, fn)
    r = dav("GET", f"{DAV}/Chaos/{B}/obj.bin", KEY, SECRET)
    check("serves-after-bad-input", r.status_code == 200 and r.content == OBJ, f"{r.status_code}")


main()
