package s3err

import "net/http"

// Errors of bucket configuration sub-resources (CORS, tagging, public
// access block) and of the request checks that go with them.
var (
	NoSuchCORSConfiguration              = newErr("NoSuchCORSConfiguration", http.StatusNotFound, "The CORS configuration does not exist")
	CORSForbidden                        = newErr("AccessForbidden", http.StatusForbidden, "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
	NoSuchTagSet                         = newErr("NoSuchTagSet", http.StatusNotFound, "The TagSet does not exist")
	NoSuchPublicAccessBlockConfiguration = newErr("NoSuchPublicAccessBlockConfiguration", http.StatusNotFound, "The public access block configuration was not found")
	RequestHeaderSectionTooLarge         = newErr("RequestHeaderSectionTooLarge", http.StatusBadRequest, "Your request header section exceeds the maximum allowed size.")
	InvalidObjectAttributes              = newErr("InvalidArgument", http.StatusBadRequest, "Invalid attribute name specified.")
	InvalidRetentionPeriod               = newErr("InvalidRetentionPeriod", http.StatusBadRequest, "Default retention period must be a positive integer value.")
)
