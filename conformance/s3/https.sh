#!/usr/bin/env bash
# aws cli over HTTPS (self-signed certificate trusted through AWS_CA_BUNDLE): over TLS it sends
# STREAMING-UNSIGNED-PAYLOAD-TRAILER aws-chunked bodies with a CRC32 trailer. A small cp, a
# 20 MiB multipart cp, the stored checksum on head-object --checksum-mode, downloads identical.
# Then WebDAV over the same TLS: Basic auth as Windows' Mini-Redirector sends it (OPTIONS,
# PROPFIND, PUT, GET) with curl.
#
# Env: S3_ENDPOINT (https://…) AWS_CA_BUNDLE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET
#      WEBDAV_URL (https://…/Collection/) WEBDAV_USER WEBDAV_PASS
source "$(dirname "$0")/../lib/common.sh"
require_env S3_ENDPOINT AWS_CA_BUNDLE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BUCKET \
    WEBDAV_URL WEBDAV_USER WEBDAV_PASS
require_cmd aws curl python3 cmp
case "$S3_ENDPOINT" in https://*) ;; *) echo "FAIL setup: S3_ENDPOINT is not https"; exit 2 ;; esac

aws_() { aws --endpoint-url "$S3_ENDPOINT" "$@"; }
prefix="conformance-https-$RUN_ID"
crc32_b64() {
    python3 -c 'import base64,sys,zlib; print(base64.b64encode(zlib.crc32(open(sys.argv[1],"rb").read()).to_bytes(4,"big")).decode())' "$1"
}

head -c 300000 /dev/urandom >"$WORK/small.bin"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$WORK/big.bin"

# Small object: one PutObject with the checksum in the aws-chunked trailer.
check cp-small-up aws_ --debug s3 cp "$WORK/small.bin" "s3://$BUCKET/$prefix/small.bin"
if grep -q 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' "$LOG" && grep -qi "x-amz-trailer.\{0,8\}x-amz-checksum-crc32" "$LOG"; then
    pass cp-small-sent-unsigned-trailer-crc32
else
    fail cp-small-sent-unsigned-trailer-crc32 "no STREAMING-UNSIGNED-PAYLOAD-TRAILER with a crc32 trailer in aws --debug"
fi
check head-small-checksum-mode aws_ s3api head-object --bucket "$BUCKET" --key "$prefix/small.bin" \
    --checksum-mode ENABLED --query ChecksumCRC32 --output text
expect_eq head-small-crc32-stored "$(cat "$LOG")" "$(crc32_b64 "$WORK/small.bin")"
check cp-small-down aws_ s3 cp "s3://$BUCKET/$prefix/small.bin" "$WORK/small.down"
check cmp-small cmp "$WORK/small.bin" "$WORK/small.down"

# 20 MiB: multipart (8 MiB parts), each part with a CRC32 trailer.
check cp-multipart-up aws_ --debug s3 cp "$WORK/big.bin" "s3://$BUCKET/$prefix/big.bin"
n="$(grep -c 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' "$LOG" || true)"
if [ "$n" -ge 3 ]; then pass cp-multipart-parts-sent-unsigned-trailer; else
    fail cp-multipart-parts-sent-unsigned-trailer "$n trailer bodies seen, want 3 parts"; fi
check head-multipart-checksum-mode aws_ s3api head-object --bucket "$BUCKET" --key "$prefix/big.bin" \
    --checksum-mode ENABLED --query ChecksumCRC32 --output text
case "$(cat "$LOG")" in
    *-3) pass head-multipart-composite-crc32 ;;
    *) fail head-multipart-composite-crc32 "got '$(cat "$LOG")', want a composite value ending in -3" ;;
esac
check cp-multipart-down aws_ s3 cp "s3://$BUCKET/$prefix/big.bin" "$WORK/big.down"
check cmp-multipart cmp "$WORK/big.bin" "$WORK/big.down"
check rm-recursive aws_ s3 rm --recursive "s3://$BUCKET/$prefix/"

# WebDAV over TLS, Basic auth, the way Windows' WebClient talks once BasicAuthLevel allows it.
dav="${WEBDAV_URL%/}"
ua="Microsoft-WebDAV-MiniRedir/10.0.19045"
curl_() { curl -sS --cacert "$AWS_CA_BUNDLE" -A "$ua" -u "$WEBDAV_USER:$WEBDAV_PASS" "$@"; }
code() { curl_ -o "$WORK/dav.out" -w '%{http_code}' "$@" >"$LOG" 2>&1 || true; cat "$LOG"; }
expect_eq dav-tls-options "$(code -X OPTIONS "$dav/")" 200
expect_eq dav-tls-propfind-depth0 "$(code -X PROPFIND -H 'Depth: 0' "$dav/")" 207
expect_eq dav-tls-mkcol "$(code -X MKCOL "$dav/$prefix/")" 201
expect_eq dav-tls-put "$(code -T "$WORK/small.bin" "$dav/$prefix/small.bin")" 201
expect_eq dav-tls-get "$(code "$dav/$prefix/small.bin")" 200
check dav-tls-cmp cmp "$WORK/small.bin" "$WORK/dav.out"
expect_eq dav-tls-wrong-password \
    "$(curl -sS --cacert "$AWS_CA_BUNDLE" -A "$ua" -u "$WEBDAV_USER:wrong" -o /dev/null -w '%{http_code}' "$dav/" 2>&1)" 401
if curl -sS -o /dev/null --max-time 10 "http://${dav#https://}/" >"$LOG" 2>&1; then
    fail dav-tls-plain-http-refused "a plain-HTTP request to the TLS listener got an answer"
else
    pass dav-tls-plain-http-refused
fi
expect_eq dav-tls-delete "$(code -X DELETE "$dav/$prefix/")" 204
