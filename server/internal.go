package server

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/region"
)

// clusterClientTLS is this process's client side of the deployment's
// internal mTLS, or nil when the configuration has no [cluster].
func (s *Server) clusterClientTLS(serverName string) (*tls.Config, error) {
	const op = "server.clusterClientTLS"
	c := s.cfg.Cluster
	if c.CA == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	pem, err := os.ReadFile(c.CA)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("%s holds no certificate", c.CA))
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS13}, nil
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

// NodeName is the name in a regional node's internal certificate.
func NodeName(regionID string) string { return "region-" + regionID + ".sealpost.internal" }

// startInternal is filled in with the cluster listener.
func (s *Server) startInternal() error { return nil }

type frontDoorStub struct{}

func (frontDoorStub) ServeIMAP(ln net.Listener, implicit bool) error       { return nil }
func (frontDoorStub) ServeSubmission(ln net.Listener, implicit bool) error { return nil }
func (frontDoorStub) Close() error                                         { return nil }

func (s *Server) frontDoor() frontDoorStub { return frontDoorStub{} }
