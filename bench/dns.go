package bench

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/dnsserver"
)

// DNSOptions configure RunDNS.
type DNSOptions struct {
	Addr    string   // where to listen, UDP and TCP; "127.0.0.1:0" picks a port
	Records []string // zone-file lines, e.g. `bench.test. 300 IN TXT "v=spf1 -all"`
	// TXT are NAME=VALUE pairs, each a TXT record whose value is split
	// into 255-byte strings as needed (a DKIM key's record).
	TXT []string
}

// RunDNS answers DNS questions on o.Addr from o's records until ctx ends:
// the sender's side of an inbound benchmark, publishing its SPF, DKIM and
// DMARC records for the receiver to check (point `sealpost demo --dns` at
// it). It writes "dns ADDR" to w once it listens.
func RunDNS(ctx context.Context, o DNSOptions, w io.Writer) error {
	const op = "bench.RunDNS"
	s := dnsserver.New()
	if err := s.Add(o.Records...); err != nil {
		return errors.E(op, err)
	}
	for _, kv := range o.TXT {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return errors.E(op, errors.Invalid, errors.Errorf("--txt %q: want NAME=VALUE", kv))
		}
		s.AddTXT(name, 300, value)
	}
	addr, stop, err := s.Listen(o.Addr)
	if err != nil {
		return errors.E(op, err)
	}
	defer stop()
	fmt.Fprintf(w, "dns %s\n", addr)
	<-ctx.Done()
	return nil
}
