package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/rspamd"

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

// rspamdEngine is rspamd as a postbox.SpamEngine: its action decides
// (reject: refuse; add header or rewrite subject: Junk), its score is
// reported in X-Spam-Score.
type rspamdEngine struct{ c *rspamd.Client }

var _ postbox.SpamEngine = rspamdEngine{}

func (e rspamdEngine) Score(ctx context.Context, acct sealpost.Account, env postbox.Envelope, msg []byte) (postbox.SpamResult, error) {
	// Asked once per message (postbox.SpamEngine), so it is told every
	// recipient of the delivery, as the MX received them.
	rcpts := env.Recipients
	if len(rcpts) == 0 {
		rcpts = []string{acct.Address}
	}
	res, err := e.c.Check(ctx, bytes.NewReader(msg), rspamd.Envelope{From: env.From, Rcpts: rcpts, IP: env.Client, Helo: env.Helo})
	if err != nil {
		return postbox.SpamResult{}, err
	}
	r := postbox.SpamResult{Engine: "rspamd", Score: res.Score, Verdict: postbox.SpamHam}
	switch res.Action {
	case rspamd.Reject:
		r.Verdict = postbox.SpamReject
	case rspamd.AddHeader, rspamd.RewriteSubject, rspamd.SoftReject:
		// A soft reject (a 4xx) is filed in Junk instead: delivery
		// never asks a sender to retry for a content judgement.
		r.Verdict = postbox.SpamJunk
	}
	return r, nil
}

// openSpam makes the deployment's spam engine from the configuration.
func (s *Server) openSpam() error {
	f := s.cfg.Filter
	if f.Rspamd == "" {
		return nil
	}
	c := &rspamd.Client{URL: f.Rspamd, Timeout: f.RspamdTimeout.D()}
	if f.RspamdPasswordFile != "" {
		b, err := os.ReadFile(f.RspamdPasswordFile)
		if err != nil {
			return errors.E("server.openSpam", errors.Invalid, err)
		}
		c.Password = strings.TrimSpace(string(b))
	}
	s.spam = rspamdEngine{c}
	return nil
}
