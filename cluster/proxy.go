package cluster

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"

	"github.com/sealpost/sealpost/errors"
)

// The PROXY protocol version 1 (HAProxy's "proxy-protocol.txt", section
// 2.1) is one line of text before the proxied stream:
//
//	PROXY TCP4 192.0.2.1 198.51.100.7 51234 993\r\n
//
// naming the protocol family, the client's (source) and the proxy's
// (destination) address, and their ports. "PROXY UNKNOWN" followed by
// anything up to CRLF says the addresses are not known. The line is at most
// 107 bytes, CRLF included. Sealpost writes and reads it only inside the
// mutually authenticated TLS link, so it comes from a node of the
// deployment: it is believed, never taken from the open internet.

// maxProxyHeader is the longest version 1 header (spec 2.1).
const maxProxyHeader = 107

// WriteProxyHeader writes a PROXY version 1 header carrying a client's
// address (src) and the address it connected to (dst). Addresses that are
// not TCP give "PROXY UNKNOWN". The front door writes it on each
// ProtoIMAP, ProtoSubmission and ProtoManageSieve connection it dials,
// before anything else.
func WriteProxyHeader(w io.Writer, src, dst net.Addr) error {
	_, err := io.WriteString(w, proxyHeader(src, dst))
	if err != nil {
		return errors.E("cluster.WriteProxyHeader", errors.Unavailable, err)
	}
	return nil
}

func proxyHeader(src, dst net.Addr) string {
	s, ok1 := tcpAddrPort(src)
	d, ok2 := tcpAddrPort(dst)
	if !ok1 || !ok2 {
		return "PROXY UNKNOWN\r\n"
	}
	fam := "TCP4"
	if !s.Addr().Is4() || !d.Addr().Is4() {
		// Both must be of one family (spec 2.1): an IPv4 address next to
		// an IPv6 one is written in its IPv4-mapped form.
		fam = "TCP6"
		s = netip.AddrPortFrom(netip.AddrFrom16(s.Addr().As16()), s.Port())
		d = netip.AddrPortFrom(netip.AddrFrom16(d.Addr().As16()), d.Port())
	}
	return fmt.Sprintf("PROXY %s %s %s %d %d\r\n", fam, s.Addr(), d.Addr(), s.Port(), d.Port())
}

// tcpAddrPort returns a TCP address's IP (IPv4 unmapped, zone dropped) and
// port.
func tcpAddrPort(a net.Addr) (netip.AddrPort, bool) {
	t, ok := a.(*net.TCPAddr)
	if !ok || t == nil {
		return netip.AddrPort{}, false
	}
	ip, ok := netip.AddrFromSlice(t.IP)
	if !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap().WithZone(""), uint16(t.Port)), true
}

// ParseProxyHeader parses a PROXY version 1 header line, CRLF included. It
// returns the source and destination addresses, or nil ones for "PROXY
// UNKNOWN". Anything else is an Invalid error: the grammar is strict (single
// spaces, addresses of the named family, decimal ports without leading
// zeros).
func ParseProxyHeader(line []byte) (src, dst *net.TCPAddr, err error) {
	const op = "cluster.ParseProxyHeader"
	bad := func(why string) (*net.TCPAddr, *net.TCPAddr, error) {
		return nil, nil, errors.E(op, errors.Invalid, errors.Str(why))
	}
	if len(line) > maxProxyHeader {
		return bad("header too long")
	}
	rest, ok := bytes.CutSuffix(line, []byte("\r\n"))
	if !ok {
		return bad("header not ended by CRLF")
	}
	if bytes.ContainsAny(rest, "\r\n") {
		return bad("stray CR or LF in header")
	}
	rest, ok = bytes.CutPrefix(rest, []byte("PROXY "))
	if !ok {
		return bad("no PROXY signature")
	}
	if u, ok := bytes.CutPrefix(rest, []byte("UNKNOWN")); ok && (len(u) == 0 || u[0] == ' ') {
		return nil, nil, nil // spec 2.1: the rest of the line is ignored
	}
	f := bytes.Split(rest, []byte(" "))
	if len(f) != 5 {
		return bad("want 5 fields")
	}
	var want func(netip.Addr) bool
	switch string(f[0]) {
	case "TCP4":
		want = netip.Addr.Is4
	case "TCP6":
		want = netip.Addr.Is6
	default:
		return bad("unknown protocol family")
	}
	var addrs [2]*net.TCPAddr
	for i := range addrs {
		ip, err := netip.ParseAddr(string(f[1+i]))
		if err != nil || !want(ip) || ip.Zone() != "" {
			return bad("bad address")
		}
		port, ok := parsePort(f[3+i])
		if !ok {
			return bad("bad port")
		}
		addrs[i] = net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, port))
	}
	return addrs[0], addrs[1], nil
}

// parsePort parses a decimal port, 0 to 65535, without leading zeros.
func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(b), 10, 16)
	return uint16(n), err == nil
}

// readProxyHeader reads a header line from r a byte at a time, so that
// nothing after it is consumed, and parses it.
func readProxyHeader(r io.Reader) (src, dst *net.TCPAddr, err error) {
	var buf [maxProxyHeader]byte
	n := 0
	for n < len(buf) {
		if _, err := io.ReadFull(r, buf[n:n+1]); err != nil {
			return nil, nil, errors.E("cluster.readProxyHeader", errors.Invalid, err)
		}
		n++
		if buf[n-1] == '\n' {
			break
		}
	}
	return ParseProxyHeader(buf[:n])
}

// proxyConn is a connection of the Mux that began with a PROXY header: the
// TLS link to the front door, reporting the real client's address.
type proxyConn struct {
	*tls.Conn
	remote net.Addr
}

// RemoteAddr returns the client's address from the PROXY header.
func (c *proxyConn) RemoteAddr() net.Addr { return c.remote }

// LinkState returns the TLS state of the internal link a Mux connection
// came over (for ProtoHTTP, the connection's own state), and whether c is
// such a connection. Its PeerName is the node that handed the session over.
func LinkState(c net.Conn) (tls.ConnectionState, bool) {
	switch c := c.(type) {
	case *proxyConn:
		return c.ConnectionState(), true
	case *tls.Conn:
		return c.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}
