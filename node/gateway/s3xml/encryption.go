package s3xml

import "encoding/xml"

// ServerSideEncryptionConfiguration is the body of PutBucketEncryption and
// the answer of GetBucketEncryption.
type ServerSideEncryptionConfiguration struct {
	XMLName xml.Name                   `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ServerSideEncryptionConfiguration"`
	Rules   []ServerSideEncryptionRule `xml:"Rule"`
}

// ServerSideEncryptionRule is one Rule of a bucket encryption
// configuration.
type ServerSideEncryptionRule struct {
	ApplyServerSideEncryptionByDefault *ServerSideEncryptionByDefault `xml:"ApplyServerSideEncryptionByDefault"`
	BucketKeyEnabled                   *bool                          `xml:"BucketKeyEnabled"`
}

// ServerSideEncryptionByDefault names the default algorithm and key.
type ServerSideEncryptionByDefault struct {
	SSEAlgorithm   string `xml:"SSEAlgorithm"`
	KMSMasterKeyID string `xml:"KMSMasterKeyID,omitempty"`
}

// ServerSideEncryptionConfigurationRequest decodes a request body by local
// name, whatever namespace the client sent.
type ServerSideEncryptionConfigurationRequest struct {
	XMLName xml.Name                   `xml:"ServerSideEncryptionConfiguration"`
	Rules   []ServerSideEncryptionRule `xml:"Rule"`
}
