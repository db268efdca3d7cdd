#!/usr/bin/env python3
"""Request driver of the benchmark: many small requests from N concurrent clients, each client on
its own keep-alive connection, with per-request latency. Speaks three dialects:

  direct  the ScaiDrive API (POST /files multipart, GET /files/{id}/content, GET /files/{id},
          GET /folders/{id}/children)
  s3      S3 with SigV4 (UNSIGNED-PAYLOAD), path-style
  dav     WebDAV with Basic auth

Usage (all output is one JSON object on stdout):

  load.py small  DIALECT ENDPOINT OP COUNT PARALLEL [options]   # OP: put | get | head
  load.py list   DIALECT ENDPOINT REPEAT [options]             # one full listing, REPEAT times

Options: --token T (direct), --share S (direct), --folder F (direct: folder id; put/list),
--ids FILE (direct get/head: file ids, one a line), --key K --secret S (s3, dav),
--prefix P (s3: bucket/prefix; dav: collection path), --body FILE (put: the body).
Every response is checked (status, and for GET the length); a failure aborts the run.

ENDPOINT may list several servers, comma-separated (instances of one cluster): each client keeps a
connection to every one of them and request i goes to server (i + ROTATE) mod n (--rotate ROTATE,
default 0), page i of a listing to server i mod n, counted across the repeats: round-robin as a
balancer without stickiness would spread it. A different --rotate per phase sends the GET and HEAD
of an object to another instance than the one that wrote it.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import re
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

REGION = "us-east-1"
S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
NEXT_TOKEN = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")


_SIGNING_KEYS = {}


def signing_key(secret, day):
    """The SigV4 signing key of a secret and day, derived once per day as SDKs keep it (the
    four HMACs are most of a Python client's signing time, not the server's)."""
    k = _SIGNING_KEYS.get((secret, day))
    if k is None:
        k = f"AWS4{secret}".encode()
        for part in (day, REGION, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        _SIGNING_KEYS[(secret, day)] = k
    return k


def sigv4_headers(method, host, path, query, key, secret):
    """Headers of a SigV4 request with an unsigned payload (path already URI-encoded)."""
    t = time.gmtime()
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", t)
    day = amz_date[:8]
    q = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(query)
    )
    headers = {"host": host, "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [method, path, q, "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, "UNSIGNED-PAYLOAD"]
    )
    scope = f"{day}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    sig = hmac.new(signing_key(secret, day), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed}, Signature={sig}"
    del headers["host"]
    return headers, q


class Conn:
    """One keep-alive connection; reconnects when the server closed it."""

    def __init__(self, endpoint):
        u = urllib.parse.urlsplit(endpoint)
        self.host = u.netloc
        self.base = u.path.rstrip("/")
        self.c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)

    def request(self, method, path, headers=None, body=None, query=()):
        q = "&".join(f"{urllib.parse.quote(k)}={urllib.parse.quote(v)}" for k, v in query)
        url = path + (f"?{q}" if q else "")
        for attempt in (0, 1):
            try:
                self.c.request(method, url, body=body, headers=headers or {})
                r = self.c.getresponse()
                data = r.read()
                return r.status, r, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.c.close()
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def build_op(a, conn, op, body):
    """Returns f(i) performing request i of the workload on `conn`."""
    if a.dialect == "direct":
        auth = {"Authorization": f"Bearer {a.token}"}
        ids = open(a.ids).read().split() if a.ids else []

        def direct(i):
            if op == "put":
                boundary = uuid.uuid4().hex
                fields = [("share_id", a.share)] + ([("folder_id", a.folder)] if a.folder else [])
                parts = b"".join(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in fields
                )
                parts += (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="small-{i}.bin"\r\n'
                    "Content-Type: application/octet-stream\r\n\r\n"
                ).encode() + body + f"\r\n--{boundary}--\r\n".encode()
                h = dict(auth, **{"Content-Type": f"multipart/form-data; boundary={boundary}"})
                return conn.request("POST", conn.base + "/api/v1/files", h, parts), (201,)
            fid = ids[i % len(ids)]
            if op == "get":
                return conn.request("GET", conn.base + f"/api/v1/files/{fid}/content", auth), (200,)
            return conn.request("GET", conn.base + f"/api/v1/files/{fid}", auth), (200,)

        return direct
    if a.dialect == "s3":
        bucket_prefix = a.prefix.strip("/")

        def s3(i):
            path = conn.base + "/" + urllib.parse.quote(f"{bucket_prefix}/{i}.bin", safe="/-_.~")
            method = {"put": "PUT", "get": "GET", "head": "HEAD"}[op]
            h, _ = sigv4_headers(method, conn.host, path, (), a.key, a.secret)
            if op == "put":
                h["Content-Length"] = str(len(body))
                return conn.request(method, path, h, body), (200,)
            return conn.request(method, path, h), (200,)

        return s3
    auth = {"Authorization": "Basic " + base64.b64encode(f"{a.key}:{a.secret}".encode()).decode()}

    def dav(i):
        path = conn.base + "/" + urllib.parse.quote(f"{a.prefix.strip('/')}/{i}.bin", safe="/-_.~")
        if op == "put":
            return conn.request("PUT", path, dict(auth, **{"Content-Length": str(len(body))}), body), (200, 201, 204)
        return conn.request({"get": "GET", "head": "HEAD"}[op], path, auth), (200,)

    return dav


def pct(sorted_ms, p):
    if not sorted_ms:
        return None
    i = min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[i]


def summary(lat, wall, extra=None):
    lat = sorted(lat)
    out = {
        "count": len(lat),
        "seconds": round(wall, 4),
        "ops_per_s": round(len(lat) / wall, 2) if wall > 0 else None,
        "p50_ms": round(pct(lat, 50), 3),
        "p99_ms": round(pct(lat, 99), 3),
    }
    out.update(extra or {})
    return out


def run_small(a):
    body = open(a.body, "rb").read() if a.body else b""
    lat = []
    lock = threading.Lock()
    nxt = iter(range(1, a.count + 1))
    failures = []

    def worker():
        fns = [build_op(a, Conn(e), a.op, body) for e in a.endpoint.split(",")]
        mine = []
        while True:
            with lock:
                i = next(nxt, None)
            if i is None or failures:
                break
            t0 = time.perf_counter()
            (status, _resp, data), ok = fns[(i + a.rotate) % len(fns)](i)
            mine.append((time.perf_counter() - t0) * 1000)
            if status not in ok or (a.op == "get" and a.body and len(data) != len(body)):
                failures.append(f"request {i}: status {status}, {len(data)} bytes: {data[:200]!r}")
                break
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(a.parallel)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if failures:
        sys.exit(f"load.py: {a.dialect} {a.op}: {failures[0]}")
    return summary(lat, wall)


def list_once(a, conns, turn):
    """One full listing; returns the number of entries (or a callable counting them, called after
    the clock stops) and the requests it took. `turn` counts requests across listings: request
    `turn` goes to conns[turn mod n]."""
    conn = conns[turn % len(conns)]
    if a.dialect == "direct":
        path = conn.base + f"/api/v1/folders/{a.folder or 'root'}/children"
        status, _, data = conn.request("GET", path, {"Authorization": f"Bearer {a.token}"}, query=[("share_id", a.share)])
        if status != 200:
            sys.exit(f"load.py: direct list: {status} {data[:200]!r}")
        # Counted after the clock stops, like the other dialects.
        return (lambda: len(json.loads(data)["items"])), 1
    if a.dialect == "s3":
        bucket, _, prefix = a.prefix.strip("/").partition("/")
        path = conn.base + "/" + bucket
        pages, token = [], None
        while True:
            q = [("list-type", "2"), ("prefix", prefix + "/"), ("max-keys", "1000")]
            if token:
                q.append(("continuation-token", token))
            conn = conns[(turn + len(pages)) % len(conns)]
            h, qs = sigv4_headers("GET", conn.host, path, q, a.key, a.secret)
            status, _, data = conn.request("GET", path + "?" + qs, h)
            if status != 200:
                sys.exit(f"load.py: s3 list: {status} {data[:300]!r}")
            pages.append(data)
            # Only the HTTP exchanges are timed: the token comes from the raw bytes, and the
            # pages are parsed after the clock stops.
            m = NEXT_TOKEN.search(data)
            if not m or b"<IsTruncated>true</IsTruncated>" not in data:
                return (lambda: sum(len(ET.fromstring(d).findall(f"{S3NS}Contents")) for d in pages)), len(pages)
            token = m.group(1).decode()
    auth = {"Authorization": "Basic " + base64.b64encode(f"{a.key}:{a.secret}".encode()).decode(), "Depth": "1",
            "Content-Type": "application/xml"}
    body = b'<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><allprop/></propfind>'
    path = conn.base + "/" + urllib.parse.quote(a.prefix.strip("/"), safe="/-_.~") + "/"
    status, _, data = conn.request("PROPFIND", path, auth, body)
    if status != 207:
        sys.exit(f"load.py: dav list: {status} {data[:300]!r}")
    # Counted after the clock stops (the multistatus lists the collection itself too).
    return (lambda: len(ET.fromstring(data).findall("{DAV:}response")) - 1), 1


def run_list(a):
    conns = [Conn(e) for e in a.endpoint.split(",")]
    lat, entries, reqs, turn = [], None, None, 0
    t_all = time.perf_counter()
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        entries, reqs = list_once(a, conns, turn)
        turn += reqs
        lat.append((time.perf_counter() - t0) * 1000)
        if callable(entries):
            entries = entries()
    return summary(lat, time.perf_counter() - t_all, {"entries": entries, "requests_per_listing": reqs,
                                                       "first_ms": round(lat[0], 3)})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["small", "list"])
    p.add_argument("dialect", choices=["direct", "s3", "dav"])
    p.add_argument("endpoint")
    p.add_argument("rest", nargs="*")
    for opt in ("token", "share", "folder", "ids", "key", "secret", "prefix", "body"):
        p.add_argument(f"--{opt}")
    p.add_argument("--rotate", type=int, default=0)
    a = p.parse_args()
    if a.mode == "small":
        a.op, a.count, a.parallel = a.rest[0], int(a.rest[1]), int(a.rest[2])
        out = run_small(a)
    else:
        a.repeat = int(a.rest[0])
        out = run_list(a)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
