package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
)

func TestTraceFilter(t *testing.T) {
	ok := &TraceEvent{Op: "GetObject", Bucket: "photos", Status: 200}
	missing := &TraceEvent{Op: "GetObject", Bucket: "photos", Status: 404}
	other := &TraceEvent{Op: "PutOrCopyObject", Bucket: "logs", Status: 200}
	tests := []struct {
		name   string
		filter traceFilter
		ev     *TraceEvent
		want   bool
	}{
		{"no filter", traceFilter{}, ok, true},
		{"errors only drops a 200", traceFilter{errorsOnly: true}, ok, false},
		{"errors only keeps a 404", traceFilter{errorsOnly: true}, missing, true},
		{"bucket matches", traceFilter{bucket: "photos"}, ok, true},
		{"bucket differs", traceFilter{bucket: "photos"}, other, false},
		{"op ignores case", traceFilter{op: "getobject"}, ok, true},
		{"op differs", traceFilter{op: "GetObject"}, other, false},
		{"all three", traceFilter{errorsOnly: true, bucket: "photos", op: "GetObject"}, missing, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.filter.match(tc.ev))
		})
	}
}

func TestTraceHubNeverBlocks(t *testing.T) {
	var h traceHub
	require.False(t, h.active())
	s := h.subscribe(traceFilter{})
	require.True(t, h.active())
	for i := 0; i < traceBuffer+10; i++ {
		h.publish(TraceEvent{Op: "GetObject"})
	}
	require.Len(t, s.ch, traceBuffer)
	require.Equal(t, int64(10), s.dropped.Load(), "events past the buffer are counted, not queued")
	h.unsubscribe(s)
	require.False(t, h.active())
}

// TestTraceStreamsRequests follows a live trace while requests are served:
// each finished request arrives as one JSON line, the filter applies, and
// only the root credentials may trace.
func TestTraceStreamsRequests(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("photos")

	anon, err := http.NewRequest(http.MethodGet, e.srv.URL+TracePath, nil)
	require.NoError(t, err)
	resp, body := e.do(anon)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "anonymous trace: %s", body)
	require.Contains(t, string(body), "<Code>AccessDenied</Code>")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := e.signedRequest(http.MethodGet, TracePath+"?bucket=photos", nil, 0, nil).WithContext(ctx)
	resp, err = e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/x-ndjson", resp.Header.Get("Content-Type"))

	events := make(chan TraceEvent, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if len(sc.Bytes()) == 0 {
				continue
			}
			var ev TraceEvent
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				events <- ev
			}
		}
	}()

	// The subscription exists once the headers are flushed.
	e.put("photos", "cat.jpg", []byte("meow"))
	_, err = e.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("missing")})
	require.Error(t, err)
	e.createBucket("other") // filtered out: another bucket

	var got []TraceEvent
	for len(got) < 2 {
		select {
		case ev, ok := <-events:
			require.True(t, ok, "trace stream ended early")
			got = append(got, ev)
		case <-ctx.Done():
			t.Fatalf("trace: got %d events, want 2", len(got))
		}
	}
	require.Equal(t, "PutOrCopyObject", got[0].Op)
	require.Equal(t, "photos", got[0].Bucket)
	require.Equal(t, "cat.jpg", got[0].Key)
	require.Equal(t, http.StatusOK, got[0].Status)
	require.Equal(t, testAccessKey, got[0].AccessKey)
	require.NotEmpty(t, got[0].RequestID)
	require.Equal(t, "GetObject", got[1].Op)
	require.Equal(t, http.StatusNotFound, got[1].Status)
	require.Equal(t, "NoSuchKey", got[1].Error)

	// A third event would be the "other" bucket's: make sure none comes by
	// sending one more matching request and seeing it next.
	e.put("photos", "dog.jpg", []byte("woof"))
	select {
	case ev := <-events:
		require.Equal(t, "dog.jpg", ev.Key, "the filter passed a request for another bucket")
	case <-ctx.Done():
		t.Fatal("trace: no event for the last PUT")
	}
}
