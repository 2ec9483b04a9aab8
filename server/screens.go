package server

import (
	"crypto/rand"
	"os"
	"path/filepath"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/smtpserver"
)

// screens.go: the MX's checks of the connection and the envelope, before
// any content is read (smtpserver's dnsbl.go and greylist.go): DNS
// blocklists and greylisting from [mx], exempting the trusted relays.

// mxScreens sets the DNSBL and greylisting fields of the MX's options. It
// returns what closes the greylisting store, to run after the MX has
// closed; an Invalid error if blocklists are configured without DNS.
func (s *Server) mxScreens(o *smtpserver.Options) (func() error, error) {
	const op = "server.mxScreens"
	m := s.cfg.MX
	o.TrustedRelays = m.TrustedRelayPrefixes()
	if len(m.DNSBL) > 0 {
		if s.Resolver == nil {
			return nil, errors.E(op, errors.Invalid, errors.Str("[mx] dnsbl needs DNS: set [dns] servers (or --dns)"))
		}
		o.DNSBL = &smtpserver.DNSBL{Zones: m.DNSBL, Ignore: m.DNSBLIgnorePrefixes(), DNS: s.Resolver, Timeout: s.cfg.DNS.Timeout.D()}
		s.log.Info("the MX refuses clients listed in DNS blocklists", "zones", m.DNSBL, "ignored", len(m.DNSBLIgnore))
	}
	if !m.Greylist {
		return func() error { return nil }, nil
	}
	key, err := secretFile(filepath.Join(s.cfg.DataDir, "keys"), "greylist.key", 32)
	if err != nil {
		return nil, errors.E(op, err)
	}
	g, err := smtpserver.OpenGreylist(filepath.Join(s.cfg.DataDir, "greylist.db"), key, smtpserver.GreylistOptions{
		Delay: m.GreylistDelay.D(), Expire: m.GreylistExpire.D(), Keep: m.GreylistKeep.D(), MaxEntries: m.GreylistMaxEntries,
	})
	if err != nil {
		return nil, errors.E(op, err)
	}
	o.Greylist = g
	s.log.Info("the MX greylists", "delay", m.GreylistDelay.D(), "expire", m.GreylistExpire.D(), "keep", m.GreylistKeep.D())
	return g.Close, nil
}

// secretFile loads, or makes once, n random bytes kept in dir/name (0600):
// a key that must outlive the process but that nothing derives.
func secretFile(dir, name string, n int) ([]byte, error) {
	const op = "server.secretFile"
	file := filepath.Join(dir, name)
	b, err := os.ReadFile(file)
	switch {
	case err == nil && len(b) == n:
		return b, nil
	case err == nil:
		return nil, errors.E(op, errors.Invalid, errors.Errorf("%s: want %d bytes, have %d", file, n, len(b)))
	case !os.IsNotExist(err):
		return nil, errors.E(op, errors.Internal, err)
	}
	b = make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	if err := writeFileSync(file, b, 0o600); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return b, nil
}
