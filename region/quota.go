package region

import (
	"context"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/postbox"
)

// CheckQuota asks addr's home region whether a message of size bytes (0:
// unknown) could be delivered now (postbox.Service.CheckQuota), as SMTP's
// RCPT does. For a region not served here it says yes: the home region
// enforces the quota when the sealed message arrives (the link answers
// 507, which is OverQuota again here), and asking it at every RCPT would
// cost a round trip to learn what DATA learns anyway.
func (r *Router) CheckQuota(ctx context.Context, addr string, size int64) error {
	const op = "region.CheckQuota"
	err := r.withHome(ctx, op, addr, func(s *postbox.Service) error {
		return s.CheckQuota(ctx, addr, size)
	})
	if errors.Is(errors.WrongRegion, err) {
		return nil
	}
	return err
}
