package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/proto/metapb"
)

// IAM actions of Object Lock beyond the operations' own.
const (
	actionBypassGovernance = "s3:BypassGovernanceRetention"
	actionPutRetention     = "s3:PutObjectRetention"
	actionPutLegalHold     = "s3:PutObjectLegalHold"
)

// mayBypassGovernance decides a request's x-amz-bypass-governance-retention
// (asked) for the version versionID of key in rq's bucket: the bypass
// holds only for a caller allowed s3:BypassGovernanceRetention. A caller
// without it is not refused here but loses the bypass, so, as in S3, its
// request fails only where a GOVERNANCE lock actually stands in the way
// (the state machine refuses it then).
func (g *Gateway) mayBypassGovernance(ctx context.Context, rq *request, asked bool, key, versionID string) (bool, error) {
	if !asked {
		return false, nil
	}
	err := g.authorizeAction(ctx, rq, actionBypassGovernance, rq.bucket, key, versionID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, s3err.AccessDenied):
		return false, nil
	}
	return false, err
}

// objectLock is what the x-amz-object-lock-* headers of a write that
// creates an object ask for it.
type objectLock struct {
	// mode and until are set together.
	mode  string
	until time.Time
	hold  bool
	// retention and holdGiven tell which headers were sent (a legal hold
	// of OFF is given too).
	retention, holdGiven bool
}

// parseObjectLock reads and validates the Object Lock headers of a write
// that creates an object (PutObject, CreateMultipartUpload, CopyObject)
// against its bucket, as S3 does: valid values, a retain-until date in
// the future, and a bucket with Object Lock enabled.
func (g *Gateway) parseObjectLock(h http.Header, bucket *metapb.Bucket) (objectLock, error) {
	var l objectLock
	var err error
	if l.mode, l.until, l.hold, err = parseLockHeaders(h, g.cfg.Now()); err != nil {
		return objectLock{}, err
	}
	l.retention = l.mode != ""
	l.holdGiven = h.Get("x-amz-object-lock-legal-hold") != ""
	if (l.retention || l.holdGiven) && !bucket.GetObjectLockEnabled() {
		return objectLock{}, s3err.InvalidRequest.WithMessage("Bucket is missing Object Lock Configuration")
	}
	return l, nil
}

// apply records the lock in a new version.
func (l objectLock) apply(v *metapb.ObjectVersion) {
	v.LockMode, v.LockRetainUntilUnixNano = "", 0
	if l.mode != "" {
		v.LockMode = l.mode
		v.LockRetainUntilUnixNano = l.until.UnixNano()
	}
	v.LegalHold = l.hold
}

// authorizeObjectLock checks the permissions that lock headers need
// beyond s3:PutObject, as S3 does: s3:PutObjectRetention for a retention,
// s3:PutObjectLegalHold for a legal hold, on the object rq creates for
// owner.
func (g *Gateway) authorizeObjectLock(ctx context.Context, rq *request, l objectLock, owner string) error {
	if l.retention {
		if err := g.authorizeOnNewObject(ctx, rq, actionPutRetention, owner); err != nil {
			return err
		}
	}
	if l.holdGiven {
		if err := g.authorizeOnNewObject(ctx, rq, actionPutLegalHold, owner); err != nil {
			return err
		}
	}
	return nil
}
