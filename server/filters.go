package server

import (
	"path/filepath"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/srs"
)

// filters.go: what the postboxes need to sort mail before sealing it
// (issue 14): the deployment key, with which delivery opens each
// account's filter key; the SRS key, with which redirected mail's sender
// is rewritten; and the deployment's spam engine (rspamd), if configured.

// filterOptions sets the filter fields of a region's postbox options.
func (s *Server) filterOptions(o *postbox.Options) error {
	o.DeploymentKey = s.deploy.unlock
	k, err := srsKey(filepath.Join(s.cfg.DataDir, "keys"))
	if err != nil {
		return err
	}
	o.SRS = k
	if s.spam != nil {
		o.Spam = s.spam
	}
	return nil
}

// srsKey loads, or makes once, the key of the Sender Rewriting Scheme
// (data_dir/keys/srs.key, 32 random bytes, 0600). Every node of a
// deployment must share it to take back the bounces of one another's
// redirects: copy it with the deployment key.
func srsKey(dir string) (*srs.Key, error) {
	var k srs.Key
	b, err := secretFile(dir, "srs.key", len(k))
	if err != nil {
		return nil, errors.E("server.srsKey", err)
	}
	copy(k[:], b)
	return &k, nil
}
