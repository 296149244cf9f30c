package metadata

import (
	"time"

	"github.com/cairn-io/cairn/proto/metapb"
)

// Object Lock retention modes, as S3 spells them.
const (
	lockGovernance = "GOVERNANCE"
	lockCompliance = "COMPLIANCE"
)

// lockDenied decides whether Object Lock forbids removing or replacing v at
// now (the command's time, so that replay decides the same): a legal hold
// always does; a retention in force does unless it is GOVERNANCE and the
// caller bypasses it. It returns nil when the change may go ahead.
func lockDenied(v *metapb.ObjectVersion, now int64, bypass bool) *metapb.CommandResult {
	if v == nil || v.DeleteMarker {
		return nil
	}
	if v.LegalHold {
		return result(metapb.ErrorCode_ACCESS_DENIED, "%q/%q version %q is under legal hold", v.Bucket, v.Key, v.VersionId)
	}
	if v.LockMode == "" || v.LockRetainUntilUnixNano <= now {
		return nil
	}
	if v.LockMode == lockGovernance && bypass {
		return nil
	}
	return result(metapb.ErrorCode_ACCESS_DENIED, "%q/%q version %q is under %s retention", v.Bucket, v.Key, v.VersionId, v.LockMode)
}

// applyObjectLock checks the lock fields of a new version against its
// bucket and fills in the bucket's default retention when the version
// names none. The default is computed from the version's mtime, so every
// replica derives the same date.
func applyObjectLock(bk *metapb.Bucket, v *metapb.ObjectVersion) *metapb.CommandResult {
	if !bk.ObjectLockEnabled {
		if v.LockMode != "" || v.LockRetainUntilUnixNano != 0 || v.LegalHold {
			return result(metapb.ErrorCode_INVALID_ARGUMENT, "bucket %q has no Object Lock configuration", bk.Name)
		}
		return nil
	}
	if (v.LockMode == "") != (v.LockRetainUntilUnixNano == 0) {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "object lock mode and retain-until date must be given together")
	}
	if v.LockMode != "" && v.LockMode != lockGovernance && v.LockMode != lockCompliance {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "unknown object lock mode %q", v.LockMode)
	}
	dr := bk.DefaultRetention
	if v.LockMode != "" || dr.GetMode() == "" || (dr.GetDays() == 0 && dr.GetYears() == 0) {
		return nil
	}
	until := time.Unix(0, v.MtimeUnixNano).UTC().AddDate(int(dr.GetYears()), 0, int(dr.GetDays()))
	v.LockMode = dr.GetMode()
	v.LockRetainUntilUnixNano = until.UnixNano()
	return nil
}

// versionLocked looks up bucket/key's version versionID and reports, as a
// result, whether Object Lock forbids removing it at now.
func (t *txn) versionLocked(bucket, key, versionID string, now int64, bypass bool) (*metapb.CommandResult, error) {
	v, _, res, err := t.lookupVersion(bucket, key, versionID)
	if err != nil || res != nil {
		// A missing version is not locked; the caller handles absence.
		return nil, err
	}
	return lockDenied(v, now, bypass), nil
}
