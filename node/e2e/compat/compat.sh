#!/usr/bin/env bash
# Client-compatibility checks for Cairn through the AWS CLI.
#
# Run by compat_test.go against a live cluster. Settings come from the
# environment: CAIRN_S3_ENDPOINT, CAIRN_COMPAT_BUCKET, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, and AWS_CLI (the aws binary,
# default: aws on PATH). Every check that fails prints "FAIL <step>: <why>"
# and exits 1; the last line on success is "compat: cli: all checks passed".
set -euo pipefail

AWS_CLI=${AWS_CLI:-aws}
BUCKET=${CAIRN_COMPAT_BUCKET:?}
ENDPOINT=${CAIRN_S3_ENDPOINT:?}
export AWS_PAGER="" AWS_CLI_AUTO_PROMPT=off
# The CLI is a Python program; its interpreter computes the checksums we
# compare against, so the script needs nothing the CLI does not.
PY=$(sed -n '1s/^#! *//p' "$(command -v "$AWS_CLI")")
case $PY in */python3*) ;; *) PY=python3 ;; esac

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

step=start
fail() { echo "FAIL $step: $*"; exit 1; }
trap 'echo "FAIL $step: command failed at line $LINENO"' ERR
ok() { echo "ok   $step"; }

aws() { "$AWS_CLI" --endpoint-url "$ENDPOINT" "$@"; }

# expect_error CODE COMMAND... runs an aws command that must fail with the
# S3 error CODE (for HEAD, which has no body, the HTTP status).
expect_error() {
	local code=$1 out
	shift
	if out=$(aws "$@" 2>&1 >/dev/null); then
		fail "aws $* succeeded, want ($code)"
	fi
	case $out in
	*"($code)"*) ;;
	*) fail "aws $*: want ($code), got: $out" ;;
	esac
}

# payload SEED N writes N deterministic pseudo-random bytes to stdout.
payload() {
	"$PY" -c '
import hashlib, sys
seed, n = int(sys.argv[1]), int(sys.argv[2])
out, block = bytearray(), seed.to_bytes(8, "little")
while len(out) < n:
    block = hashlib.sha256(block).digest()
    out += block
sys.stdout.buffer.write(bytes(out[:n]))' "$1" "$2"
}

# digest ALG FILE prints the base64 checksum of FILE (md5, crc32, crc32c,
# sha1, sha256) as S3 headers carry it.
digest() {
	"$PY" -c '
import base64, hashlib, sys, zlib
alg, data = sys.argv[1], open(sys.argv[2], "rb").read()
def crc32c(b):
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    c = 0xFFFFFFFF
    for x in b:
        c = t[(c ^ x) & 0xFF] ^ (c >> 8)
    return (c ^ 0xFFFFFFFF).to_bytes(4, "big")
raw = {
    "crc32": lambda: zlib.crc32(data).to_bytes(4, "big"),
    "crc32c": lambda: crc32c(data),
}.get(alg, lambda: hashlib.new(alg, data).digest())()
print(base64.b64encode(raw).decode())' "$1" "$2"
}

etag_of() { echo "\"$(md5sum <"$1" | cut -d' ' -f1)\""; }

# field JSON EXPR prints one value of the CLI's JSON output.
field() { "$PY" -c 'import json, sys; v = json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, {"v": v}))' "$1" "$2"; }

echo "$("$AWS_CLI" --version)"

# Conditional writes (August 2024) are newer than some packaged CLIs, such as
# Debian 12's 2.9. Such a CLI learns the If-None-Match parameter of
# PutObject from an extra model directory (AWS_DATA_PATH, a documented CLI
# setting); the CLI itself still builds, signs and sends the request.
knows_if_none_match() {
	local skeleton
	skeleton=$("$AWS_CLI" s3api put-object --generate-cli-skeleton input)
	[[ $skeleton == *'"IfNoneMatch"'* ]]
}
if ! knows_if_none_match; then
	"$PY" - "$WORK/models" <<'EOF'
import glob, gzip, json, os, sys
import awscli.botocore as bc
root = os.path.join(os.path.dirname(bc.__file__), "data", "s3")
path = sorted(glob.glob(os.path.join(root, "*", "service-2.json*")))[-1]
opener = gzip.open if path.endswith(".gz") else open
with opener(path, "rt") as f:
    model = json.load(f)
model["shapes"]["PutObjectRequest"]["members"]["IfNoneMatch"] = {
    "shape": "IfNoneMatch", "location": "header", "locationName": "If-None-Match"}
out = os.path.join(sys.argv[1], "s3", os.path.basename(os.path.dirname(path)))
os.makedirs(out)
with open(os.path.join(out, "service-2.json"), "w") as f:
    json.dump(model, f)
EOF
	export AWS_DATA_PATH="$WORK/models"
	knows_if_none_match || fail "could not teach the CLI If-None-Match"
	echo "  PutObject If-None-Match added to the CLI's model"
fi

step="create bucket"
aws s3 mb "s3://$BUCKET" >/dev/null
aws s3api head-bucket --bucket "$BUCKET"
ok

step="put with metadata and content type"
payload 1 $((2 * 1024 * 1024 + 4321)) >"$WORK/meta.txt"
aws s3 cp "$WORK/meta.txt" "s3://$BUCKET/meta.txt" --metadata color=blue,client=cli \
	--content-type "text/plain; charset=utf-8" --only-show-errors
head=$(aws s3api head-object --bucket "$BUCKET" --key meta.txt --output json)
[ "$(field "$head" 'v["ContentType"]')" = "text/plain; charset=utf-8" ] || fail "ContentType: $head"
[ "$(field "$head" 'sorted(v["Metadata"].items())')" = "[('client', 'cli'), ('color', 'blue')]" ] || fail "Metadata: $head"
[ "$(field "$head" 'v["ContentLength"]')" = "$(stat -c %s "$WORK/meta.txt")" ] || fail "ContentLength: $head"
[ "$(field "$head" 'v["ETag"]')" = "$(etag_of "$WORK/meta.txt")" ] || fail "ETag: $head, want $(etag_of "$WORK/meta.txt")"
aws s3 cp "s3://$BUCKET/meta.txt" "$WORK/meta.back" --only-show-errors
cmp -s "$WORK/meta.txt" "$WORK/meta.back" || fail "GET body differs from the PUT body"
ok

step="put with Content-MD5"
payload 2 70000 >"$WORK/md5.bin"
out=$(aws s3api put-object --bucket "$BUCKET" --key md5.bin --body "$WORK/md5.bin" \
	--content-md5 "$(digest md5 "$WORK/md5.bin")" --output json)
[ "$(field "$out" 'v["ETag"]')" = "$(etag_of "$WORK/md5.bin")" ] || fail "ETag: $out"
aws s3api get-object --bucket "$BUCKET" --key md5.bin "$WORK/md5.back" >/dev/null
cmp -s "$WORK/md5.bin" "$WORK/md5.back" || fail "GET body differs"
printf 'something else' >"$WORK/other"
expect_error BadDigest s3api put-object --bucket "$BUCKET" --key md5-bad.bin --body "$WORK/md5.bin" \
	--content-md5 "$(digest md5 "$WORK/other")"
expect_error 404 s3api head-object --bucket "$BUCKET" --key md5-bad.bin
ok

step="put with flexible checksums"
for alg in CRC32 CRC32C SHA1 SHA256; do
	lower=$(echo "$alg" | tr 'A-Z' 'a-z')
	f="$WORK/checksum-$lower.bin"
	payload $((3 + ${#alg})) $((100000 + ${#alg})) >"$f"
	want=$(digest "$lower" "$f")
	out=$(aws s3api put-object --bucket "$BUCKET" --key "checksum-$lower.bin" --body "$f" \
		--checksum-algorithm "$alg" --output json)
	[ "$(field "$out" "v.get('Checksum$alg')")" = "$want" ] || fail "$alg: PUT answered $out, want $want"
	head=$(aws s3api head-object --bucket "$BUCKET" --key "checksum-$lower.bin" --checksum-mode ENABLED --output json)
	[ "$(field "$head" "v.get('Checksum$alg')")" = "$want" ] || fail "$alg: HEAD answered $head, want $want"
	aws s3api get-object --bucket "$BUCKET" --key "checksum-$lower.bin" --checksum-mode ENABLED "$f.back" >/dev/null
	cmp -s "$f" "$f.back" || fail "$alg: GET body differs"
	echo "  $alg $want"
done
payload 9 1000 >"$WORK/bad.bin"
expect_error BadDigest s3api put-object --bucket "$BUCKET" --key checksum-bad.bin --body "$WORK/bad.bin" \
	--checksum-crc32 "$(digest crc32 "$WORK/other")"
ok

step="SSE-C put and get"
KEY=cairn-compat-cli-sse-c-key-32byt # 32 bytes; the CLI base64-encodes it and sends its MD5
printf '%s' "$KEY" >"$WORK/key"
key_md5=$(digest md5 "$WORK/key")
payload 11 1500000 >"$WORK/ssec.bin"
out=$(aws s3api put-object --bucket "$BUCKET" --key ssec.bin --body "$WORK/ssec.bin" \
	--sse-customer-algorithm AES256 --sse-customer-key "$KEY" --output json)
[ "$(field "$out" 'v.get("SSECustomerAlgorithm")')" = AES256 ] || fail "PUT: $out"
[ "$(field "$out" 'v.get("SSECustomerKeyMD5")')" = "$key_md5" ] || fail "PUT key MD5: $out, want $key_md5"
out=$(aws s3api get-object --bucket "$BUCKET" --key ssec.bin "$WORK/ssec.back" \
	--sse-customer-algorithm AES256 --sse-customer-key "$KEY" --output json)
cmp -s "$WORK/ssec.bin" "$WORK/ssec.back" || fail "GET with the key: body differs"
[ "$(field "$out" 'v.get("SSECustomerKeyMD5")')" = "$key_md5" ] || fail "GET key MD5: $out"
aws s3 cp "s3://$BUCKET/ssec.bin" "$WORK/ssec.cp" --sse-c AES256 --sse-c-key "$KEY" --only-show-errors
cmp -s "$WORK/ssec.bin" "$WORK/ssec.cp" || fail "aws s3 cp with the key: body differs"
expect_error InvalidRequest s3api get-object --bucket "$BUCKET" --key ssec.bin "$WORK/ssec.none"
expect_error 400 s3api head-object --bucket "$BUCKET" --key ssec.bin
expect_error AccessDenied s3api get-object --bucket "$BUCKET" --key ssec.bin "$WORK/ssec.wrong" \
	--sse-customer-algorithm AES256 --sse-customer-key cairn-compat-cli-other-key-32byt
ok

step="conditional put (If-None-Match: *)"
payload 13 5000 >"$WORK/cond1"
payload 14 5000 >"$WORK/cond2"
aws s3api put-object --bucket "$BUCKET" --key cond.txt --body "$WORK/cond1" --if-none-match '*' >/dev/null
expect_error PreconditionFailed s3api put-object --bucket "$BUCKET" --key cond.txt --body "$WORK/cond2" --if-none-match '*'
aws s3api get-object --bucket "$BUCKET" --key cond.txt "$WORK/cond.back" >/dev/null
cmp -s "$WORK/cond1" "$WORK/cond.back" || fail "the refused PUT changed the object"
ok

step="versioned puts"
VBUCKET="$BUCKET-versioned"
aws s3api create-bucket --bucket "$VBUCKET" >/dev/null
aws s3api put-bucket-versioning --bucket "$VBUCKET" --versioning-configuration Status=Enabled
status=$(aws s3api get-bucket-versioning --bucket "$VBUCKET" --query Status --output text)
[ "$status" = Enabled ] || fail "GetBucketVersioning status $status"
payload 15 300000 >"$WORK/v1"
payload 16 200000 >"$WORK/v2"
v1=$(aws s3api put-object --bucket "$VBUCKET" --key doc.bin --body "$WORK/v1" --query VersionId --output text)
v2=$(aws s3api put-object --bucket "$VBUCKET" --key doc.bin --body "$WORK/v2" --query VersionId --output text)
for v in "$v1" "$v2"; do
	case $v in "" | None | null) fail "version IDs '$v1', '$v2'" ;; esac
done
[ "$v1" != "$v2" ] || fail "both PUTs got version $v1"
for pair in "$v1:v1" "$v2:v2"; do
	vid=${pair%:*} file=${pair##*:}
	out=$(aws s3api get-object --bucket "$VBUCKET" --key doc.bin --version-id "$vid" "$WORK/$file.back" --output json)
	cmp -s "$WORK/$file" "$WORK/$file.back" || fail "GET version $vid: body differs"
	[ "$(field "$out" 'v.get("VersionId")')" = "$vid" ] || fail "GET version $vid answered $out"
done
out=$(aws s3api get-object --bucket "$VBUCKET" --key doc.bin "$WORK/latest" --output json)
cmp -s "$WORK/v2" "$WORK/latest" || fail "GET without versionId is not the latest version"
[ "$(field "$out" 'v.get("VersionId")')" = "$v2" ] || fail "GET without versionId answered $out"
ids=$(aws s3api list-object-versions --bucket "$VBUCKET" --prefix doc.bin --query 'Versions[].VersionId' --output text)
[ "$ids" = "$v2	$v1" ] || fail "ListObjectVersions: $ids, want $v2 $v1"
ok

echo "compat: cli: all checks passed"
