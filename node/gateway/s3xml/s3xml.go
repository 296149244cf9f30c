// Package s3xml holds the XML documents of the S3 REST API that the gateway
// reads and writes: request bodies, list results and the error document.
//
// Responses carry the S3 namespace on their root element, as AWS does;
// request bodies are matched by local name only, because clients differ in
// whether they send the namespace. The package does no I/O beyond the
// io.Writer and io.Reader it is handed.
package s3xml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"time"
)

// Namespace is the XML namespace of every S3 response document.
const Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// TimeFormat is how S3 writes timestamps inside XML documents: RFC 3339 in
// UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// ErrMalformed marks a request body that is not the XML document expected.
var ErrMalformed = errors.New("s3xml: malformed XML")

// Time formats t for an XML document.
func Time(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Owner identifies the owner of a bucket or object.
type Owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName,omitempty"`
}

// Bucket is one entry of ListAllMyBucketsResult.
type Bucket struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
	BucketRegion string `xml:"BucketRegion,omitempty"`
}

// Buckets wraps the bucket list so that an empty list is still written as
// an element, as AWS does.
type Buckets struct {
	Bucket []Bucket `xml:"Bucket"`
}

// ListAllMyBucketsResult answers ListBuckets.
type ListAllMyBucketsResult struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner   Owner    `xml:"Owner"`
	Buckets Buckets  `xml:"Buckets"`
	// Pagination (max-buckets, continuation-token, prefix).
	ContinuationToken string `xml:"ContinuationToken,omitempty"`
	Prefix            string `xml:"Prefix,omitempty"`
}

// Object is one entry (Contents) of a list result.
type Object struct {
	Key               string   `xml:"Key"`
	LastModified      string   `xml:"LastModified"`
	ETag              string   `xml:"ETag"`
	ChecksumAlgorithm []string `xml:"ChecksumAlgorithm,omitempty"`
	Size              int64    `xml:"Size"`
	Owner             *Owner   `xml:"Owner,omitempty"`
	StorageClass      string   `xml:"StorageClass"`
}

// CommonPrefix is one rolled-up prefix of a delimited list.
type CommonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// ListBucketResult answers ListObjects (version 1).
type ListBucketResult struct {
	XMLName        xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name           string         `xml:"Name"`
	Prefix         string         `xml:"Prefix"`
	Marker         string         `xml:"Marker"`
	NextMarker     string         `xml:"NextMarker,omitempty"`
	MaxKeys        int            `xml:"MaxKeys"`
	Delimiter      string         `xml:"Delimiter,omitempty"`
	IsTruncated    bool           `xml:"IsTruncated"`
	EncodingType   string         `xml:"EncodingType,omitempty"`
	Contents       []Object       `xml:"Contents"`
	CommonPrefixes []CommonPrefix `xml:"CommonPrefixes"`
}

// ListBucketV2Result answers ListObjectsV2. Its root element has the same
// name as version 1's.
type ListBucketV2Result struct {
	XMLName               xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	MaxKeys               int            `xml:"MaxKeys"`
	KeyCount              int            `xml:"KeyCount"`
	IsTruncated           bool           `xml:"IsTruncated"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	Contents              []Object       `xml:"Contents"`
	CommonPrefixes        []CommonPrefix `xml:"CommonPrefixes"`
}

// LocationConstraint answers GetBucketLocation; it is empty for us-east-1.
type LocationConstraint struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LocationConstraint"`
	Region  string   `xml:",chardata"`
}

// CreateBucketConfiguration is the optional body of CreateBucket.
type CreateBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string   `xml:"LocationConstraint"`
}

// Error is the body of every S3 error response. AWS writes it without a
// namespace.
type Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId,omitempty"`
}

// Encode writes the XML declaration followed by v.
func Encode(w io.Writer, v any) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("s3xml: write header: %w", err)
	}
	if err := xml.NewEncoder(w).Encode(v); err != nil {
		return fmt.Errorf("s3xml: encode %T: %w", v, err)
	}
	return nil
}

// Decode reads one XML document from r into v. Any syntax error or a root
// element other than v's is reported as ErrMalformed; errors of r itself
// are returned wrapped so that callers can tell a bad body from a failed
// read.
func Decode(r io.Reader, v any) error {
	rr := &errReader{r: r}
	if err := xml.NewDecoder(rr).Decode(v); err != nil {
		if rr.err != nil {
			return fmt.Errorf("s3xml: read body: %w", rr.err)
		}
		return fmt.Errorf("%w: %T: %v", ErrMalformed, v, err)
	}
	return nil
}

// errReader remembers the first non-EOF error of the underlying reader, so
// that a transport or signature failure is not mistaken for bad XML.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && e.err == nil {
		e.err = err
	}
	return n, err
}
