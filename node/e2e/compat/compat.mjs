// Client-compatibility checks for Cairn through the AWS SDK for JavaScript v3
// (@aws-sdk/client-s3), with its default settings apart from the endpoint,
// region, credentials and path-style addressing.
//
// Run by compat_test.go against a live cluster. Settings come from the
// environment: CAIRN_S3_ENDPOINT, CAIRN_COMPAT_BUCKET, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_REGION. Every check that fails prints
// "FAIL <step>: <why>" and exits 1; the last line on success is
// "compat: js: all checks passed".

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import zlib from "node:zlib";

import {
  CreateBucketCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";

const CLIENT = "js";

class CheckFailed extends Error {}

function check(cond, what) {
  if (!cond) throw new CheckFailed(what);
}

// expectError runs fn and requires an S3 error with the given status and,
// unless code is null, the given error code.
async function expectError(fn, status, code, what) {
  let out;
  try {
    out = await fn();
  } catch (e) {
    if (e instanceof CheckFailed) throw e;
    const got = e.$metadata?.httpStatusCode;
    check(got === status, `${what}: status ${got}, want ${status} (${e.name}: ${e.message})`);
    if (code !== null) check(e.name === code, `${what}: code ${e.name}, want ${code}`);
    return;
  }
  out?.Body?.destroy?.();
  throw new CheckFailed(`${what}: succeeded, want ${status} ${code ?? ""}`);
}

// payload returns n deterministic pseudo-random bytes.
function payload(seed, n) {
  const out = Buffer.alloc(n);
  let block = Buffer.alloc(8);
  block.writeBigUInt64LE(BigInt(seed));
  for (let off = 0; off < n; off += 32) {
    block = createHash("sha256").update(block).digest();
    block.copy(out, off, 0, Math.min(32, n - off));
  }
  return out;
}

const b64 = (buf) => Buffer.from(buf).toString("base64");

function u32(v) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

const crc32 = (data) => b64(u32(zlib.crc32(data)));

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

function crc32c(data) {
  let c = 0xffffffff;
  for (const b of data) c = CRC32C_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return b64(u32(c ^ 0xffffffff));
}

const sha256 = (data) => createHash("sha256").update(data).digest("base64");
const md5b64 = (data) => createHash("md5").update(data).digest("base64");
const etagOf = (data) => `"${createHash("md5").update(data).digest("hex")}"`;

async function read(s3, input) {
  const out = await s3.send(new GetObjectCommand(input));
  const body = Buffer.from(await out.Body.transformToByteArray());
  return [out, body];
}

function sameMap(a, b) {
  return JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b ?? {}).sort());
}

let step = "start";
function ok() {
  console.log(`ok   ${step}`);
}

async function main() {
  const bucket = process.env.CAIRN_COMPAT_BUCKET;
  const s3 = new S3Client({
    endpoint: process.env.CAIRN_S3_ENDPOINT,
    region: process.env.AWS_REGION ?? "us-east-1",
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
    },
    forcePathStyle: true,
  });
  const pkg = JSON.parse(
    readFileSync(new URL("./node_modules/@aws-sdk/client-s3/package.json", import.meta.url)),
  );
  console.log(`@aws-sdk/client-s3 ${pkg.version}, node ${process.version}`);

  step = "create bucket";
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  ok();

  step = "put with metadata and content type";
  {
    const data = payload(1, 2 * 1024 * 1024 + 4321);
    const metadata = { color: "blue", client: CLIENT };
    const out = await s3.send(
      new PutObjectCommand({
        Bucket: bucket, Key: "meta.txt", Body: data,
        ContentType: "text/plain; charset=utf-8", Metadata: metadata,
      }),
    );
    check(out.ETag === etagOf(data), `ETag ${out.ETag}, want ${etagOf(data)}`);
    // The SDK sends a CRC32 checksum of its own accord; the answer echoes it.
    check(out.ChecksumCRC32 === crc32(data), `default checksum: PUT answered CRC32 ${out.ChecksumCRC32}, want ${crc32(data)}`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "meta.txt" }));
    check(head.ContentType === "text/plain; charset=utf-8", `ContentType ${head.ContentType}`);
    check(sameMap(head.Metadata, metadata), `Metadata ${JSON.stringify(head.Metadata)}`);
    check(head.ContentLength === data.length, `ContentLength ${head.ContentLength}`);
    check(head.ETag === etagOf(data), `HEAD ETag ${head.ETag}`);
    const [, got] = await read(s3, { Bucket: bucket, Key: "meta.txt" });
    check(got.equals(data), "GET body differs from the PUT body");
  }
  ok();

  step = "put a stream (aws-chunked body with a trailing checksum)";
  {
    const data = payload(2, 3 * 1024 * 1024 + 17);
    const chunks = [];
    for (let off = 0; off < data.length; off += 256 * 1024) chunks.push(data.subarray(off, off + 256 * 1024));
    const out = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: "stream.bin", Body: Readable.from(chunks), ContentLength: data.length }),
    );
    check(out.ETag === etagOf(data), `ETag ${out.ETag}, want ${etagOf(data)}`);
    check(out.ChecksumCRC32 === crc32(data), `trailing checksum: PUT answered CRC32 ${out.ChecksumCRC32}, want ${crc32(data)}`);
    const [, got] = await read(s3, { Bucket: bucket, Key: "stream.bin" });
    check(got.equals(data), "GET body differs");
  }
  ok();

  step = "put with Content-MD5";
  {
    const data = payload(3, 70000);
    const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "md5.bin", Body: data, ContentMD5: md5b64(data) }));
    check(out.ETag === etagOf(data), `ETag ${out.ETag}`);
    const [, got] = await read(s3, { Bucket: bucket, Key: "md5.bin" });
    check(got.equals(data), "GET body differs");
    await expectError(
      () => s3.send(new PutObjectCommand({ Bucket: bucket, Key: "md5-bad.bin", Body: data, ContentMD5: md5b64(Buffer.from("else")) })),
      400, "BadDigest", "wrong Content-MD5",
    );
    await expectError(() => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "md5-bad.bin" })), 404, null, "object of a refused PUT");
  }
  ok();

  step = "put with flexible checksums";
  for (const [alg, fn] of [["CRC32", crc32], ["CRC32C", crc32c], ["SHA256", sha256]]) {
    const data = payload(4 + alg.length, 100000 + alg.length);
    const key = `checksum-${alg.toLowerCase()}.bin`;
    const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ChecksumAlgorithm: alg }));
    check(out[`Checksum${alg}`] === fn(data), `${alg}: PUT answered ${out[`Checksum${alg}`]}, want ${fn(data)}`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
    check(head[`Checksum${alg}`] === fn(data), `${alg}: HEAD answered ${head[`Checksum${alg}`]}`);
    const [got, body] = await read(s3, { Bucket: bucket, Key: key, ChecksumMode: "ENABLED" });
    check(body.equals(data), `${alg}: GET body differs`);
    check(got[`Checksum${alg}`] === fn(data), `${alg}: GET answered ${got[`Checksum${alg}`]}`);
    console.log(`  ${alg} ${fn(data)}`);
  }
  await expectError(
    () => s3.send(new PutObjectCommand({ Bucket: bucket, Key: "checksum-bad.bin", Body: payload(9, 1000), ChecksumCRC32: crc32(Buffer.from("other")) })),
    400, "BadDigest", "wrong x-amz-checksum-crc32",
  );
  ok();

  step = "SSE-C put and get";
  {
    const key = payload(10, 32);
    const ssec = { SSECustomerAlgorithm: "AES256", SSECustomerKey: key };
    const keyMD5 = md5b64(key);
    const data = payload(11, 1500000);
    const out = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "ssec.bin", Body: data, ...ssec }));
    check(out.SSECustomerAlgorithm === "AES256", `PUT SSECustomerAlgorithm ${out.SSECustomerAlgorithm}`);
    check(out.SSECustomerKeyMD5 === keyMD5, `PUT SSECustomerKeyMD5 ${out.SSECustomerKeyMD5}`);
    const [got, body] = await read(s3, { Bucket: bucket, Key: "ssec.bin", ...ssec });
    check(body.equals(data), "GET with the key: body differs");
    check(got.SSECustomerKeyMD5 === keyMD5, `GET SSECustomerKeyMD5 ${got.SSECustomerKeyMD5}`);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "ssec.bin", ...ssec }));
    check(head.ContentLength === data.length, `HEAD ContentLength ${head.ContentLength}`);
    await expectError(() => s3.send(new GetObjectCommand({ Bucket: bucket, Key: "ssec.bin" })), 400, "InvalidRequest", "GET without the key");
    await expectError(() => s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "ssec.bin" })), 400, null, "HEAD without the key");
    await expectError(
      () => s3.send(new GetObjectCommand({ Bucket: bucket, Key: "ssec.bin", SSECustomerAlgorithm: "AES256", SSECustomerKey: payload(12, 32) })),
      403, "AccessDenied", "GET with another key",
    );
  }
  ok();

  step = "conditional put (If-None-Match: *)";
  {
    const first = payload(13, 5000);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cond.txt", Body: first, IfNoneMatch: "*" }));
    await expectError(
      () => s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cond.txt", Body: payload(14, 5000), IfNoneMatch: "*" })),
      412, "PreconditionFailed", "If-None-Match: * on an existing key",
    );
    const [, got] = await read(s3, { Bucket: bucket, Key: "cond.txt" });
    check(got.equals(first), "the refused PUT changed the object");
  }
  ok();

  step = "versioned puts";
  {
    const vbucket = `${bucket}-versioned`;
    await s3.send(new CreateBucketCommand({ Bucket: vbucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: vbucket, VersioningConfiguration: { Status: "Enabled" } }));
    const status = (await s3.send(new GetBucketVersioningCommand({ Bucket: vbucket }))).Status;
    check(status === "Enabled", `GetBucketVersioning status ${status}`);
    const v1Data = payload(15, 300000);
    const v2Data = payload(16, 200000);
    const v1 = (await s3.send(new PutObjectCommand({ Bucket: vbucket, Key: "doc.bin", Body: v1Data }))).VersionId;
    const v2 = (await s3.send(new PutObjectCommand({ Bucket: vbucket, Key: "doc.bin", Body: v2Data }))).VersionId;
    check(v1 && v2 && v1 !== "null" && v2 !== "null", `version IDs ${v1}, ${v2}`);
    check(v1 !== v2, `both PUTs got version ${v1}`);
    for (const [vid, want] of [[v1, v1Data], [v2, v2Data]]) {
      const [got, body] = await read(s3, { Bucket: vbucket, Key: "doc.bin", VersionId: vid });
      check(body.equals(want), `GET version ${vid}: body differs`);
      check(got.VersionId === vid, `GET version ${vid} answered version ${got.VersionId}`);
      const head = await s3.send(new HeadObjectCommand({ Bucket: vbucket, Key: "doc.bin", VersionId: vid }));
      check(head.ContentLength === want.length, `HEAD version ${vid}: length ${head.ContentLength}`);
    }
    const [latest, body] = await read(s3, { Bucket: vbucket, Key: "doc.bin" });
    check(body.equals(v2Data) && latest.VersionId === v2, "GET without versionId is not the latest version");
    const versions = (await s3.send(new ListObjectVersionsCommand({ Bucket: vbucket, Prefix: "doc.bin" }))).Versions ?? [];
    const ids = versions.map((v) => v.VersionId);
    check(JSON.stringify(ids) === JSON.stringify([v2, v1]), `ListObjectVersions ${JSON.stringify(ids)}`);
  }
  ok();

  console.log(`compat: ${CLIENT}: all checks passed`);
}

try {
  await main();
} catch (e) {
  const why = e instanceof CheckFailed ? e.message : `unexpected error: ${e.name}: ${e.message}`;
  console.log(`FAIL ${step}: ${why}`);
  process.exit(1);
}
