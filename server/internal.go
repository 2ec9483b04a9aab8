package server

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/cluster"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/frontdoor"
	"github.com/sealpost/sealpost/imapserver"
	"github.com/sealpost/sealpost/region"
	"github.com/sealpost/sealpost/sieve"
	"github.com/sealpost/sealpost/smtpserver"
)

// This file is the wiring of the deployment shape with one process per
// region behind a front door: each regional node's internal listener (one
// mTLS port, split by ALPN into IMAP, submission and the internal HTTP API),
// the links to other regions, and the front door.

// NodeName is the certificate name of a region's node (cluster.IssueNode).
func NodeName(regionID string) string { return "region-" + regionID }

// FrontDoorName is the certificate name of the front door.
const FrontDoorName = "frontdoor"

// clusterClientTLS is this process's client side of the internal mTLS
// towards serverName, or nil when the configuration has no [cluster].
func (s *Server) clusterClientTLS(serverName string) (*tls.Config, error) {
	c := s.cfg.Cluster
	if c.CA == "" {
		return nil, nil
	}
	return cluster.LoadClientTLS(c.CA, c.Cert, c.Key, serverName)
}

// openLinks makes a Link to every region not served here that has an
// internal address.
func (s *Server) openLinks() error {
	for _, rc := range s.cfg.Regions {
		if s.serves(rc.ID) || rc.Internal == "" {
			continue
		}
		tc, err := s.clusterClientTLS(NodeName(rc.ID))
		if err != nil {
			return err
		}
		if tc == nil {
			return errors.E("server.openLinks", errors.Invalid,
				errors.Errorf("region %s is remote (internal = %s) but [cluster] is not configured", rc.ID, rc.Internal))
		}
		s.Links[sealpost.RegionID(rc.ID)] = region.NewLink(sealpost.RegionID(rc.ID), rc.Internal, tc)
	}
	return nil
}

// startInternal starts the internal listener of every region served here
// that has an internal address (only when the process serves named
// regions: the all-in-one demo needs none). Called with s.mu held.
func (s *Server) startInternal() error {
	const op = "server.startInternal"
	if s.opts.Regions == nil {
		return nil
	}
	for _, id := range s.opts.Regions {
		rc, _ := s.cfg.RegionByID(id)
		if rc.Internal == "" {
			continue
		}
		c := s.cfg.Cluster
		if c.CA == "" {
			return errors.E(op, errors.Invalid, errors.Errorf("region %s has an internal address but [cluster] is not configured", id))
		}
		tc, err := cluster.LoadServerTLS(c.CA, c.Cert, c.Key)
		if err != nil {
			return errors.E(op, err)
		}
		ln, err := net.Listen("tcp", rc.Internal)
		if err != nil {
			return errors.E(op, errors.Unavailable, err)
		}
		mux, err := cluster.NewMux(ln, tc, cluster.MuxOptions{Logger: s.log})
		if err != nil {
			ln.Close()
			return errors.E(op, err)
		}
		r := s.Regions[sealpost.RegionID(id)]
		// The front door has authenticated nothing yet: it hands over the
		// client's own LOGIN/AUTH, which this region checks. The link is
		// mutually authenticated TLS, which go-imap and go-smtp cannot
		// see through the PROXY wrapper, hence InsecureAuth.
		imapSrv := imapserver.New(r.Svc, imapserver.Options{Logger: s.log, InsecureAuth: true,
			AppendLimit: uint32(s.cfg.Limits.MaxMessageSize), TempDir: TempDir(s.cfg)})
		subSrv := smtpserver.New(s.Router, smtpserver.Options{Mode: smtpserver.Submission, Hostname: s.cfg.Hostname,
			MaxMessageSize: s.cfg.Limits.MaxMessageSize, MaxRecipients: s.cfg.Limits.MaxRecipients, Logger: s.log, InsecureAuth: true,
			TempDir: TempDir(s.cfg)})
		sieveSrv := s.newManageSieve(true)
		httpSrv := &http.Server{Handler: region.Handler(r.Svc, TempDir(s.cfg), s.log), ReadHeaderTimeout: 30 * time.Second}
		// Shut down in go-imap's safe order: the Mux (ending each Serve),
		// then the servers once their Serve has returned.
		var serving sync.WaitGroup
		s.serveInternal(&serving, "internal-imap-"+id, cluster.Coalesce(mux.Listener(cluster.ProtoIMAP)), imapSrv.Serve)
		s.serveInternal(&serving, "internal-submission-"+id, mux.Listener(cluster.ProtoSubmission), subSrv.Serve)
		s.serveInternal(&serving, "internal-managesieve-"+id, mux.Listener(cluster.ProtoManageSieve), sieveSrv.Serve)
		s.serveInternal(&serving, "internal-http-"+id, mux.Listener(cluster.ProtoHTTP), httpSrv.Serve)
		s.listeners = append(s.listeners, &listener{"internal-" + id, ln})
		s.closers = append(s.closers, func() error {
			mux.Close()
			serving.Wait()
			imapSrv.Close()
			subSrv.Close()
			sieveSrv.Close()
			return httpSrv.Close()
		})
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := mux.Serve(); err != nil && !errors.IsErr(err, net.ErrClosed) {
				s.log.Error("internal listener stopped", "region", id, "err", err)
			}
		}()
	}
	return nil
}

// serveInternal serves one protocol of a Mux. Called with s.mu held.
func (s *Server) serveInternal(serving *sync.WaitGroup, name string, ln net.Listener, serve func(net.Listener) error) {
	serving.Add(1)
	go func() {
		defer serving.Done()
		if err := serve(ln); err != nil && !errors.IsErr(err, net.ErrClosed) && !errors.IsErr(err, http.ErrServerClosed) {
			s.log.Error("listener stopped", "listener", name, "err", err)
		}
	}()
}

// frontDoor builds the front door over the directory and the links.
func (s *Server) frontDoor() *frontdoor.Server {
	type node struct {
		addr string
		tls  *tls.Config
		err  error
	}
	nodes := map[sealpost.RegionID]node{}
	for _, rc := range s.cfg.Regions {
		tc, err := s.clusterClientTLS(NodeName(rc.ID))
		if err == nil && tc == nil {
			err = errors.E("server.frontDoor", errors.Invalid, errors.Str("[cluster] is not configured"))
		}
		nodes[sealpost.RegionID(rc.ID)] = node{addr: rc.Internal, tls: tc, err: err}
	}
	return frontdoor.New(frontdoor.Options{
		Hostname:  s.cfg.Hostname,
		TLSConfig: s.tls,
		Locate: func(ctx context.Context, addr string) (sealpost.RegionID, error) {
			return s.Dir.Home(ctx, addr)
		},
		Dial: func(ctx context.Context, id sealpost.RegionID, proto string) (net.Conn, error) {
			n := nodes[id]
			if n.addr == "" {
				return nil, errors.E("server.frontDoor", errors.Unavailable, errors.Errorf("region %s has no internal address", id))
			}
			if n.err != nil {
				return nil, n.err
			}
			return cluster.Dial(ctx, n.addr, proto, n.tls)
		},
		Logger: s.log,
		// The regions' submission SIZE: the message limit less the room
		// smtpserver keeps for the trace header.
		MaxMessageSize: s.cfg.Limits.MaxMessageSize - smtpserver.TraceRoom,
		MaxRecipients:  s.cfg.Limits.MaxRecipients,
		ManageSieve: frontdoor.ManageSieveOptions{Extensions: strings.Join(sieve.Extensions(), " "),
			MaxScriptSize: sieve.MaxScriptSize, MaxRedirects: sieve.MaxRedirects},
	})
}
