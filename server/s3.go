package server

import (
	"context"
	"os"
	"strings"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/s3"
	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/errors"
)

// openS3 opens a region's bucket; the secret key is read from its file.
func openS3(ctx context.Context, rc config.Region) (sealpost.BlobStore, func() error, error) {
	const op = "server.openS3"
	secret, err := os.ReadFile(rc.Blobs.SecretKeyFile)
	if err != nil {
		return nil, nil, errors.E(op, errors.Invalid, err)
	}
	st, err := s3.Open(ctx, s3.Config{
		Endpoint:     rc.Blobs.Endpoint,
		Bucket:       rc.Blobs.Bucket,
		AccessKey:    rc.Blobs.AccessKey,
		SecretKey:    strings.TrimSpace(string(secret)),
		Secure:       rc.Blobs.Secure,
		Region:       rc.Blobs.S3Region,
		Prefix:       rc.Blobs.Prefix,
		CreateBucket: rc.Blobs.CreateBucket,
	})
	if err != nil {
		return nil, nil, errors.E(op, err)
	}
	return st, func() error { return nil }, nil
}
