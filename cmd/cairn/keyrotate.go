package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cairn-io/cairn/node/gateway/sse"
	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/node/metaclient"
	"github.com/cairn-io/cairn/proto/metapb"
)

// maxRotatePasses bounds the passes of one run: a pass repeats only when
// records changed under it (compare-and-set misses).
const maxRotatePasses = 5

// rotateReport is the summary of `cairn admin key rotate` (--json).
type rotateReport struct {
	Phase     string `json:"phase"` // "rotate" or "finish"
	Passes    int    `json:"passes"`
	Users     int    `json:"users"`
	Objects   int    `json:"sse_s3_object_versions"`
	Uploads   int    `json:"sse_s3_uploads"`
	Parts     int    `json:"sse_s3_upload_parts"`
	Rewrapped int    `json:"rewrapped"`
	Conflicts int    `json:"conflicts"`
	Errors    int    `json:"unreadable"`
	Finished  bool   `json:"finished"`
}

// runAdminKey runs `cairn admin key rotate`.
func runAdminKey(args []string) error {
	if len(args) < 1 || args[0] != "rotate" {
		fmt.Fprint(os.Stderr, adminUsage)
		return usageError{errors.New("admin key: want 'rotate'")}
	}
	a := newAdminFlags("admin key rotate")
	var (
		oldB64 = a.fs.String("master-key", "", "the current cluster master key, base64 of 32 bytes")
		newB64 = a.fs.String("new-master-key", "", "the new master key, base64 of 32 bytes (prefer CAIRN_NEW_MASTER_KEY)")
		finish = a.fs.Bool("finish", false, "end the rotation: seal everything under the new key only and stop accepting the old one")
		batch  = a.fs.Int("batch", 256, "sealed values per committed command")
		asJSON = a.fs.Bool("json", false, "print the summary as JSON")
	)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mc, err := a.parse(ctx, args[1:])
	if err != nil {
		return err
	}
	defer mc.Close()
	oldKey, err := identity.ParseMasterKey(*oldB64)
	if err != nil {
		return usageError{fmt.Errorf("admin key rotate: --master-key: %w", err)}
	}
	newKey, err := identity.ParseMasterKey(*newB64)
	if err != nil {
		return usageError{fmt.Errorf("admin key rotate: --new-master-key: %w", err)}
	}
	if *batch < 1 || *batch > 1000 {
		return usageError{errors.New("admin key rotate: --batch must be 1..1000")}
	}
	r, err := newRotator(mc, oldKey, newKey, *batch)
	if err != nil {
		return fmt.Errorf("admin key rotate: %w", err)
	}
	rep, err := r.run(ctx, *finish)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		fmt.Printf("%s: %d pass(es); %d users, %d SSE-S3 object versions, %d uploads, %d upload parts seen; %d rewrapped; %d changed meanwhile; %d unreadable\n",
			rep.Phase, rep.Passes, rep.Users, rep.Objects, rep.Uploads, rep.Parts, rep.Rewrapped, rep.Conflicts, rep.Errors)
		if rep.Finished {
			fmt.Println("Rotation finished: the previous master key is no longer accepted.")
		} else if err == nil {
			fmt.Println("Rotation in progress: restart every gateway with the new key (--previous-master-key the old one), then run again with --finish.")
		}
	}
	if err != nil {
		return fmt.Errorf("admin key rotate: %w", err)
	}
	return nil
}

type rotator struct {
	mc       *metaclient.Client
	sealer   *identity.Sealer
	keyring  *sse.Keyring
	oldCheck []byte
	newCheck []byte
	batch    int
	pending  []*metapb.SealedSwap
	rep      rotateReport
}

func newRotator(mc *metaclient.Client, oldKey, newKey []byte, batch int) (*rotator, error) {
	sealer, err := identity.NewSealerKeys(identity.Keys{Current: newKey, Previous: oldKey})
	if err != nil {
		return nil, err // also when both keys are the same
	}
	kr, err := sse.NewKeyringMasters(sse.MasterKeys{Current: newKey, Previous: oldKey}, nil)
	if err != nil {
		return nil, err
	}
	oc, err := identity.KeyCheckValue(oldKey)
	if err != nil {
		return nil, err
	}
	nc, err := identity.KeyCheckValue(newKey)
	if err != nil {
		return nil, err
	}
	return &rotator{mc: mc, sealer: sealer, keyring: kr, oldCheck: oc, newCheck: nc, batch: batch}, nil
}

func (r *rotator) propose(ctx context.Context, cmd *metapb.Command) (*metapb.CommandResult, error) {
	res, err := propose(ctx, r.mc, cmd)
	if err != nil {
		return nil, err
	}
	if res.GetCode() != metapb.ErrorCode_OK {
		return res, fmt.Errorf("%s: %s", res.GetCode(), res.GetMessage())
	}
	return res, nil
}

// run starts (or resumes) the rotation and re-wraps every record; with
// finish it re-wraps under the new key only and ends the rotation.
func (r *rotator) run(ctx context.Context, finish bool) (rotateReport, error) {
	r.rep.Phase = "rotate"
	if finish {
		r.rep.Phase = "finish"
		// The new key must be the cluster's (the rotation was started
		// with it); the old one may already be retired (a re-run).
		if _, err := r.propose(ctx, &metapb.Command{Op: &metapb.Command_SetMasterKeyCheck{SetMasterKeyCheck: &metapb.SetMasterKeyCheck{Check: r.newCheck}}}); err != nil {
			return r.rep, fmt.Errorf("the new master key is not the cluster's: start the rotation first (without --finish): %w", err)
		}
	} else if _, err := r.propose(ctx, &metapb.Command{Op: &metapb.Command_StartKeyRotation{StartKeyRotation: &metapb.StartKeyRotation{OldCheck: r.oldCheck, NewCheck: r.newCheck}}}); err != nil {
		return r.rep, fmt.Errorf("start: %w", err)
	}
	for r.rep.Passes < maxRotatePasses {
		r.rep.Passes++
		conflicts := r.rep.Conflicts
		if err := r.pass(ctx, finish); err != nil {
			return r.rep, err
		}
		if r.rep.Conflicts == conflicts {
			break
		}
	}
	if r.rep.Errors > 0 {
		return r.rep, fmt.Errorf("%d sealed values open under neither key; rotation not finished", r.rep.Errors)
	}
	if finish {
		if _, err := r.propose(ctx, &metapb.Command{Op: &metapb.Command_FinishKeyRotation{FinishKeyRotation: &metapb.FinishKeyRotation{NewCheck: r.newCheck}}}); err != nil {
			return r.rep, fmt.Errorf("finish: %w", err)
		}
		r.rep.Finished = true
	}
	return r.rep, nil
}

// pass walks users, SSE-S3 object versions, uploads and their parts once.
func (r *rotator) pass(ctx context.Context, finish bool) error {
	users, err := r.mc.ListUsers(ctx, &metapb.ListUsersRequest{})
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	for _, u := range users.GetUsers() {
		r.rep.Users++
		out, changed, err := r.sealer.Reseal(u.AccessKey, u.SecretCiphertext, finish)
		if err != nil {
			r.rep.Errors++
			fmt.Fprintf(os.Stderr, "user %s: %v\n", u.AccessKey, err)
			continue
		}
		if changed {
			if err := r.add(ctx, &metapb.SealedSwap{Kind: metapb.SealedKind_SEALED_USER_SECRET, AccessKey: u.AccessKey, Old: u.SecretCiphertext, New: out}); err != nil {
				return err
			}
		}
	}
	buckets, err := r.mc.ListBuckets(ctx, &metapb.ListBucketsRequest{})
	if err != nil {
		return fmt.Errorf("list buckets: %w", err)
	}
	for _, b := range buckets.GetBuckets() {
		if err := r.objects(ctx, b.Name, finish); err != nil {
			return err
		}
		if err := r.uploads(ctx, b.Name, finish); err != nil {
			return err
		}
	}
	return r.flush(ctx)
}

func (r *rotator) objects(ctx context.Context, bucket string, finish bool) error {
	req := &metapb.ListObjectVersionsRequest{Bucket: bucket, MaxKeys: 1000}
	for {
		resp, err := r.mc.ListObjectVersions(ctx, req)
		if err != nil {
			return fmt.Errorf("list versions of %q: %w", bucket, err)
		}
		for _, v := range resp.GetVersions() {
			encs := []*metapb.Encryption{v.GetEncryption()}
			for _, p := range v.GetParts() {
				encs = append(encs, p.GetEncryption())
			}
			seen := map[string]bool{}
			for _, e := range encs {
				if e.GetAlgorithm() != "AES256" || seen[string(e.GetWrappedKey())] {
					continue
				}
				seen[string(e.GetWrappedKey())] = true
				if len(seen) == 1 {
					r.rep.Objects++
				}
				s := &metapb.SealedSwap{Kind: metapb.SealedKind_SEALED_OBJECT_VERSION, Bucket: bucket, Key: v.Key, VersionId: v.VersionId}
				if err := r.rewrapKey(ctx, s, e.GetWrappedKey(), finish); err != nil {
					return err
				}
			}
		}
		if !resp.GetTruncated() {
			return nil
		}
		req.KeyMarker, req.VersionIdMarker = resp.GetNextKeyMarker(), resp.GetNextVersionIdMarker()
	}
}

func (r *rotator) uploads(ctx context.Context, bucket string, finish bool) error {
	req := &metapb.ListMultipartUploadsRequest{Bucket: bucket, MaxUploads: 1000}
	for {
		resp, err := r.mc.ListMultipartUploads(ctx, req)
		if err != nil {
			return fmt.Errorf("list uploads of %q: %w", bucket, err)
		}
		for _, u := range resp.GetUploads() {
			if e := u.GetTemplate().GetEncryption(); e.GetAlgorithm() == "AES256" {
				r.rep.Uploads++
				s := &metapb.SealedSwap{Kind: metapb.SealedKind_SEALED_UPLOAD, Bucket: bucket, Key: u.Key, UploadId: u.UploadId}
				if err := r.rewrapKey(ctx, s, e.GetWrappedKey(), finish); err != nil {
					return err
				}
			}
			if err := r.parts(ctx, u, finish); err != nil {
				return err
			}
		}
		if !resp.GetTruncated() {
			return nil
		}
		req.KeyMarker, req.UploadIdMarker = resp.GetNextKeyMarker(), resp.GetNextUploadIdMarker()
	}
}

func (r *rotator) parts(ctx context.Context, u *metapb.MultipartUpload, finish bool) error {
	req := &metapb.GetMultipartUploadRequest{Bucket: u.Bucket, Key: u.Key, UploadId: u.UploadId, MaxParts: 1000}
	for {
		resp, err := r.mc.GetMultipartUpload(ctx, req)
		if err != nil {
			return fmt.Errorf("parts of upload %q: %w", u.UploadId, err)
		}
		if resp.GetCode() != metapb.ErrorCode_OK {
			return nil // completed or aborted meanwhile
		}
		for _, p := range resp.GetParts() {
			req.PartNumberMarker = p.Number
			if e := p.GetEncryption(); e.GetAlgorithm() == "AES256" {
				r.rep.Parts++
				s := &metapb.SealedSwap{Kind: metapb.SealedKind_SEALED_UPLOAD_PART, Bucket: u.Bucket, Key: u.Key, UploadId: u.UploadId, PartNumber: p.Number}
				if err := r.rewrapKey(ctx, s, e.GetWrappedKey(), finish); err != nil {
					return err
				}
			}
		}
		if !resp.GetTruncated() {
			return nil
		}
	}
}

func (r *rotator) rewrapKey(ctx context.Context, s *metapb.SealedSwap, wrapped []byte, finish bool) error {
	out, changed, err := r.keyring.RewrapS3(wrapped, finish)
	if err != nil {
		r.rep.Errors++
		fmt.Fprintf(os.Stderr, "%s %q/%q %s%s: %v\n", s.Kind, s.Bucket, s.Key, s.VersionId, s.UploadId, err)
		return nil
	}
	if !changed {
		return nil
	}
	s.Old, s.New = wrapped, out
	return r.add(ctx, s)
}

func (r *rotator) add(ctx context.Context, s *metapb.SealedSwap) error {
	r.pending = append(r.pending, s)
	if len(r.pending) >= r.batch {
		return r.flush(ctx)
	}
	return nil
}

// flush commits the pending swaps and reports progress on stderr.
func (r *rotator) flush(ctx context.Context) error {
	if len(r.pending) == 0 {
		return nil
	}
	res, err := r.propose(ctx, &metapb.Command{Op: &metapb.Command_RewrapSealed{RewrapSealed: &metapb.RewrapSealed{Swaps: r.pending}}})
	if err != nil {
		return fmt.Errorf("rewrap: %w", err)
	}
	r.rep.Rewrapped += int(res.GetRewrapped())
	r.rep.Conflicts += len(r.pending) - int(res.GetRewrapped())
	r.pending = r.pending[:0]
	fmt.Fprintf(os.Stderr, "%s pass %d: %d users, %d object versions, %d uploads, %d parts seen; %d rewrapped, %d changed meanwhile\n",
		r.rep.Phase, r.rep.Passes, r.rep.Users, r.rep.Objects, r.rep.Uploads, r.rep.Parts, r.rep.Rewrapped, r.rep.Conflicts)
	return nil
}
