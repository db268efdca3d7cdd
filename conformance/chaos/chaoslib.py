"""Shared helpers of the chaos checks (conformance/chaos/*.py, run by conformance/chaos.sh).

Gateways are started with conformance/lib/start-gateway.sh (the helper run-clients.sh uses);
requests that a client library would tidy up (cut bodies, lying lengths, odd paths) go over raw
sockets, signed with botocore's SigV4 signer. Every network call has a timeout and every body
read a byte cap: a check can fail, never hang.
"""

import hashlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

import boto3
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(CONF, "lib"))
from checks import check, failures  # noqa: E402,F401

BIN = os.environ.get("GATEWAY_BIN", "")
TMP = os.environ.get("CHAOS_TMP", "/tmp")
RESULTS = os.environ.get("RESULTS_DIR", os.path.join(CONF, "results"))
REGION = "us-east-1"
MIB = 1024 * 1024


def skip(name, why):
    print(f"SKIP {name}: {why}", flush=True)


def guard(name, fn):
    """Runs fn(); an exception is a FAIL of `name` (the script goes on)."""
    try:
        return fn()
    except Exception as e:  # any failure of the check's own steps is the check's failure
        check(name, False, f"{type(e).__name__}: {e}"[:300])
        return None


def sha(data):
    return hashlib.sha256(data).hexdigest()


def md5(data):
    return hashlib.md5(data).hexdigest()


def multipart_etag(parts):
    return '"%s-%d"' % (hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest(), len(parts))


def wait_until(fn, seconds, step=0.2):
    """Polls fn() until it returns a truthy value or `seconds` pass; returns the last value."""
    deadline = time.monotonic() + seconds
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


# --- processes --------------------------------------------------------------------------------


class Gateway:
    """A `serve` started by start-gateway.sh; `restart()` starts it again on the same data dir."""

    def __init__(self, name, data_dir, flags=(), env=None):
        self.name, self.data_dir, self.flags, self.env = name, data_dir, list(flags), env or {}
        self.pid = None
        self.start()

    def start(self):
        env = dict(os.environ)
        env.setdefault("SCAIDRIVE_URL", "")
        env.update(self.env)
        banner = os.path.join(TMP, f"banner-{self.name}.txt")
        log = os.path.join(RESULTS, f"chaos-gateway-{self.name}.log")
        with open(log, "ab") as f:
            f.write(f"--- start {time.strftime('%H:%M:%S')}\n".encode())
        tmp_log = log + ".part"
        out = subprocess.run(
            [os.path.join(CONF, "lib", "start-gateway.sh"), BIN, self.data_dir, banner, tmp_log, *self.flags],
            env=env, capture_output=True, text=True, timeout=90,
        )
        # Keep the log of every start (restarts append).
        if out.returncode != 0:
            raise RuntimeError(f"gateway {self.name} did not start: {out.stderr[-500:]}")
        vals = {}
        for line in out.stdout.splitlines():
            k, _, v = line.partition("=")
            vals[k] = shlex.split(v)[0] if v else ""
        self.pid = int(vals["pid"])
        self.s3url, self.davurl, self.admin = vals["s3url"], vals["davurl"], vals["admin"]
        self.scaidrive, self.key, self.secret = vals["scaidrive"], vals.get("key", ""), vals.get("secret", "")
        self.log_part = tmp_log
        self.log = log

    def alive(self):
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def _reap(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self._keep_log()

    def _keep_log(self):
        try:
            with open(self.log_part, "rb") as src, open(self.log, "ab") as dst:
                dst.write(src.read())
            os.remove(self.log_part)
        except OSError:
            pass

    def kill9(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._reap(10)

    def stop(self):
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            self._keep_log()
            return
        self._reap(35)
        self.kill9()

    def restart(self):
        self.start()

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            m = re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M)
        return int(m.group(1)) if m else 0

    def hostport(self, url):
        u = urllib.parse.urlsplit(url)
        return u.hostname, u.port


class Emulator:
    """`scaidrive-gateway emulator` on a free port, for checks that need faults."""

    def __init__(self, data_dir, seed):
        self.out = os.path.join(TMP, "emulator.out")
        log = open(os.path.join(RESULTS, "chaos-emulator.log"), "wb")
        self.proc = subprocess.Popen(
            [BIN, "emulator", "--listen", "127.0.0.1:0", "--data", data_dir, "--seed", seed],
            stdout=open(self.out, "wb"), stderr=log, stdin=subprocess.DEVNULL,
        )

        def url():
            try:
                m = re.search(r"^export SCAIDRIVE_URL=(\S+)", open(self.out).read(), re.M)
            except OSError:
                return None
            return m.group(1) if m else None

        self.url = wait_until(url, 30)
        if not self.url:
            self.stop()
            raise RuntimeError("the emulator printed no SCAIDRIVE_URL")

    def faults(self, **kw):
        r = requests.put(f"{self.url}/_emulator/faults", json=kw, timeout=10)
        r.raise_for_status()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def write_seed(path, users, share_members, extra=""):
    """A seed with one share `Chaos` (id shr_CHAOS); users = [(short, is_admin)], the first owns."""
    lines = ['[tenant]', 'name = "chaos"', '']
    for u, admin in users:
        lines += ['[[users]]', f'id = "usr_CHAOS{u.upper()}"', f'email = "{u}@chaos.example"',
                  f'name = "{u}"', f'display_name = "{u}"', f'is_admin = {"true" if admin else "false"}', '',
                  '[[tokens]]', f'token = "chaos-{u}-token"', f'user = "usr_CHAOS{u.upper()}"', '']
    owner = users[0][0]
    members = ", ".join(f'{{ principal = "usr_CHAOS{u.upper()}", role = "{r}" }}' for u, r in share_members)
    lines += ['[[shares]]', 'id = "shr_CHAOS"', 'name = "Chaos"', 'share_type = "central"',
              f'owner_id = "usr_CHAOS{owner.upper()}"', f'members = [ {members} ]', '', extra]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def cred(user):
    """The static key pair of a seeded user (see chaos.sh's configuration)."""
    k = ("AKIACHAOS" + user.upper() + "0" * 20)[:20]
    return k, ("chaos-secret-" + user + "-" + "x" * 40)[:40]


def credentials_toml(users):
    out = []
    for u in users:
        k, s = cred(u)
        out += ['[[credentials]]', f'access_key_id = "{k}"', f'secret_access_key = "{s}"',
                f'token = "chaos-{u}-token"', '']
    return "\n".join(out)


# --- clients ----------------------------------------------------------------------------------


def s3(endpoint, key, secret, retries=1, read_timeout=30):
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": retries, "mode": "standard"},
                      connect_timeout=5, read_timeout=read_timeout),
    )


def sign(method, url, key, secret, headers=None, region=REGION, payload="UNSIGNED-PAYLOAD",
         body=None):
    """Headers of a SigV4-signed request (the path is signed as given, already encoded). Over
    plain HTTP botocore signs the payload's SHA-256: pass the `body` that will be sent."""
    h = dict(headers or {})
    h["x-amz-content-sha256"] = payload
    req = AWSRequest(method=method, url=url, headers=h, data=body)
    S3SigV4Auth(Credentials(key, secret), "s3", region).add_auth(req)
    return dict(req.headers.items())


def basic(key, secret):
    import base64
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


class Answer:
    def __init__(self, status, headers, body, note=""):
        self.status, self.headers, self.body, self.note = status, headers, body, note

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"{self.status} {self.body[:200]!r}{' ' + self.note if self.note else ''}"


def raw(url, method, path, headers=None, body=b"", send_bytes=None, close_after_send=False,
        timeout=15, cap=4 * MIB, pause_after=None, pause_secs=0):
    """One request over a fresh socket. `path` goes on the request line untouched. Sends `body`
    (or only its first `send_bytes` bytes); `close_after_send` closes without reading; with
    `pause_after` stops sending after that many bytes for `pause_secs` (a stalled body). Reads the
    answer with `timeout` seconds in all and at most `cap` body bytes. Returns an Answer (status 0
    when no status line came)."""
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=5)
    deadline = time.monotonic() + timeout
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: {u.netloc}\r\n"
        for k, v in (headers or {}).items():
            head += f"{k}: {v}\r\n"
        if "content-length" not in {k.lower() for k in (headers or {})} and \
                "transfer-encoding" not in {k.lower() for k in (headers or {})}:
            head += f"Content-Length: {len(body)}\r\n"
        head += "Connection: close\r\n\r\n"
        s.sendall(head.encode("utf-8", "surrogateescape"))
        data = body if send_bytes is None else body[:send_bytes]
        if pause_after is not None:
            s.sendall(data[:pause_after])
            data = b""
        try:
            for i in range(0, len(data), 65536):
                s.sendall(data[i:i + 65536])
        except OSError as e:  # the server answered early and closed: read what it said
            note = f"send stopped: {e}"
        else:
            note = ""
        if close_after_send:
            return Answer(0, {}, b"", "closed by the client")
        return _read_answer(s, deadline, cap, note)
    finally:
        s.close()


def _read_answer(s, deadline, cap, note=""):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = _recv(s, deadline)
        if chunk is None:
            return Answer(0, {}, buf, note + " no answer within the timeout")
        if not chunk:
            return Answer(0, {}, buf, note + " closed without an answer")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    # Skip interim answers (100 Continue).
    while lines and re.match(r"HTTP/1\.\d 1\d\d", lines[0]):
        buf = rest
        while b"\r\n\r\n" not in buf:
            chunk = _recv(s, deadline)
            if not chunk:
                return Answer(100, {}, b"", note + " only an interim answer")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.\d (\d{3})", lines[0]) if lines else None
    status = int(m.group(1)) if m else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = rest
    while len(body) < cap:
        chunk = _recv(s, deadline)
        if chunk is None:
            note += " body still streaming at the timeout"
            break
        if not chunk:
            break
        body += chunk
        cl = headers.get("content-length")
        if cl and cl.isdigit() and len(body) >= int(cl):
            break
    else:
        note += f" body over the {cap}-byte cap"
    return Answer(status, headers, body, note.strip())


def _recv(s, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    s.settimeout(left)
    try:
        return s.recv(65536)
    except socket.timeout:
        return None
    except OSError:
        return b""


def dav(method, url, key, secret, timeout=20, **kw):
    """A WebDAV request with Basic auth (requests; no retries)."""
    h = kw.pop("headers", {})
    h["Authorization"] = basic(key, secret)
    return requests.request(method, url, headers=h, timeout=timeout, allow_redirects=False, **kw)


def api(base, token, method, path, **kw):
    """A ScaiDrive REST call (the emulator) with a bearer token."""
    return requests.request(method, f"{base}/api/v1{path}", headers={"Authorization": f"Bearer {token}"},
                            timeout=20, **kw)


def error_code(body):
    m = re.search(rb"<Code>([^<]*)</Code>", body or b"")
    return m.group(1).decode() if m else ""
