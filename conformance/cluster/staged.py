#!/usr/bin/env python3
"""Prints what WebDAV chunked uploads keep in ScaiDrive staging: one line per piece file, or per
empty `webdav-*` folder, below `.scaidrive-gateway-uploads` of every share of the user of
SCAIDRIVE_TOKEN (deleted entries included). No output: nothing is staged."""
import json
import os
import urllib.parse
import urllib.request

BASE = os.environ["SCAIDRIVE_URL"].rstrip("/") + "/api/v1"
TOKEN = os.environ["SCAIDRIVE_TOKEN"]


def get(path, **query):
    url = f"{BASE}{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def children(share, folder):
    items = get(f"/folders/{folder}/children", share_id=share, include_deleted="true")["items"]
    return [(i["name"], i["id"]) for i in items]


for share in get("/users/me/shares")["shares"]:
    for name, top in children(share["id"], "root"):
        if name != ".scaidrive-gateway-uploads":
            continue
        for upload, folder in children(share["id"], top):
            if not upload.startswith("webdav-"):
                continue
            inside = children(share["id"], folder)
            if not inside:
                print(f"{share['name']}/{upload}/")
            for piece, _ in inside:
                print(f"{share['name']}/{upload}/{piece}")
