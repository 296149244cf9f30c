package s3xml

import "encoding/xml"

// XMLSchemaInstance is the namespace of the xsi:type attribute of a
// Grantee.
const XMLSchemaInstance = "http://www.w3.org/2001/XMLSchema-instance"

// AccessControlPolicy is the document of GetObjectAcl and GetBucketAcl,
// and the body of PutObjectAcl and PutBucketAcl.
type AccessControlPolicy struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ AccessControlPolicy"`
	Owner   *Owner   `xml:"Owner"`
	Grants  []Grant  `xml:"AccessControlList>Grant"`
}

// AccessControlPolicyRequest is AccessControlPolicy as a request body,
// matched by local name.
type AccessControlPolicyRequest struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Owner   *Owner   `xml:"Owner"`
	Grants  []Grant  `xml:"AccessControlList>Grant"`
}

// Grant is one entry of an access control list.
type Grant struct {
	Grantee    Grantee `xml:"Grantee"`
	Permission string  `xml:"Permission"`
}

// Grantee names who a grant is for. AWS writes the type as an xsi:type
// attribute with its namespace declared on the element; requests carry it
// the same way, which the decoder sees as a "type" attribute.
type Grantee struct {
	XMLNSXsi     string `xml:"xmlns:xsi,attr,omitempty"`
	XsiType      string `xml:"xsi:type,attr,omitempty"`
	Type         string `xml:"type,attr,omitempty"`
	ID           string `xml:"ID,omitempty"`
	DisplayName  string `xml:"DisplayName,omitempty"`
	URI          string `xml:"URI,omitempty"`
	EmailAddress string `xml:"EmailAddress,omitempty"`
}

// NewGrantee returns a grantee of the given type, ready to encode.
func NewGrantee(typ string) Grantee {
	return Grantee{XMLNSXsi: XMLSchemaInstance, XsiType: typ}
}

// GranteeType is the grantee's type, however it was written.
func (g Grantee) GranteeType() string {
	if g.XsiType != "" {
		return g.XsiType
	}
	return g.Type
}

// OwnershipControls is the document of Get/PutBucketOwnershipControls.
type OwnershipControls struct {
	XMLName xml.Name                `xml:"http://s3.amazonaws.com/doc/2006-03-01/ OwnershipControls"`
	Rules   []OwnershipControlsRule `xml:"Rule"`
}

// OwnershipControlsRequest is OwnershipControls as a request body.
type OwnershipControlsRequest struct {
	XMLName xml.Name                `xml:"OwnershipControls"`
	Rules   []OwnershipControlsRule `xml:"Rule"`
}

// OwnershipControlsRule holds the ObjectOwnership setting.
type OwnershipControlsRule struct {
	ObjectOwnership string `xml:"ObjectOwnership"`
}
