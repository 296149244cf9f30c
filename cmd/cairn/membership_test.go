package main

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPositional(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		want     int
		ids      []string
		rest     []string
		usageErr bool
	}{
		{"node then flags", []string{"storage-3", "--dead", "--wait", "1m"}, 1, []string{"storage-3"}, []string{"--dead", "--wait", "1m"}, false},
		{"node and drive", []string{"storage-3", "drive0"}, 2, []string{"storage-3", "drive0"}, []string{}, false},
		{"a third word is left to the flags", []string{"a", "b", "c"}, 2, []string{"a", "b"}, []string{"c"}, false},
		{"missing node", []string{"--dead"}, 1, nil, nil, true},
		{"missing drive", []string{"storage-3", "--json"}, 2, nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids, rest, err := positional(tc.args, tc.want)
			if tc.usageErr {
				var ue usageError
				require.True(t, errors.As(err, &ue), "%v", err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.ids, ids)
			require.Equal(t, tc.rest, rest)
		})
	}
}
