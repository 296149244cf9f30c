package s3xml

import "encoding/xml"

// CORSConfiguration is the body of PutBucketCors and GetBucketCors.
type CORSConfiguration struct {
	XMLName xml.Name   `xml:"CORSConfiguration"`
	Xmlns   string     `xml:"xmlns,attr,omitempty"`
	Rules   []CORSRule `xml:"CORSRule"`
}

// CORSRule is one rule of a CORS configuration.
type CORSRule struct {
	ID             string   `xml:"ID,omitempty"`
	AllowedHeaders []string `xml:"AllowedHeader"`
	AllowedMethods []string `xml:"AllowedMethod"`
	AllowedOrigins []string `xml:"AllowedOrigin"`
	ExposeHeaders  []string `xml:"ExposeHeader"`
	MaxAgeSeconds  *int     `xml:"MaxAgeSeconds,omitempty"`
}

// PublicAccessBlockConfiguration is the body of Put/GetPublicAccessBlock.
type PublicAccessBlockConfiguration struct {
	XMLName               xml.Name `xml:"PublicAccessBlockConfiguration"`
	Xmlns                 string   `xml:"xmlns,attr,omitempty"`
	BlockPublicAcls       bool     `xml:"BlockPublicAcls"`
	IgnorePublicAcls      bool     `xml:"IgnorePublicAcls"`
	BlockPublicPolicy     bool     `xml:"BlockPublicPolicy"`
	RestrictPublicBuckets bool     `xml:"RestrictPublicBuckets"`
}

// PolicyStatus answers GetBucketPolicyStatus.
type PolicyStatus struct {
	XMLName  xml.Name `xml:"PolicyStatus"`
	Xmlns    string   `xml:"xmlns,attr,omitempty"`
	IsPublic bool     `xml:"IsPublic"`
}

// GetObjectAttributesResponse answers GetObjectAttributes.
type GetObjectAttributesResponse struct {
	XMLName      xml.Name           `xml:"http://s3.amazonaws.com/doc/2006-03-01/ GetObjectAttributesResponse"`
	ETag         string             `xml:"ETag,omitempty"`
	Checksum     *AttributeChecksum `xml:"Checksum,omitempty"`
	ObjectParts  *ObjectParts       `xml:"ObjectParts,omitempty"`
	StorageClass string             `xml:"StorageClass,omitempty"`
	ObjectSize   *int64             `xml:"ObjectSize,omitempty"`
}

// AttributeChecksum is the Checksum element of GetObjectAttributes.
type AttributeChecksum struct {
	Checksums
	ChecksumType string `xml:"ChecksumType,omitempty"`
}

// ObjectParts is the ObjectParts element of GetObjectAttributes.
type ObjectParts struct {
	TotalPartsCount      int          `xml:"TotalPartsCount"`
	PartNumberMarker     int          `xml:"PartNumberMarker"`
	NextPartNumberMarker int          `xml:"NextPartNumberMarker"`
	MaxParts             int          `xml:"MaxParts"`
	IsTruncated          bool         `xml:"IsTruncated"`
	Parts                []ObjectPart `xml:"Part"`
}

// ObjectPart is one part listed by GetObjectAttributes.
type ObjectPart struct {
	Checksums
	PartNumber int   `xml:"PartNumber"`
	Size       int64 `xml:"Size"`
}
