package testenv

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// DNS is a real DNS server (github.com/miekg/dns) on a loopback port, UDP
// and TCP, for the tests of everything that resolves mail names: it
// answers, as a recursive resolver would, from the records a test gives it
// in zone-file form, NXDOMAIN for a name it holds nothing for and NODATA
// for a type it lacks. Point a resolver.Resolver at Addr. It stops with
// the test.
type DNS struct {
	// Addr is "127.0.0.1:port", the same for UDP and TCP.
	Addr string

	mu      sync.Mutex
	rrs     map[string][]dns.RR // by lower-case FQDN
	fail    map[string]int      // names answered with this rcode
	silent  map[string]bool     // names never answered (a timeout)
	ad      bool
	queries atomic.Int64
}

// NewDNS starts a DNS server holding rrs (zone-file lines, see Add).
func NewDNS(t testing.TB, rrs ...string) *DNS {
	t.Helper()
	d := &DNS{rrs: map[string][]dns.RR{}, fail: map[string]int{}, silent: map[string]bool{}}
	d.Add(t, rrs...)
	// The UDP port the system picks may be taken for TCP: pick again.
	var pc net.PacketConn
	var ln net.Listener
	for attempt := 0; ; attempt++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		d.Addr = pc.LocalAddr().String()
		if ln, err = net.Listen("tcp", d.Addr); err == nil {
			break
		}
		pc.Close()
		if attempt == 20 {
			t.Fatal(err)
		}
	}
	udp := &dns.Server{PacketConn: pc, Handler: d}
	tcp := &dns.Server{Listener: ln, Handler: d}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() {
		udp.Shutdown()
		tcp.Shutdown()
	})
	return d
}

// Add adds records given as zone-file lines, e.g.
// "example.test. 300 IN MX 10 mx.example.test." (long TXT values as
// several quoted strings on the line).
func (d *DNS) Add(t testing.TB, rrs ...string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("testenv.DNS: %q: %v", s, err)
		}
		name := strings.ToLower(rr.Header().Name)
		d.rrs[name] = append(d.rrs[name], rr)
	}
}

// Remove forgets every record of name with type qtype (dns.TypeANY: all).
func (d *DNS) Remove(name string, qtype uint16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	name = strings.ToLower(dns.Fqdn(name))
	kept := d.rrs[name][:0]
	for _, rr := range d.rrs[name] {
		if qtype != dns.TypeANY && rr.Header().Rrtype != qtype {
			kept = append(kept, rr)
		}
	}
	d.rrs[name] = kept
}

// Fail makes every question about name answered with rcode (e.g.
// dns.RcodeServerFailure); 0 restores normal answers.
func (d *DNS) Fail(name string, rcode int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	name = strings.ToLower(dns.Fqdn(name))
	if rcode == 0 {
		delete(d.fail, name)
	} else {
		d.fail[name] = rcode
	}
}

// Silence makes the server ignore every question about name, as an
// unreachable server would (false: answer again).
func (d *DNS) Silence(name string, on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.silent[strings.ToLower(dns.Fqdn(name))] = on
}

// SetAD sets the AD bit on every answer, as a validating resolver does for
// DNSSEC-signed zones.
func (d *DNS) SetAD(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ad = on
}

// Queries counts the questions received.
func (d *DNS) Queries() int64 { return d.queries.Load() }

// ServeDNS answers one question.
func (d *DNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	d.queries.Add(1)
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	d.mu.Lock()
	silent, rcode, ad := d.silent[name], d.fail[name], d.ad
	var ans []dns.RR
	held := false
	for _, rr := range d.rrs[name] {
		held = true
		if rr.Header().Rrtype == q.Qtype || rr.Header().Rrtype == dns.TypeCNAME {
			ans = append(ans, dns.Copy(rr))
		}
	}
	// Follow one level of CNAME, as a recursive resolver would.
	for _, rr := range ans {
		if c, ok := rr.(*dns.CNAME); ok && q.Qtype != dns.TypeCNAME {
			for _, t := range d.rrs[strings.ToLower(c.Target)] {
				if t.Header().Rrtype == q.Qtype {
					ans = append(ans, dns.Copy(t))
				}
			}
		}
	}
	d.mu.Unlock()
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
		m.Truncate(dnsUDPSize(req))
	}
	w.WriteMsg(m)
}

func dnsUDPSize(req *dns.Msg) int {
	if o := req.IsEdns0(); o != nil {
		return int(o.UDPSize())
	}
	return dns.MinMsgSize
}
