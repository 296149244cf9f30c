package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/metadata"
	"github.com/cairn-io/cairn/proto/metapb"
)

// ListObjectVersions serves the version listing from the state machine.
func (m *fsmMeta) ListObjectVersions(_ context.Context, in *metapb.ListObjectVersionsRequest, _ ...grpc.CallOption) (*metapb.ListObjectVersionsResponse, error) {
	resp, err := m.f.ListObjectVersions(in)
	if c := metaCode(err); c != metapb.ErrorCode_OK {
		return &metapb.ListObjectVersionsResponse{Code: c}, nil
	}
	if errors.Is(err, metadata.ErrBadVersionMarker) {
		return &metapb.ListObjectVersionsResponse{Code: metapb.ErrorCode_INVALID_ARGUMENT}, nil
	}
	return resp, err
}

// applyBatch applies commands as one Raft batch, which builds a large
// bucket much faster than one PUT at a time.
func (m *fsmMeta) applyBatch(t *testing.T, cmds []*metapb.Command) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	logs := make([]*raft.Log, len(cmds))
	for i, c := range cmds {
		data, err := proto.Marshal(c)
		require.NoError(t, err)
		m.mu.index++
		logs[i] = &raft.Log{Index: m.mu.index, Term: 1, Type: raft.LogCommand, Data: data}
	}
	for _, out := range m.f.ApplyBatch(logs) {
		res, ok := out.(*metapb.CommandResult)
		require.True(t, ok, "%v", out)
		require.Equal(t, metapb.ErrorCode_OK, res.GetCode(), res.GetMessage())
	}
}

// rolledUp is the entry a key shows as in a listing.
func rolledUp(key, prefix, delim string) (string, bool) {
	if delim == "" {
		return key, false
	}
	if i := strings.Index(key[len(prefix):], delim); i >= 0 {
		return key[:len(prefix)+i+len(delim)], true
	}
	return key, false
}

// TestListingThroughGateway pages a bucket of a few thousand keys, built
// directly in the state machine, through the SDK's ListObjectsV2,
// ListObjects and ListObjectVersions with prefixes, delimiters and page
// sizes, and compares every listing with a sorted model. It checks the
// gateway's continuation tokens and markers end to end.
func TestListingThroughGateway(t *testing.T) {
	fm := newFSMMeta(t)
	e := newEnv(t, envOptions{config: func(c *Config) { c.Meta = NewMetaClient(fm) }})
	e.createBucket("big")
	_, err := e.client.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{
		Bucket: aws.String("big"), VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	require.NoError(t, err)

	const n = 4000
	var (
		cmds    []*metapb.Command
		current []string
		// versions is the model of the version listing: key, then ID,
		// newest first.
		versions [][2]string
	)
	put := func(key, id string) *metapb.Command {
		return &metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{Version: &metapb.ObjectVersion{
			Bucket: "big", Key: key, VersionId: id, DataId: key + id, Etag: "e", Size: 1, Owner: "o", MtimeUnixNano: 1,
		}}}}
	}
	for i := range n {
		key := fmt.Sprintf("d%02d/s%d/k%04d", i/200, (i/20)%10, i)
		if i%9 == 0 {
			key = fmt.Sprintf("d%02d.%04d", i/200, i)
		}
		id1, id2 := fmt.Sprintf("%032x", 2*i+1), fmt.Sprintf("%032x", 2*i+2)
		cmds = append(cmds, put(key, id1))
		var vs [][2]string
		vs = append(vs, [2]string{key, id1})
		if i%5 == 0 {
			cmds = append(cmds, put(key, id2))
			vs = append(vs, [2]string{key, id2})
		}
		if i%7 == 0 {
			marker := fmt.Sprintf("%032x", 1<<40+i)
			cmds = append(cmds, &metapb.Command{Op: &metapb.Command_DeleteObject{DeleteObject: &metapb.DeleteObject{
				Bucket: "big", Key: key, MarkerVersionId: marker, MtimeUnixNano: 2,
			}}})
			vs = append(vs, [2]string{key, marker})
		} else {
			current = append(current, key)
		}
		slices.Reverse(vs)
		versions = append(versions, vs...)
	}
	fm.applyBatch(t, cmds)
	slices.Sort(current)
	slices.SortStableFunc(versions, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })

	ctx := context.Background()
	for _, prefix := range []string{"", "d03/", "d03/s4/", "d1"} {
		for _, delim := range []string{"", "/"} {
			var want, wantV []string
			for _, k := range current {
				if !strings.HasPrefix(k, prefix) {
					continue
				}
				if e, _ := rolledUp(k, prefix, delim); len(want) == 0 || want[len(want)-1] != e {
					want = append(want, e)
				}
			}
			for _, v := range versions {
				if !strings.HasPrefix(v[0], prefix) {
					continue
				}
				e, cp := rolledUp(v[0], prefix, delim)
				if !cp {
					e = v[0] + "@" + v[1]
				}
				if len(wantV) == 0 || wantV[len(wantV)-1] != e {
					wantV = append(wantV, e)
				}
			}
			for _, size := range []int32{1000, 333} {
				name := fmt.Sprintf("prefix=%q delim=%q max=%d", prefix, delim, size)

				// ListObjectsV2, through the SDK's paginator.
				var got []string
				in := &s3.ListObjectsV2Input{Bucket: aws.String("big"), Prefix: aws.String(prefix), Delimiter: aws.String(delim), MaxKeys: aws.Int32(size)}
				for p := s3.NewListObjectsV2Paginator(e.client, in); p.HasMorePages(); {
					page, err := p.NextPage(ctx)
					require.NoError(t, err, name)
					got = append(got, pageEntries(page.Contents, page.CommonPrefixes)...)
				}
				require.Equal(t, want, got, "v2 "+name)

				// ListObjects (v1), following NextMarker or the last key.
				got = nil
				marker := ""
				for {
					out, err := e.client.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("big"), Prefix: aws.String(prefix),
						Delimiter: aws.String(delim), MaxKeys: aws.Int32(size), Marker: aws.String(marker)})
					require.NoError(t, err, name)
					entries := pageEntries(out.Contents, out.CommonPrefixes)
					got = append(got, entries...)
					if !aws.ToBool(out.IsTruncated) {
						break
					}
					marker = aws.ToString(out.NextMarker)
					if marker == "" {
						marker = entries[len(entries)-1]
					}
				}
				require.Equal(t, want, got, "v1 "+name)

				// ListObjectVersions, following the next markers.
				got = nil
				km, vm := "", ""
				for {
					out, err := e.client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("big"), Prefix: aws.String(prefix),
						Delimiter: aws.String(delim), MaxKeys: aws.Int32(size), KeyMarker: aws.String(km), VersionIdMarker: aws.String(vm)})
					require.NoError(t, err, name)
					var entries []string
					for _, v := range out.Versions {
						entries = append(entries, aws.ToString(v.Key)+"@"+aws.ToString(v.VersionId))
					}
					for _, d := range out.DeleteMarkers {
						entries = append(entries, aws.ToString(d.Key)+"@"+aws.ToString(d.VersionId))
					}
					for _, cp := range out.CommonPrefixes {
						entries = append(entries, aws.ToString(cp.Prefix))
					}
					require.LessOrEqual(t, len(entries), int(size))
					// Key order, newest (highest ID here) first.
					slices.SortFunc(entries, func(a, b string) int {
						ka, ia, _ := strings.Cut(a, "@")
						kb, ib, _ := strings.Cut(b, "@")
						if c := strings.Compare(ka, kb); c != 0 {
							return c
						}
						return strings.Compare(ib, ia)
					})
					got = append(got, entries...)
					if !aws.ToBool(out.IsTruncated) {
						break
					}
					km, vm = aws.ToString(out.NextKeyMarker), aws.ToString(out.NextVersionIdMarker)
				}
				require.Equal(t, wantV, got, "versions "+name)
			}
		}
	}
}

// pageEntries merges the objects and common prefixes of one page in
// listing order.
func pageEntries(objs []types.Object, cps []types.CommonPrefix) []string {
	var out []string
	for _, o := range objs {
		out = append(out, aws.ToString(o.Key))
	}
	for _, cp := range cps {
		out = append(out, aws.ToString(cp.Prefix))
	}
	slices.Sort(out)
	return out
}
