package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/erasure/bitrot"
)

// Sentinels callers branch on with errors.Is.
var (
	// ErrNotFound: the drive or the shard does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrCorrupt: stored or received bytes fail their checksum.
	ErrCorrupt = bitrot.ErrCorrupt
	// ErrNoSpace: the drive is full.
	ErrNoSpace = errors.New("storage: no space left on drive")
	// ErrInvalid: the request is malformed.
	ErrInvalid = errors.New("storage: invalid argument")
	// ErrOutOfRange: a read asks for bytes beyond the shard's data.
	ErrOutOfRange = errors.New("storage: range out of bounds")
	// ErrUnavailable: the server is shutting down.
	ErrUnavailable = errors.New("storage: unavailable")
	// ErrDriveFaulty: the drive is marked faulty (I/O errors, or its
	// directory or format file vanished) and takes no new shards. Not
	// Unavailable: the node and its other drives are fine, so a writer
	// must move the shard to another drive without suspecting the node.
	ErrDriveFaulty = errors.New("storage: drive faulty")
)

// codeTable is the one place where sentinels meet gRPC codes. Clients of the
// Storage service map the codes back to their own sentinels.
var codeTable = []struct {
	err  error
	code codes.Code
}{
	{ErrNotFound, codes.NotFound},
	{ErrCorrupt, codes.DataLoss},
	{ErrNoSpace, codes.ResourceExhausted},
	{ErrInvalid, codes.InvalidArgument},
	{ErrOutOfRange, codes.OutOfRange},
	{ErrUnavailable, codes.Unavailable},
	{ErrDriveFaulty, codes.FailedPrecondition},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
}

// classify folds the errors of lower layers into our sentinels.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	case errors.Is(err, bitrot.ErrBadHeader):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// codeOf returns the gRPC code for err and the sentinel it matched (nil for
// codes.Internal or an error that already carries a status).
func codeOf(err error) (codes.Code, error) {
	err = classify(err)
	for _, e := range codeTable {
		if errors.Is(err, e.err) {
			return e.code, e.err
		}
	}
	if st, ok := status.FromError(err); ok {
		return st.Code(), nil
	}
	return codes.Internal, nil
}

// errorOf is the reverse of the table, for clients and tests.
func errorOf(c codes.Code) error {
	for _, e := range codeTable {
		if e.code == c {
			return e.err
		}
	}
	return nil
}

// toStatus converts err into a gRPC status whose message names op and the
// shard but never a local path or the wrapped detail.
func toStatus(op, shardID string, err error) error {
	code, sentinel := codeOf(err)
	var what string
	switch {
	case sentinel != nil:
		what = sentinel.Error()
	case code == codes.Internal:
		what = "internal error"
	default:
		what = code.String()
	}
	return status.Errorf(code, "%s %q: %s", op, shardID, what)
}
