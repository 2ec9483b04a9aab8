package server

import (
	"context"

	"github.com/sealpost/sealpost/managesieve"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/region"
	"github.com/sealpost/sealpost/sieve"
)

// managesieve.go: ManageSieve (RFC 5804) over the router: an owner's
// login opens their session at their home region (throttled as IMAP's),
// and the scripts are the postbox session's (postbox/scripts.go).

// sieveBackend logs owners in for the ManageSieve server.
type sieveBackend struct{ r *region.Router }

var _ managesieve.Backend = sieveBackend{}

func (b sieveBackend) Login(ctx context.Context, addr, password string) (managesieve.Account, error) {
	ss, err := b.r.Login(ctx, addr, password)
	if err != nil {
		return nil, err
	}
	return sieveAccount{ss}, nil
}

// sieveAccount is an owner's session as ManageSieve's Account.
type sieveAccount struct{ *postbox.Session }

var _ managesieve.Account = sieveAccount{}

func (a sieveAccount) Scripts(ctx context.Context) ([]managesieve.Script, error) {
	list, err := a.Session.Scripts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]managesieve.Script, len(list))
	for i, s := range list {
		out[i] = managesieve.Script{Name: s.Name, Active: s.Active}
	}
	return out, nil
}

func (a sieveAccount) SetActive(ctx context.Context, name string) error {
	return a.SetActiveScript(ctx, name)
}

// manageSieve builds the ManageSieve server: STARTTLS with the server's
// certificate; a plaintext login only on a loopback listener (the demo).
func (s *Server) manageSieve(addr string) *managesieve.Server {
	return s.newManageSieve(loopback(addr))
}

// newManageSieve builds a ManageSieve server; plaintext allows a login
// without TLS (a loopback listener, or the internal port behind the front
// door, whose link is mutual TLS that the server cannot see).
func (s *Server) newManageSieve(plaintext bool) *managesieve.Server {
	return managesieve.New(sieveBackend{s.Router}, managesieve.Options{
		TLS:            s.tls,
		AllowPlaintext: plaintext,
		Extensions:     sieve.Extensions(),
		MaxRedirects:   sieve.MaxRedirects,
		MaxScriptSize:  sieve.MaxScriptSize,
		MaxScripts:     postbox.MaxScripts,
		Log:            s.log.With("service", "managesieve"),
	})
}
