// Package cluster owns the network inside a Sealpost deployment: the
// mutually authenticated TLS that links the front door to each region's
// node, and the one internal port each node listens on.
//
// A deployment has its own certificate authority (NewCA), which issues a
// certificate to every node (IssueNode): the front door ("frontdoor") and
// each region ("region-ie", "region-us", ...). Both ends of every internal
// connection present one, and both verify the other's against the
// deployment CA only, never the system roots (LoadServerTLS,
// LoadClientTLS). TLS 1.3 is the minimum.
//
// A regional node serves four protocols on its one internal port, chosen by
// the client with TLS ALPN (RFC 7301): ProtoIMAP, ProtoSubmission and
// ProtoManageSieve carry a client session that the front door has
// authenticated and hands over, and ProtoHTTP the internal HTTP API. Mux
// accepts connections, completes the handshake off the accept loop with a
// deadline, and hands each connection to the sub-listener of its protocol,
// which an imapserver, smtpserver, managesieve or http.Server serves as if
// it were a listener of its own.
//
// An IMAP, submission or ManageSieve connection starts, inside TLS, with a
// PROXY protocol version 1 header (HAProxy's text format, proxy.go) naming the real
// client's address, which the connection then reports as its RemoteAddr: so
// the region's logs and Received: headers name the client, not the front
// door. The header is believed only because the link is authenticated: it
// is read after the mutual TLS handshake, and a connection without a valid
// header is closed.
package cluster

import (
	"crypto/tls"
)

// The protocols of the internal port, as TLS ALPN protocol IDs.
const (
	// ProtoIMAP is an IMAP session handed over by the front door: a PROXY
	// header, then IMAP (RFC 9051) from the server greeting on.
	ProtoIMAP = "sealpost-imap/1"
	// ProtoSubmission is a submission session handed over by the front
	// door: a PROXY header, then SMTP (RFC 6409) from the 220 greeting on.
	ProtoSubmission = "sealpost-submission/1"
	// ProtoManageSieve is a ManageSieve session handed over by the front
	// door: a PROXY header, then ManageSieve (RFC 5804) from the
	// capability response on.
	ProtoManageSieve = "sealpost-managesieve/1"
	// ProtoHTTP is the internal HTTP API (HTTP/1.1 over the TLS link).
	ProtoHTTP = "http/1.1"
)

// protocols lists the protocols a Mux serves, in the order offered.
var protocols = []string{ProtoIMAP, ProtoSubmission, ProtoManageSieve, ProtoHTTP}

// needsProxyHeader reports whether connections of proto start with a PROXY
// header.
func needsProxyHeader(proto string) bool {
	return proto == ProtoIMAP || proto == ProtoSubmission || proto == ProtoManageSieve
}

// PeerName returns the node name of a verified peer: the common name of the
// certificate it presented, which the deployment CA issued (IssueNode). It
// returns "" if the state holds no verified chain. An HTTP handler behind a
// Mux calls PeerName(r.TLS).
func PeerName(cs *tls.ConnectionState) string {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return ""
	}
	return cs.VerifiedChains[0][0].Subject.CommonName
}
