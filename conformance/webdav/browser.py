#!/usr/bin/env python3
"""The gateway's browser page in headless Chromium, driven by selenium: what a person does —
new folder, upload, sort, rename, versions and restore, a share link, delete, the trash, and
"My S3 keys" (make a key, use it with S3, revoke it; a second user neither sees nor revokes it) —
each confirmed over plain HTTP. Credentials go in an Authorization header set through the DevTools
protocol.

Env: WEBDAV_URL (a share collection) WEBDAV_USER WEBDAV_PASS [S3_ENDPOINT] [GATEWAY_DATA_DIR]
     [RESULTS_DIR] [SCREENSHOTS_DIR] [RUN_ID] [KEEP_GOING]
     S3_ENDPOINT: the new key is tried there (botocore). GATEWAY_DATA_DIR: the gateway's data
     directory with the embedded emulator, where a second user and token are made (as ScaiKey
     would); without it the second-user checks are skipped.
"""

import base64
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import CheckFailed, check, failures  # noqa: E402

KEYS = "/.well-known/scaidrive-gateway/keys"

URL = os.environ["WEBDAV_URL"].rstrip("/") + "/"
AUTH = "Basic " + base64.b64encode(
    f"{os.environ['WEBDAV_USER']}:{os.environ['WEBDAV_PASS']}".encode()
).decode()
RUN = os.environ.get("RUN_ID") or f"{int(time.time())}-{os.getpid()}"
FOLDER = f"conformance-browser-{RUN}"
SHOTS = [d for d in (os.environ.get("RESULTS_DIR"), os.environ.get("SCREENSHOTS_DIR")) if d]


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers={"Authorization": AUTH, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait(what, probe, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception:  # the page is still changing
            pass
        time.sleep(0.1)
    return None


def shot(driver, name):
    for d in SHOTS:
        os.makedirs(d, exist_ok=True)
        driver.save_screenshot(os.path.join(d, f"browser-{name}.png"))


def names(driver, table="list"):
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")
    return [r.get_attribute("data-name") for r in rows]


def row(driver, name, table="list"):
    for r in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr"):
        if r.get_attribute("data-name") == name:
            return r
    return None


def click(driver, name, label, table="list"):
    r = row(driver, name, table)
    for b in r.find_elements(By.TAG_NAME, "button"):
        if b.text == label:
            b.click()
            return
    raise AssertionError(f"no {label} button for {name}")


def answer(driver, text=None):
    """Accepts the prompt or confirm dialog that is open, typing `text` into a prompt."""
    alert = wait("a dialog", lambda: driver.switch_to.alert)
    if text is not None:
        alert.send_keys(text)
    alert.accept()


def log_in(driver, auth):
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": auth}})


def s3_answer(key, secret):
    """What S3 says to ListBuckets signed with this key pair: "ok" or the error code."""
    s3 = botocore.session.get_session().create_client(
        "s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}))
    try:
        s3.list_buckets()
        return "ok"
    except ClientError as e:
        return e.response["Error"].get("Code")


def key_cells(driver, key_id):
    r = row(driver, key_id, "keys")
    return [td.text for td in r.find_elements(By.TAG_NAME, "td")] if r else None


class OtherUser:
    """A second ScaiDrive user with a token, written into the embedded emulator's database."""

    def __init__(self, data_dir):
        self.db = sqlite3.connect(os.path.join(data_dir, "emulator", "scaidrive.db"), timeout=10)
        tenant = self.db.execute("SELECT tenant_id FROM users ORDER BY rowid LIMIT 1").fetchone()[0]
        self.user = "usr_CONFBROWSER" + secrets.token_hex(4).upper()
        self.token = "sdconf_" + secrets.token_hex(16)
        self.db.execute(
            "INSERT INTO users (id, tenant_id, email, name, display_name, is_admin, quota_bytes) "
            "VALUES (?, ?, ?, 'Other', 'Other', 0, NULL)", (self.user, tenant, f"{self.user}@example.com"))
        self.db.execute("INSERT INTO tokens (token, user_id, scopes, expires_at) VALUES (?, ?, NULL, NULL)",
                        (self.token, self.user))
        self.db.commit()

    def remove(self):
        self.db.execute("DELETE FROM tokens WHERE token = ?", (self.token,))
        self.db.execute("DELETE FROM users WHERE id = ?", (self.user,))
        self.db.commit()
        self.db.close()


def my_keys(driver):
    """"My S3 keys" on `/`: make a key, see it listed, use it, revoke it; another user's view."""
    root = urllib.parse.urljoin(URL, "/")
    label = "laptop backup"
    driver.get(root)
    section = driver.find_element(By.ID, "keys")
    if not check("keys-section-shown", wait("the keys section", section.is_displayed)):
        return
    driver.find_element(By.ID, "keylabel").send_keys(label)
    driver.find_element(By.CSS_SELECTOR, "#newkey button").click()
    shown = wait("the secret", lambda: [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#newsecret code")])
    if not check("key-secret-shown", bool(shown) and len(shown) == 2 and len(shown[1]) >= 20, str(shown)):
        return
    key_id, secret = shown
    cells = wait("the key row", lambda: key_cells(driver, key_id))
    check("key-listed", cells and cells[0] == label and cells[1] == key_id, str(cells))
    check("key-created-shown", cells and str(time.localtime().tm_year) in cells[2], str(cells))
    check("key-last-used-never", cells and cells[3] == "never", str(cells))
    status, body = http("GET", root.rstrip("/") + KEYS)
    check("key-listed-over-http", status == 200 and key_id.encode() in body and secret.encode() not in body,
          f"{status} {body[:200]!r}")

    if os.environ.get("S3_ENDPOINT"):
        check("key-works-with-s3", s3_answer(key_id, secret) == "ok")

        def used():
            driver.refresh()
            c = wait("the key row", lambda: key_cells(driver, key_id), 5)
            return c and c[3] != "never" and c

        cells = wait("the last use", used, 30)
        check("key-last-used-shown", bool(cells) and str(time.localtime().tm_year) in cells[3], str(cells))
    check("key-secret-shown-once", secret not in driver.page_source)
    shot(driver, "keys")

    other = OtherUser(os.environ["GATEWAY_DATA_DIR"]) if os.environ.get("GATEWAY_DATA_DIR") else None
    if other:
        try:
            other_auth = "Basic " + base64.b64encode(f"other:{other.token}".encode()).decode()
            log_in(driver, other_auth)
            driver.get(root)
            check("other-user-keys-section-shown", wait("their keys section",
                                                         driver.find_element(By.ID, "keys").is_displayed))
            check("other-user-does-not-see-key", key_id not in names(driver, "keys")
                  and key_id not in driver.find_element(By.ID, "keys").text, str(names(driver, "keys")))
            status, _ = http("DELETE", root.rstrip("/") + KEYS + "/" + urllib.parse.quote(key_id),
                             headers={"Authorization": f"Bearer {other.token}"})
            check("other-user-revoke-404", status == 404, str(status))
            if os.environ.get("S3_ENDPOINT"):
                check("key-works-after-other-user-revoke", s3_answer(key_id, secret) == "ok")
        finally:
            log_in(driver, AUTH)
            other.remove()

    driver.get(root)
    wait("the key row", lambda: key_cells(driver, key_id))
    click(driver, key_id, "Delete", "keys")
    answer(driver)
    check("key-revoked-listed", wait("the revoke", lambda: driver.find_element(By.ID, "keys").is_displayed()
                                     and key_id not in names(driver, "keys")))
    status, body = http("GET", root.rstrip("/") + KEYS)
    check("key-revoked-over-http", status == 200 and key_id.encode() not in body, f"{status} {body[:200]!r}")
    if os.environ.get("S3_ENDPOINT"):
        answered = s3_answer(key_id, secret)
        check("revoked-key-refused-by-s3", answered == "InvalidAccessKeyId", str(answered))


def files(driver, work, folder_url):
    """The listing of a share: new folder, upload, sort, versions, rename, share link, delete, trash."""
    driver.get(URL)
    check("page-loads", wait("the listing", lambda: driver.find_elements(By.CSS_SELECTOR, "#crumbs a")))
    check("breadcrumb", "All shares" in driver.find_element(By.ID, "crumbs").text)

    # New folder, through the page's prompt.
    driver.find_element(By.ID, "newfolder").click()
    answer(driver, FOLDER)
    check("new-folder-listed", wait("the folder", lambda: FOLDER in names(driver)))
    check("new-folder-over-http", http("PROPFIND", folder_url, headers={"Depth": "0"})[0] == 207)
    driver.get(folder_url)
    wait("the empty folder", lambda: driver.find_element(By.ID, "empty").is_displayed())

    # Upload through the file input (the same code path as a drop): two files.
    report = os.path.join(work, "report.txt")
    big = os.path.join(work, "photo.bin")
    with open(report, "w") as f:
        f.write("first draft\n")
    with open(big, "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024 + 123))
    picker = driver.find_element(By.ID, "picker")
    picker.send_keys(report + "\n" + big)
    check("upload-listed", wait("uploads", lambda: {"report.txt", "photo.bin"} <= set(names(driver)), 60))
    check("upload-over-http", http("GET", folder_url + "report.txt") == (200, b"first draft\n"))
    size_cell = row(driver, "photo.bin").find_elements(By.TAG_NAME, "td")[1].text
    check("human-size", size_cell == "3.0 MiB", size_cell)
    date_cell = row(driver, "report.txt").find_elements(By.TAG_NAME, "td")[2].text
    check("local-date", str(time.localtime().tm_year) in date_cell, date_cell)

    # Sorting by size puts the small file first, then (again) the big one first.
    driver.find_element(By.CSS_SELECTOR, "th[data-key=len]").click()
    check("sort-size-up", names(driver) == ["report.txt", "photo.bin"], str(names(driver)))
    driver.find_element(By.CSS_SELECTOR, "th[data-key=len]").click()
    check("sort-size-down", names(driver) == ["photo.bin", "report.txt"], str(names(driver)))
    shot(driver, "listing")

    # A second version, then the versions panel and a restore of the first.
    with open(report, "w") as f:
        f.write("second draft, longer\n")
    picker = driver.find_element(By.ID, "picker")
    picker.send_keys(report)
    check("second-version", wait("v2", lambda: http("GET", folder_url + "report.txt")[1] == b"second draft, longer\n", 30))
    time.sleep(0.5)
    click(driver, "report.txt", "Versions")
    listed = wait("versions", lambda: len(names(driver, "versions")) == 2 and names(driver, "versions"))
    check("versions-listed", listed and listed[0].startswith("v2 ") and listed[1].startswith("v1 "), str(listed))
    shot(driver, "versions")
    click(driver, listed[1], "Restore", "versions")
    answer(driver)
    check("restore-over-http", wait("restored", lambda: http("GET", folder_url + "report.txt")[1] == b"first draft\n"))
    check("restore-is-a-new-version", wait("v3", lambda: len(names(driver, "versions")) == 3))

    # Rename and delete (with its confirmation), then the trash shows the deleted file.
    click(driver, "report.txt", "Rename")
    answer(driver, "renamed.txt")
    check("renamed-listed", wait("rename", lambda: "renamed.txt" in names(driver) and "report.txt" not in names(driver)))
    check("renamed-over-http", http("GET", folder_url + "renamed.txt")[0] == 200 and http("GET", folder_url + "report.txt")[0] == 404)
    click(driver, "renamed.txt", "Share link")
    link = wait("the link", lambda: driver.find_element(By.ID, "linkurl").get_attribute("value"))
    check("share-link-shown", bool(link) and "/s/" in link, str(link))
    click(driver, "photo.bin", "Delete")
    answer(driver)
    check("deleted-listed", wait("delete", lambda: "photo.bin" not in names(driver)))
    check("deleted-over-http", http("GET", folder_url + "photo.bin")[0] == 404)
    share = urllib.parse.urlsplit(URL).path.strip("/").split("/")[0]
    trash = urllib.parse.urljoin(URL, f"/{share}/.scaidrive-trash/{urllib.parse.quote(FOLDER)}/")
    driver.get(trash)
    in_trash = wait("trash", lambda: [n for n in names(driver) if n.startswith("photo.bin (deleted ")])
    check("trash-lists-deleted", bool(in_trash), str(names(driver)))
    shot(driver, "trash")
    if in_trash:
        click(driver, in_trash[0], "Restore")
        check("trash-restore-over-http", wait("restored", lambda: http("GET", folder_url + "photo.bin")[0] == 200))


def main():
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,700", "--lang=en-GB"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
    driver.execute_cdp_cmd("Network.enable", {})
    log_in(driver, AUTH)
    work = tempfile.mkdtemp()
    folder_url = URL + urllib.parse.quote(FOLDER) + "/"
    try:
        # Each part goes on after the other failed.
        for part in (lambda: files(driver, work, folder_url), lambda: my_keys(driver)):
            try:
                part()
            except CheckFailed:
                pass
    finally:
        driver.quit()
        http("DELETE", folder_url)
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())
