package server

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/mtasts"
	"github.com/sealpost/sealpost/outbound"
	"github.com/sealpost/sealpost/postbox"
)

// This file wires delivery to other servers: one outbound.Service per
// region served here, over that region's queue, woken by each Enqueue.

// startDelivery starts the delivery services, unless delivery is disabled
// or this process serves no region. mx is the address the MX listener is
// bound to, which delivery must never reach (a mail loop). Without the deployment key's
// passphrase (kept elsewhere by the operator) mail stays queued.
func (s *Server) startDelivery(mx string) error {
	if s.cfg.Outbound.Disabled || len(s.Regions) == 0 {
		return nil
	}
	o := s.cfg.Outbound
	relay, err := relayOf(o)
	if err != nil {
		return err
	}
	if s.Resolver == nil && relay.Addr == "" {
		s.log.Warn("no DNS server configured or in /etc/resolv.conf: mail to other domains stays queued")
		return nil
	}
	if _, err := s.deploy.unlock(); err != nil {
		s.log.Warn("the deployment key cannot be opened: mail to other domains stays queued", "err", err)
		return nil
	}
	var sts *mtasts.Cache
	if s.Resolver != nil && relay.Addr == "" {
		sts, err = mtasts.Open(mtasts.Options{Resolver: s.Resolver, File: filepath.Join(s.cfg.DataDir, "mta-sts.json"),
			Logger: s.log.With("part", "mta-sts"), Now: s.opts.Now})
		if err != nil {
			return err
		}
	}
	var signer outbound.Signer
	if s.DKIM != nil {
		signer = s.DKIM
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var n int
	for id, r := range s.Regions {
		svc, err := outbound.New(outbound.Options{
			Hostname: s.cfg.Hostname,
			Queue:    r.Store, Blobs: r.Blobs,
			Open:     s.deploy.open,
			Sign:     signer,
			Notify:   s.notifySender,
			Resolver: s.Resolver, Relay: relay, STS: sts, Port: o.Port, Loop: func(ap netip.AddrPort) bool { return isOwnMX(mx, ap) },
			MinBackoff: o.MinBackoff.D(), MaxBackoff: o.MaxBackoff.D(), Lifetime: o.Lifetime.D(), DelayWarning: o.DelayWarning.D(),
			Concurrency: o.Concurrency, PerDomain: o.PerDomain, PerConnection: o.PerConnection,
			Logger: s.log.With("region", id),
			Now:    s.opts.Now,
		})
		if err != nil {
			cancel()
			return err
		}
		if s.Delivery == nil {
			s.Delivery = map[sealpost.RegionID]*outbound.Service{}
		}
		s.Delivery[id] = svc
		r.Svc.OnEnqueue(svc.Wake)
		n++
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			svc.Run(ctx)
			done <- struct{}{}
		}()
	}
	s.closers = append(s.closers, func() error {
		cancel()
		for range n {
			<-done
		}
		return nil
	})
	return nil
}

// notifySender files a delivery status notification in the sender's
// INBOX, wherever the sender lives now, from the null reverse-path.
func (s *Server) notifySender(ctx context.Context, to string, msg []byte) error {
	return s.Router.Deliver(ctx, postbox.Envelope{From: "", Recipients: []string{to}, Notice: true}, postbox.Bytes(msg))
}

// isOwnMX reports whether ap is the MX listener bound to mx: delivering
// there would be a mail loop. A listener on an unspecified address takes
// every address of this host on its port.
func isOwnMX(mx string, ap netip.AddrPort) bool {
	host, port, err := net.SplitHostPort(mx)
	if err != nil || port != strconv.Itoa(int(ap.Port())) {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
		return ip.Unmap() == ap.Addr().Unmap()
	}
	if ap.Addr().IsLoopback() {
		return true
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == ap.Addr().Unmap() {
			return true
		}
	}
	return false
}

// relayOf reads the smarthost settings.
func relayOf(o config.Outbound) (outbound.Relay, error) {
	r := outbound.Relay{Addr: o.Relay, User: o.RelayUser}
	switch o.RelayTLS {
	case "implicit":
		r.TLS = outbound.RelayImplicit
	case "none":
		r.TLS = outbound.RelayPlain
	}
	if o.RelayPasswordFile != "" {
		b, err := os.ReadFile(o.RelayPasswordFile)
		if err != nil {
			return r, errors.E("server.relay", errors.Invalid, err)
		}
		r.Password = strings.TrimRight(string(b), "\r\n")
	}
	return r, nil
}
