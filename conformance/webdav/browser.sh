#!/usr/bin/env bash
# The gateway's browser page in headless Chromium (Debian's `chromium` and `chromium-driver`,
# driven by selenium from PyPI): upload, new folder, rename, sort, versions and a restore,
# delete and the trash, each checked over plain HTTP too. Screenshots go to RESULTS_DIR
# (browser-*.png); SCREENSHOTS_DIR, when set, gets them as well (docs/ keeps the committed ones).
# Installs what it needs (apt-get, pip). Prints SKIP when the server has no such page (--peer).
# Env: WEBDAV_URL (a share collection) WEBDAV_USER WEBDAV_PASS
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
require_env WEBDAV_URL WEBDAV_USER WEBDAV_PASS
require_cmd curl

page="$(curl -sS -u "$WEBDAV_USER:$WEBDAV_PASS" -H 'Accept: text/html' "$WEBDAV_URL" 2>/dev/null || true)"
if ! grep -q '<title>ScaiDrive</title>' <<<"$page"; then
    skip "browser" "no ScaiDrive page at $WEBDAV_URL"; exit 0
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" != 0 ]; then skip "browser" "chromium is not installed and this is not root"; exit 0; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi
py="$CONF_DIR/.venv/bin/python"
"$py" -c 'import selenium' 2>/dev/null \
    || "$CONF_DIR/.venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check selenium
exec "$py" "$CONF_DIR/webdav/browser.py"
