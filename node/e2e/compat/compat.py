#!/usr/bin/python3
"""Client-compatibility checks for Cairn through boto3, as Debian packages it.

Run by compat_test.go against a live cluster. Settings come from the
environment: CAIRN_S3_ENDPOINT, CAIRN_COMPAT_BUCKET, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION. Every check that fails prints
"FAIL <step>: <why>" and exits 1; the last line on success is
"compat: boto3: all checks passed".
"""

import base64
import hashlib
import os
import sys
import zlib

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

CLIENT = "boto3"


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def expect_error(fn, status, code, what):
    """Calls fn and requires an S3 error with the given status and code."""
    try:
        fn()
    except ClientError as e:
        got_status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        got_code = e.response.get("Error", {}).get("Code")
        check(got_status == status, f"{what}: status {got_status}, want {status} ({got_code})")
        if code is not None:
            check(got_code == code, f"{what}: code {got_code!r}, want {code!r}")
        return
    raise CheckFailed(f"{what}: succeeded, want {status} {code}")


def payload(seed, n):
    """n deterministic pseudo-random bytes."""
    out = bytearray()
    block = seed.to_bytes(8, "little")
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


def b64(raw):
    return base64.b64encode(raw).decode()


def crc32_b64(data):
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c_b64(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return b64((c ^ 0xFFFFFFFF).to_bytes(4, "big"))


def sha256_b64(data):
    return b64(hashlib.sha256(data).digest())


def etag_of(data):
    return '"' + hashlib.md5(data).hexdigest() + '"'


def read(s3, **kw):
    out = s3.get_object(**kw)
    return out, out["Body"].read()


def put_if_none_match(s3, **kw):
    """PutObject with If-None-Match: *.

    boto3 releases before August 2024 have no IfNoneMatch parameter; with
    those, the header is added by an event handler, the documented way to
    send a header the model does not know.
    """
    members = s3.meta.service_model.operation_model("PutObject").input_shape.members
    if "IfNoneMatch" in members:
        return s3.put_object(IfNoneMatch="*", **kw)

    def add_header(request, **_):
        request.headers["If-None-Match"] = "*"

    event = "before-sign.s3.PutObject"
    s3.meta.events.register(event, add_header)
    try:
        return s3.put_object(**kw)
    finally:
        s3.meta.events.unregister(event, add_header)


def main():
    endpoint = os.environ["CAIRN_S3_ENDPOINT"]
    bucket = os.environ["CAIRN_COMPAT_BUCKET"]
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )
    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}", flush=True)
    step = "start"
    try:
        step = "create bucket"
        s3.create_bucket(Bucket=bucket)
        s3.head_bucket(Bucket=bucket)
        ok(step)

        step = "put with metadata and content type"
        data = payload(1, 2 * 1024 * 1024 + 4321)
        out = s3.put_object(
            Bucket=bucket, Key="meta.txt", Body=data,
            ContentType="text/plain; charset=utf-8",
            Metadata={"color": "blue", "client": CLIENT},
        )
        check(out["ETag"] == etag_of(data), f"ETag {out['ETag']}, want {etag_of(data)}")
        head = s3.head_object(Bucket=bucket, Key="meta.txt")
        check(head["ContentType"] == "text/plain; charset=utf-8", f"ContentType {head['ContentType']!r}")
        check(head["Metadata"] == {"color": "blue", "client": CLIENT}, f"Metadata {head['Metadata']}")
        check(head["ContentLength"] == len(data), f"ContentLength {head['ContentLength']}")
        check(head["ETag"] == etag_of(data), f"head ETag {head['ETag']}")
        _, got = read(s3, Bucket=bucket, Key="meta.txt")
        check(got == data, "GET body differs from the PUT body")
        ok(step)

        step = "put with Content-MD5"
        data = payload(2, 70000)
        md5 = b64(hashlib.md5(data).digest())
        out = s3.put_object(Bucket=bucket, Key="md5.bin", Body=data, ContentMD5=md5)
        check(out["ETag"] == etag_of(data), f"ETag {out['ETag']}")
        _, got = read(s3, Bucket=bucket, Key="md5.bin")
        check(got == data, "GET body differs")
        wrong = b64(hashlib.md5(b"something else").digest())
        expect_error(lambda: s3.put_object(Bucket=bucket, Key="md5-bad.bin", Body=data, ContentMD5=wrong),
                     400, "BadDigest", "wrong Content-MD5")
        expect_error(lambda: s3.head_object(Bucket=bucket, Key="md5-bad.bin"),
                     404, None, "object of a refused PUT")
        ok(step)

        step = "put with flexible checksums"
        want = {"CRC32": crc32_b64, "SHA256": sha256_b64}
        if botocore.compat.HAS_CRT:
            want["CRC32C"] = crc32c_b64
        for alg, fn in want.items():
            data = payload(3 + len(alg), 100000 + len(alg))
            key = f"checksum-{alg.lower()}.bin"
            out = s3.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm=alg)
            check(out.get("Checksum" + alg) == fn(data), f"{alg}: PUT answered {out.get('Checksum' + alg)}, want {fn(data)}")
            head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
            check(head.get("Checksum" + alg) == fn(data), f"{alg}: HEAD answered {head.get('Checksum' + alg)}")
            out, got = read(s3, Bucket=bucket, Key=key, ChecksumMode="ENABLED")
            check(got == data, f"{alg}: GET body differs")
            check(out.get("Checksum" + alg) == fn(data), f"{alg}: GET answered {out.get('Checksum' + alg)}")
            print(f"  {alg} {fn(data)}", flush=True)
        data = payload(9, 1000)
        expect_error(lambda: s3.put_object(Bucket=bucket, Key="checksum-bad.bin", Body=data,
                                           ChecksumCRC32=crc32_b64(b"other")),
                     400, "BadDigest", "wrong x-amz-checksum-crc32")
        ok(step)

        step = "SSE-C put and get"
        key_bytes = payload(10, 32)
        key_md5 = b64(hashlib.md5(key_bytes).digest())
        ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key_bytes}
        data = payload(11, 1500000)
        out = s3.put_object(Bucket=bucket, Key="ssec.bin", Body=data, **ssec)
        check(out.get("SSECustomerAlgorithm") == "AES256", f"PUT SSECustomerAlgorithm {out.get('SSECustomerAlgorithm')}")
        check(out.get("SSECustomerKeyMD5") == key_md5, f"PUT SSECustomerKeyMD5 {out.get('SSECustomerKeyMD5')}")
        out, got = read(s3, Bucket=bucket, Key="ssec.bin", **ssec)
        check(got == data, "GET with the key: body differs")
        check(out.get("SSECustomerKeyMD5") == key_md5, f"GET SSECustomerKeyMD5 {out.get('SSECustomerKeyMD5')}")
        head = s3.head_object(Bucket=bucket, Key="ssec.bin", **ssec)
        check(head["ContentLength"] == len(data), f"HEAD ContentLength {head['ContentLength']}")
        expect_error(lambda: s3.get_object(Bucket=bucket, Key="ssec.bin"), 400, "InvalidRequest", "GET without the key")
        expect_error(lambda: s3.head_object(Bucket=bucket, Key="ssec.bin"), 400, None, "HEAD without the key")
        other = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": payload(12, 32)}
        expect_error(lambda: s3.get_object(Bucket=bucket, Key="ssec.bin", **other), 403, "AccessDenied", "GET with another key")
        ok(step)

        step = "conditional put (If-None-Match: *)"
        first = payload(13, 5000)
        put_if_none_match(s3, Bucket=bucket, Key="cond.txt", Body=first)
        expect_error(lambda: put_if_none_match(s3, Bucket=bucket, Key="cond.txt", Body=payload(14, 5000)),
                     412, "PreconditionFailed", "If-None-Match: * on an existing key")
        _, got = read(s3, Bucket=bucket, Key="cond.txt")
        check(got == first, "the refused PUT changed the object")
        ok(step)

        step = "versioned puts"
        vbucket = bucket + "-versioned"
        s3.create_bucket(Bucket=vbucket)
        s3.put_bucket_versioning(Bucket=vbucket, VersioningConfiguration={"Status": "Enabled"})
        status = s3.get_bucket_versioning(Bucket=vbucket).get("Status")
        check(status == "Enabled", f"GetBucketVersioning status {status!r}")
        v1_data, v2_data = payload(15, 300000), payload(16, 200000)
        v1 = s3.put_object(Bucket=vbucket, Key="doc.bin", Body=v1_data).get("VersionId")
        v2 = s3.put_object(Bucket=vbucket, Key="doc.bin", Body=v2_data).get("VersionId")
        check(v1 and v2 and v1 != "null" and v2 != "null", f"version IDs {v1!r}, {v2!r}")
        check(v1 != v2, f"both PUTs got version {v1}")
        for vid, want_data in ((v1, v1_data), (v2, v2_data)):
            out, got = read(s3, Bucket=vbucket, Key="doc.bin", VersionId=vid)
            check(got == want_data, f"GET version {vid}: body differs")
            check(out.get("VersionId") == vid, f"GET version {vid} answered version {out.get('VersionId')}")
            head = s3.head_object(Bucket=vbucket, Key="doc.bin", VersionId=vid)
            check(head["ContentLength"] == len(want_data), f"HEAD version {vid}: length {head['ContentLength']}")
        out, got = read(s3, Bucket=vbucket, Key="doc.bin")
        check(got == v2_data and out.get("VersionId") == v2, "GET without versionId is not the latest version")
        versions = s3.list_object_versions(Bucket=vbucket, Prefix="doc.bin").get("Versions", [])
        check([v["VersionId"] for v in versions] == [v2, v1], f"ListObjectVersions {[v['VersionId'] for v in versions]}")
        ok(step)
    except CheckFailed as e:
        fail(step, str(e))
    except ClientError as e:
        fail(step, f"unexpected S3 error: {e}")
    except botocore.exceptions.BotoCoreError as e:
        fail(step, f"client error: {e}")
    print(f"compat: {CLIENT}: all checks passed", flush=True)


def ok(step):
    print(f"ok   {step}", flush=True)


def fail(step, why):
    print(f"FAIL {step}: {why}", flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
