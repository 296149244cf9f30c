package s3err

import "net/http"

// Errors of server-side encryption, as AWS returns them.
var (
	// InvalidEncryptionAlgorithmError: an SSE-C algorithm other than
	// AES256.
	InvalidEncryptionAlgorithmError = newErr("InvalidEncryptionAlgorithmError", http.StatusBadRequest, "The Encryption request you specified is not valid. Supported value: AES256.")
	// KMSNotFound: an SSE-KMS key ID that is not in the key ring.
	KMSNotFound = newErr("KMS.NotFoundException", http.StatusBadRequest, "Invalid keyId")
	// ServerSideEncryptionConfigurationNotFound: GetBucketEncryption on a
	// bucket without default encryption.
	ServerSideEncryptionConfigurationNotFound = newErr("ServerSideEncryptionConfigurationNotFoundError", http.StatusNotFound, "The server side encryption configuration was not found")
)
