// Package dnsserver is a small DNS server (github.com/miekg/dns) that
// answers from records held in memory, as a recursive resolver would
// answer for them: NXDOMAIN for a name it holds nothing for, NODATA for a
// type it lacks, one level of CNAME followed. It is the far end of every
// name lookup in Sealpost's tests (through internal/testenv) and of
// `sealpost bench dns`, which publishes a benchmark sender's SPF, DKIM and
// DMARC records on loopback. It is not an authoritative server for the
// Internet: no zones, no SOA, no DNSSEC signing (only the AD bit, set on
// request, as a validating resolver would set it).
package dnsserver

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/sealpost/sealpost/errors"
)

// Server holds records and answers questions about them. Its methods are
// safe for concurrent use.
type Server struct {
	mu      sync.Mutex
	rrs     map[string][]dns.RR // by lower-case FQDN
	fail    map[string]int      // names answered with this rcode
	silent  map[string]bool     // names never answered (a timeout)
	ad      bool
	queries atomic.Int64
}

// New returns a server holding no records.
func New() *Server {
	return &Server{rrs: map[string][]dns.RR{}, fail: map[string]int{}, silent: map[string]bool{}}
}

// Add adds records given as zone-file lines, e.g.
// "example.test. 300 IN MX 10 mx.example.test." (long TXT values as
// several quoted strings on the line). A line that does not parse is an
// Invalid error, and nothing is added.
func (s *Server) Add(rrs ...string) error {
	parsed := make([]dns.RR, 0, len(rrs))
	for _, line := range rrs {
		rr, err := dns.NewRR(line)
		if err != nil {
			return errors.E("dnsserver.Add", errors.Invalid, errors.Errorf("%q: %v", line, err))
		}
		if rr == nil {
			return errors.E("dnsserver.Add", errors.Invalid, errors.Errorf("%q: no record", line))
		}
		parsed = append(parsed, rr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rr := range parsed {
		name := strings.ToLower(rr.Header().Name)
		s.rrs[name] = append(s.rrs[name], rr)
	}
	return nil
}

// AddTXT adds a TXT record of name with value, split into strings of at
// most 255 bytes (RFC 1035 section 3.3.14) as long DKIM keys need.
func (s *Server) AddTXT(name string, ttl uint32, value string) {
	var parts []string
	for len(value) > 255 {
		parts, value = append(parts, value[:255]), value[255:]
	}
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl}, Txt: append(parts, value)}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(rr.Hdr.Name)
	s.rrs[key] = append(s.rrs[key], rr)
}

// Remove forgets every record of name with type qtype (dns.TypeANY: all).
func (s *Server) Remove(name string, qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.ToLower(dns.Fqdn(name))
	kept := s.rrs[name][:0]
	for _, rr := range s.rrs[name] {
		if qtype != dns.TypeANY && rr.Header().Rrtype != qtype {
			kept = append(kept, rr)
		}
	}
	s.rrs[name] = kept
}

// Fail makes every question about name answered with rcode (e.g.
// dns.RcodeServerFailure); 0 restores normal answers.
func (s *Server) Fail(name string, rcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.ToLower(dns.Fqdn(name))
	if rcode == 0 {
		delete(s.fail, name)
	} else {
		s.fail[name] = rcode
	}
}

// Silence makes the server ignore every question about name, as an
// unreachable server would (false: answer again).
func (s *Server) Silence(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent[strings.ToLower(dns.Fqdn(name))] = on
}

// SetAD sets the AD bit on every answer, as a validating resolver does for
// DNSSEC-signed zones.
func (s *Server) SetAD(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ad = on
}

// Queries counts the questions received.
func (s *Server) Queries() int64 { return s.queries.Load() }

// ServeDNS answers one question (dns.Handler).
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.Lock()
	silent, rcode, ad := s.silent[name], s.fail[name], s.ad
	var ans []dns.RR
	held := false
	for _, rr := range s.rrs[name] {
		held = true
		if rr.Header().Rrtype == q.Qtype || rr.Header().Rrtype == dns.TypeCNAME {
			ans = append(ans, dns.Copy(rr))
		}
	}
	// Follow one level of CNAME, as a recursive resolver would.
	for _, rr := range ans {
		if c, ok := rr.(*dns.CNAME); ok && q.Qtype != dns.TypeCNAME {
			for _, t := range s.rrs[strings.ToLower(c.Target)] {
				if t.Header().Rrtype == q.Qtype {
					ans = append(ans, dns.Copy(t))
				}
			}
		}
	}
	s.mu.Unlock()
	if silent {
		return
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	m.AuthenticatedData = ad
	switch {
	case rcode != 0:
		m.Rcode = rcode
	case !held:
		m.Rcode = dns.RcodeNameError
	default:
		m.Answer = ans
	}
	if _, isUDP := w.RemoteAddr().(*net.UDPAddr); isUDP {
		m.Truncate(udpSize(req))
	}
	w.WriteMsg(m)
}

// udpSize is the largest UDP answer the asker takes (RFC 6891 section
// 6.2.3), 512 bytes without EDNS.
func udpSize(req *dns.Msg) int {
	if o := req.IsEdns0(); o != nil {
		return int(o.UDPSize())
	}
	return dns.MinMsgSize
}

// Listen serves s on addr, UDP and TCP on the same port; "127.0.0.1:0"
// picks a port free for both. It returns the address and a function that
// stops both servers.
func (s *Server) Listen(addr string) (string, func(), error) {
	const op = "dnsserver.Listen"
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, errors.E(op, errors.Invalid, err)
	}
	// The UDP port the system picks may be taken for TCP: pick again.
	var pc net.PacketConn
	var ln net.Listener
	for attempt := 0; ; attempt++ {
		pc, err = net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return "", nil, errors.E(op, errors.Unavailable, err)
		}
		addr = pc.LocalAddr().String()
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		pc.Close()
		if port != "0" || attempt == 20 {
			return "", nil, errors.E(op, errors.Unavailable, err)
		}
	}
	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: ln, Handler: s}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	return addr, func() {
		udp.Shutdown()
		tcp.Shutdown()
	}, nil
}
