package cluster

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// DialTimeout bounds Dial's connection and handshake when ctx has no
// earlier deadline.
const DialTimeout = 10 * time.Second

// Dial connects to a node's internal listener at addr over mutually
// authenticated TLS, asking for proto by ALPN, with cfg from LoadClientTLS
// (its ServerName names the node expected). It fails unless the node
// agreed to proto. The connection returned is a *tls.Conn with its
// handshake done.
//
// Dial writes nothing: for ProtoIMAP, ProtoSubmission and ProtoManageSieve
// the caller writes the PROXY header (WriteProxyHeader) first, as the front
// door does.
func Dial(ctx context.Context, addr, proto string, cfg *tls.Config) (net.Conn, error) {
	const op = "cluster.Dial"
	if cfg == nil || cfg.RootCAs == nil || len(cfg.Certificates) == 0 && cfg.GetClientCertificate == nil {
		return nil, errors.E(op, errors.Invalid, errors.Str("need a client certificate and the deployment CA"))
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DialTimeout)
		defer cancel()
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{proto}
	if cfg.MinVersion < tls.VersionTLS13 {
		cfg.MinVersion = tls.VersionTLS13
	}
	d := &tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, errors.E(op, errors.Unavailable, err)
	}
	tc := c.(*tls.Conn)
	if got := tc.ConnectionState().NegotiatedProtocol; got != proto {
		tc.Close()
		return nil, errors.E(op, errors.Unavailable, errors.Errorf("node at %s does not serve %q", addr, proto))
	}
	return tc, nil
}
