package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

const (
	// maxDeleteObjects is S3's limit on the keys of one DeleteObjects.
	maxDeleteObjects = 1000
	// maxDeleteBody bounds the request document: 1,000 keys of up to 1 KiB,
	// XML-escaped, with their version IDs and ETags.
	maxDeleteBody = 8 << 20
	// deleteWorkers is how many deletions of one request are proposed at
	// once; Raft batches them into few commits.
	deleteWorkers = 16
)

// errMissingIntegrity is AWS's refusal of a DeleteObjects request that
// carries neither Content-MD5 nor a checksum.
var errMissingIntegrity = s3err.InvalidRequest.WithMessage("Missing required header for this request: Content-MD5")

// deleteObjects serves POST /?delete: up to 1,000 deletions, each reported
// on its own, so one failing key does not fail the others.
func (g *Gateway) deleteObjects(ctx context.Context, w http.ResponseWriter, rq *request) error {
	req, err := readDeleteRequest(rq)
	if err != nil {
		return err
	}
	bypass, err := parseBypassGovernance(rq.r.Header)
	if err != nil {
		return err
	}
	if _, err := g.getBucket(ctx, rq.bucket); err != nil {
		return err
	}

	type outcome struct {
		deleted *s3xml.DeletedObject
		failed  *s3xml.DeleteError
	}
	outcomes := make([]outcome, len(req.Objects))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(deleteWorkers, len(req.Objects)) {
		wg.Go(func() {
			for i := range work {
				d, e := g.deleteOne(ctx, rq, req.Objects[i], bypass)
				outcomes[i] = outcome{deleted: d, failed: e}
			}
		})
	}
	for i := range req.Objects {
		work <- i
	}
	close(work)
	wg.Wait()

	out := s3xml.DeleteResult{}
	for _, o := range outcomes {
		switch {
		case o.failed != nil:
			out.Errors = append(out.Errors, *o.failed)
		case !req.Quiet:
			out.Deleted = append(out.Deleted, *o.deleted)
		}
	}
	return writeXML(w, &out)
}

// readDeleteRequest reads and checks the request document: its integrity
// (S3 requires Content-MD5 or a checksum, and verifies it), its shape and
// its size.
func readDeleteRequest(rq *request) (*s3xml.Delete, error) {
	r := rq.r
	wantMD5, err := contentMD5(r.Header)
	if err != nil {
		return nil, err
	}
	sent, err := headerChecksum(r.Header)
	if err != nil {
		return nil, err
	}
	if wantMD5 == nil && sent == nil && rq.auth.ChecksumAlgorithm == "" {
		return nil, errMissingIntegrity
	}
	if rq.auth.Body == nil {
		return nil, s3err.MalformedXML
	}
	data, err := io.ReadAll(io.LimitReader(rq.auth.Body, maxDeleteBody+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(data) > maxDeleteBody {
		return nil, s3err.MalformedXML.WithMessage("The XML you provided was too large.")
	}
	if wantMD5 != nil {
		if sum := md5.Sum(data); !bytes.Equal(sum[:], wantMD5) {
			return nil, s3err.BadDigest.WithMessage("The Content-MD5 you specified did not match what we received.")
		}
	}
	if sent != nil {
		h := sent.alg.New()
		h.Write(data)
		if checksum.Encode(h.Sum(nil)) != sent.value {
			return nil, s3err.BadDigest.WithMessage(fmt.Sprintf("The %s you specified did not match the calculated checksum.", sent.alg))
		}
	}
	var req s3xml.Delete
	if len(data) == 0 {
		return nil, s3err.MalformedXML
	}
	if err := s3xml.Decode(bytes.NewReader(data), &req); err != nil {
		return nil, err
	}
	if len(req.Objects) == 0 || len(req.Objects) > maxDeleteObjects {
		return nil, s3err.MalformedXML
	}
	return &req, nil
}

// deleteOne deletes one entry of a DeleteObjects request and reports it.
func (g *Gateway) deleteOne(ctx context.Context, rq *request, o s3xml.ObjectToDelete, bypass bool) (*s3xml.DeletedObject, *s3xml.DeleteError) {
	key := ""
	if o.Key != nil {
		key = *o.Key
	}
	fail := func(e *s3err.Error) (*s3xml.DeletedObject, *s3xml.DeleteError) {
		return nil, &s3xml.DeleteError{Key: key, VersionID: o.VersionID, Code: e.Code, Message: e.Message}
	}
	switch {
	case key == "":
		return fail(s3err.UserKeyMustBeSpecified)
	case len(key) > maxKeyLen:
		return fail(s3err.KeyTooLongError)
	case o.VersionID != "" && !validVersionID(o.VersionID):
		return fail(s3err.NoSuchVersion)
	}
	// The request as a whole was authorized for the bucket; each key is
	// still a DeleteObject (or DeleteObjectVersion) of its own object.
	action := "s3:DeleteObject"
	if o.VersionID != "" {
		action = "s3:DeleteObjectVersion"
	}
	if err := g.authorizeAction(ctx, rq, action, rq.bucket, key, o.VersionID); err != nil {
		return fail(s3err.FromError(err))
	}
	bypass, err := g.mayBypassGovernance(ctx, rq, bypass, key, o.VersionID)
	if err != nil {
		return fail(s3err.FromError(err))
	}
	res, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_DeleteObject{DeleteObject: &metapb.DeleteObject{
		Bucket:           rq.bucket,
		Key:              key,
		VersionId:        o.VersionID,
		MtimeUnixNano:    g.cfg.Now().UnixNano(),
		MarkerVersionId:  newVersionID(g.cfg.Now()),
		IfMatch:          unquoteETag(o.ETag),
		BypassGovernance: bypass,
	}}})
	if err != nil {
		var me *s3err.MetaError
		if !errors.As(err, &me) {
			g.log.Error("delete objects: delete one", "request_id", rq.id, "key", key, "err", err)
		}
		return fail(s3err.FromError(err))
	}
	d := &s3xml.DeletedObject{Key: key, VersionID: o.VersionID}
	if v := res.GetVersion(); v.GetDeleteMarker() {
		d.DeleteMarker = true
		d.DeleteMarkerVersionID = v.GetVersionId()
	}
	return d, nil
}
