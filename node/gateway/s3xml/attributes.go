package s3xml

import "encoding/xml"

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
	TotalPartsCount      int          `xml:"PartsCount"`
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
