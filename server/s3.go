package server

import (
	"context"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/errors"
)

func openS3(ctx context.Context, rc config.Region) (sealpost.BlobStore, func() error, error) {
	return nil, nil, errors.E("server.openS3", errors.Invalid, errors.Str("s3 blob store not wired yet"))
}
