// Package sigv2 verifies AWS Signature Version 2, the HMAC-SHA1 scheme older
// S3 tools still use: the header form (Authorization: AWS AKID:signature)
// and the query-string form (AWSAccessKeyId, Expires, Signature) that
// s3cmd signurl and boto2 produce. It also signs the policy of a browser
// POST upload signed with Version 2.
//
// Errors wrap the sentinels of package sigv4 where S3 answers the same
// error for both versions, and this package's own where it does not, so the
// gateway's one translation table covers both.
package sigv2
