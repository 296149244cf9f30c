package s3xml

import "encoding/xml"

// VersioningConfiguration is the body of PutBucketVersioning and the answer
// of GetBucketVersioning. Status is "Enabled", "Suspended" or, for a bucket
// that never had versioning, absent.
type VersioningConfiguration struct {
	XMLName   xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ VersioningConfiguration"`
	Status    string   `xml:"Status,omitempty"`
	MfaDelete string   `xml:"MfaDelete,omitempty"`
}

// VersioningConfigurationRequest reads a PutBucketVersioning body by local
// name, with or without the namespace.
type VersioningConfigurationRequest struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	Status    *string  `xml:"Status"`
	MfaDelete *string  `xml:"MfaDelete"`
}

// Element names of the two kinds of VersionEntry. They carry the S3
// namespace so that the encoder does not reset it on each entry.
var (
	VersionElement      = xml.Name{Space: Namespace, Local: "Version"}
	DeleteMarkerElement = xml.Name{Space: Namespace, Local: "DeleteMarker"}
)

// VersionEntry is one Version or DeleteMarker of ListVersionsResult; the
// handler sets XMLName to VersionElement or DeleteMarkerElement, which
// keeps both kinds in one slice in listing order, as S3 interleaves them.
type VersionEntry struct {
	XMLName      xml.Name
	Key          string `xml:"Key"`
	VersionID    string `xml:"VersionId"`
	IsLatest     bool   `xml:"IsLatest"`
	LastModified string `xml:"LastModified"`
	// ETag, Size and StorageClass are those of a Version; a DeleteMarker
	// has none.
	ETag              string   `xml:"ETag,omitempty"`
	ChecksumAlgorithm []string `xml:"ChecksumAlgorithm,omitempty"`
	Size              *int64   `xml:"Size,omitempty"`
	StorageClass      string   `xml:"StorageClass,omitempty"`
	Owner             *Owner   `xml:"Owner,omitempty"`
}

// ListVersionsResult answers ListObjectVersions.
type ListVersionsResult struct {
	XMLName             xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListVersionsResult"`
	Name                string         `xml:"Name"`
	Prefix              string         `xml:"Prefix"`
	KeyMarker           string         `xml:"KeyMarker"`
	VersionIDMarker     string         `xml:"VersionIdMarker"`
	NextKeyMarker       string         `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string         `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int            `xml:"MaxKeys"`
	Delimiter           string         `xml:"Delimiter,omitempty"`
	IsTruncated         bool           `xml:"IsTruncated"`
	EncodingType        string         `xml:"EncodingType,omitempty"`
	Entries             []VersionEntry `xml:""`
	CommonPrefixes      []CommonPrefix `xml:"CommonPrefixes"`
}

// Delete is the body of DeleteObjects.
type Delete struct {
	XMLName xml.Name         `xml:"Delete"`
	Quiet   bool             `xml:"Quiet"`
	Objects []ObjectToDelete `xml:"Object"`
}

// ObjectToDelete names one object of a DeleteObjects request. ETag, when
// given, makes its deletion conditional.
type ObjectToDelete struct {
	Key       *string `xml:"Key"`
	VersionID string  `xml:"VersionId"`
	ETag      string  `xml:"ETag"`
}

// DeleteResult answers DeleteObjects.
type DeleteResult struct {
	XMLName xml.Name        `xml:"http://s3.amazonaws.com/doc/2006-03-01/ DeleteResult"`
	Deleted []DeletedObject `xml:"Deleted"`
	Errors  []DeleteError   `xml:"Error"`
}

// DeletedObject reports one successful deletion.
type DeletedObject struct {
	Key                   string `xml:"Key"`
	VersionID             string `xml:"VersionId,omitempty"`
	DeleteMarker          bool   `xml:"DeleteMarker,omitempty"`
	DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
}

// DeleteError reports one failed deletion.
type DeleteError struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
}
