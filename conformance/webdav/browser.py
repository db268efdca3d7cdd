#!/usr/bin/env python3
"""The gateway's browser page in headless Chromium, driven by selenium: what a person does —
new folder, upload, sort, rename, versions and restore, a share link, delete, the trash — each
confirmed over plain HTTP. Credentials go in an Authorization header set through the DevTools protocol.

Env: WEBDAV_URL (a share collection) WEBDAV_USER WEBDAV_PASS [RESULTS_DIR] [SCREENSHOTS_DIR]
     [RUN_ID] [KEEP_GOING]
"""

import base64
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import CheckFailed, check, failures  # noqa: E402

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


def main():
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,700", "--lang=en-GB"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": AUTH}})
    work = tempfile.mkdtemp()
    folder_url = URL + urllib.parse.quote(FOLDER) + "/"
    try:
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
    except CheckFailed:
        pass
    finally:
        driver.quit()
        http("DELETE", folder_url)
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())
