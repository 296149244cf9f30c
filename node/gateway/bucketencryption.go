package gateway

import (
	"context"
	"net/http"

	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/proto/metapb"
)

func (g *Gateway) putBucketEncryption(ctx context.Context, w http.ResponseWriter, rq *request) error {
	var conf s3xml.ServerSideEncryptionConfigurationRequest
	found, err := readXMLBody(rq, &conf)
	if err != nil {
		return err
	}
	if !found {
		return s3err.MalformedXML
	}
	enc, err := bucketEncryptionFromXML(conf.Rules)
	if err != nil {
		return err
	}
	if err := g.updateBucketEncryption(ctx, rq.bucket, enc); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// bucketEncryptionFromXML validates a configuration as AWS does: exactly
// one rule, a known algorithm, and a KMS key only for aws:kms. The key is
// not looked up here; a PUT that uses an unknown one fails.
func bucketEncryptionFromXML(rules []s3xml.ServerSideEncryptionRule) (*metapb.BucketEncryption, error) {
	if len(rules) != 1 || rules[0].ApplyServerSideEncryptionByDefault == nil {
		return nil, s3err.MalformedXML
	}
	def := rules[0].ApplyServerSideEncryptionByDefault
	enc := &metapb.BucketEncryption{Algorithm: def.SSEAlgorithm, KmsKeyId: def.KMSMasterKeyID}
	if b := rules[0].BucketKeyEnabled; b != nil {
		enc.BucketKeyEnabled = *b
	}
	switch def.SSEAlgorithm {
	case AlgAES256:
		if def.KMSMasterKeyID != "" {
			return nil, s3err.InvalidArgument.WithMessage("a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse")
		}
	case AlgKMS:
	case AlgKMSDSSE:
		return nil, s3err.NotImplemented.WithMessage("Dual-layer server-side encryption (aws:kms:dsse) is not implemented.")
	default:
		return nil, s3err.MalformedXML
	}
	return enc, nil
}

func (g *Gateway) getBucketEncryption(ctx context.Context, w http.ResponseWriter, rq *request) error {
	b, err := g.getBucket(ctx, rq.bucket)
	if err != nil {
		return err
	}
	enc := b.GetEncryption()
	if enc == nil {
		return s3err.ServerSideEncryptionConfigurationNotFound
	}
	bucketKey := enc.GetBucketKeyEnabled()
	return writeXML(w, &s3xml.ServerSideEncryptionConfiguration{Rules: []s3xml.ServerSideEncryptionRule{{
		ApplyServerSideEncryptionByDefault: &s3xml.ServerSideEncryptionByDefault{
			SSEAlgorithm:   enc.GetAlgorithm(),
			KMSMasterKeyID: enc.GetKmsKeyId(),
		},
		BucketKeyEnabled: &bucketKey,
	}}})
}

func (g *Gateway) deleteBucketEncryption(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if err := g.updateBucketEncryption(ctx, rq.bucket, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (g *Gateway) updateBucketEncryption(ctx context.Context, bucket string, enc *metapb.BucketEncryption) error {
	_, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{
		Bucket: &metapb.Bucket{Name: bucket, Encryption: enc},
		Fields: []string{"encryption"},
	}}})
	return err
}
