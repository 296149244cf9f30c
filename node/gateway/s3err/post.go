package s3err

import "net/http"

// The errors of browser POST uploads.
var (
	IncorrectNumberOfFilesInPostRequest = newErr("IncorrectNumberOfFilesInPostRequest", http.StatusBadRequest, "POST requires exactly one file upload per request.")
	InvalidPolicyDocument               = newErr("InvalidPolicyDocument", http.StatusBadRequest, "The content of the form does not meet the conditions specified in the policy document.")
	MalformedPOSTRequest                = newErr("MalformedPOSTRequest", http.StatusBadRequest, "The body of your POST request is not well-formed multipart/form-data.")
	MaxPostPreDataLengthExceeded        = newErr("MaxPostPreDataLengthExceededError", http.StatusBadRequest, "Your POST request fields preceding the upload file were too large.")
)
