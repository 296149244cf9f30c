package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/erasure/bitrot"
)

func TestErrorTable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want codes.Code
		// sentinel is what the code maps back to; nil for none.
		sentinel error
	}{
		{"not found", ErrNotFound, codes.NotFound, ErrNotFound},
		{"corrupt", ErrCorrupt, codes.DataLoss, ErrCorrupt},
		{"no space", ErrNoSpace, codes.ResourceExhausted, ErrNoSpace},
		{"invalid", ErrInvalid, codes.InvalidArgument, ErrInvalid},
		{"out of range", ErrOutOfRange, codes.OutOfRange, ErrOutOfRange},
		{"unavailable", ErrUnavailable, codes.Unavailable, ErrUnavailable},
		{"drive faulty", ErrDriveFaulty, codes.FailedPrecondition, ErrDriveFaulty},
		{"digest mismatch", bitrot.ErrDigestMismatch, codes.DataLoss, ErrCorrupt},
		{"bad trailer", fmt.Errorf("x: %w", bitrot.ErrBadTrailer), codes.DataLoss, ErrCorrupt},
		{"canceled", context.Canceled, codes.Canceled, context.Canceled},
		{"deadline", context.DeadlineExceeded, codes.DeadlineExceeded, context.DeadlineExceeded},
		{"wrapped corrupt", fmt.Errorf("read: %w", bitrot.ErrCorrupt), codes.DataLoss, ErrCorrupt},
		{"bad header", fmt.Errorf("x: %w", bitrot.ErrBadHeader), codes.DataLoss, ErrCorrupt},
		{"missing file", &os.PathError{Op: "open", Path: "/d/shards/x", Err: syscall.ENOENT}, codes.NotFound, ErrNotFound},
		{"fs not exist", fs.ErrNotExist, codes.NotFound, ErrNotFound},
		{"enospc", &os.PathError{Op: "write", Path: "/d/tmp/x", Err: syscall.ENOSPC}, codes.ResourceExhausted, ErrNoSpace},
		{"edquot", syscall.EDQUOT, codes.ResourceExhausted, ErrNoSpace},
		{"grpc status passes through", status.Error(codes.Aborted, "x"), codes.Aborted, nil},
		{"other", errors.New("boom"), codes.Internal, nil},
		{"io error", &os.PathError{Op: "read", Path: "/d/x", Err: syscall.EIO}, codes.Internal, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, sentinel := codeOf(tc.err)
			require.Equal(t, tc.want.String(), got.String())
			if tc.sentinel != nil {
				require.ErrorIs(t, sentinel, tc.sentinel)
				require.Equal(t, tc.sentinel, errorOf(got), "reverse mapping")
			}

			st := toStatus("write", "s.1", tc.err)
			require.Equal(t, tc.want.String(), status.Code(st).String())
			require.NotContains(t, status.Convert(st).Message(), "/d/", "status leaks a path")
			require.Contains(t, status.Convert(st).Message(), `"s.1"`)
		})
	}
	// Every row of the table is covered above.
	for _, row := range codeTable {
		require.Equal(t, row.err, errorOf(row.code))
	}
	require.Nil(t, errorOf(codes.Internal))
}
