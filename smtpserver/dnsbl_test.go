package smtpserver

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/resolver"
)

// The MX's DNS blocklists (dnsbl.go) against a real DNS server (env's
// testenv.DNS) publishing a list "zen.test" in which 127.0.0.1 is listed
// (RFC 5782 2.1: its reversed octets under the zone) and 127.0.0.2 is not.

const zone = "zen.test"

var listed127 = []string{
	`1.0.0.127.zen.test. 300 IN A 127.0.0.2`,
	`1.0.0.127.zen.test. 300 IN TXT "Listed by ZEN,   see https://zen.test/query/127.0.0.1"`,
}

// dnsblOpts returns MX options checking the zones through e's DNS server,
// with the log in buf.
func (e *env) dnsblOpts(buf *testkit.Buffer, timeout time.Duration, zones ...string) Options {
	e.t.Helper()
	r, err := resolver.New(resolver.Options{Servers: []string{e.dns.Addr}, Timeout: 2 * time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	return Options{Mode: MX, DNSBL: &DNSBL{Zones: zones, DNS: r, Timeout: timeout},
		Logger: mlog.New(buf, slog.LevelInfo, false)}
}

// deliverFrom runs one whole MX transaction from local and returns the
// reply to the data.
func deliverFrom(t *testing.T, addr, local, to string) (int, string) {
	t.Helper()
	rc := dialFrom(t, addr, local)
	rc.cmd("EHLO client.example", 250, "")
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
	rc.cmd("RCPT TO:<"+to+">", 250, "")
	rc.cmd("DATA", 354, "")
	rc.send(dotStuff(msg("From: Carol <carol@elsewhere.example>", "Subject: hi", "", "Hi")) + ".\r\n")
	code, text := rc.reply()
	rc.cmd("QUIT", 221, "")
	return code, text
}

// mailFrom says EHLO and MAIL from local and checks MAIL's reply code.
func mailFrom(t *testing.T, addr, local string, code int) {
	t.Helper()
	rc := dialFrom(t, addr, local)
	rc.cmd("EHLO client.example", 250, "")
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", code, "")
	rc.cmd("QUIT", 221, "")
}

// TestDNSBLListed: a listed client's MAIL is refused 554 5.7.1 with the
// usual wording, the zone and the list's reason (sanitized), and so is
// every later MAIL of the session; its RCPT finds no transaction. A
// client the list does not hold delivers.
func TestDNSBLListed(t *testing.T) {
	e := newEnv(t)
	e.dns.Add(t, listed127...)
	var buf testkit.Buffer
	_, addr := e.serve(e.dnsblOpts(&buf, 0, "clean.test", zone), nil)

	rc := dialFrom(t, addr, "127.0.0.1")
	rc.cmd("EHLO client.example", 250, "")
	want := "5.7.1 Service unavailable; client [127.0.0.1] blocked using zen.test; Listed by ZEN, see https://zen.test/query/127.0.0.1"
	if text := rc.cmd("MAIL FROM:<carol@elsewhere.example>", 554, "5.7.1 "); text != want {
		t.Errorf("MAIL: %q\nwant %q", text, want)
	}
	rc.cmd("RCPT TO:<bob@example.test>", 502, "5.5.1") // go-smtp's own: no MAIL
	rc.cmd("MAIL FROM:<>", 554, "5.7.1 Service unavailable")
	rc.cmd("QUIT", 221, "")

	if code, text := deliverFrom(t, addr, "127.0.0.2", bob); code != 250 {
		t.Errorf("unlisted client: %d %s", code, text)
	}
	if n := e.count(bob, sealpost.UseInbox); n != 1 {
		t.Errorf("bob has %d messages, want 1", n)
	}
	if log := buf.String(); !strings.Contains(log, "client listed in a DNSBL") {
		t.Errorf("no log of the listing:\n%s", log)
	}
}

// TestDNSBLRefusedAnswer: Spamhaus's 127.255.255.254 ("query through a
// public resolver") is not a listing: the client delivers and the
// operator is warned.
func TestDNSBLRefusedAnswer(t *testing.T) {
	e := newEnv(t)
	e.dns.Add(t, `1.0.0.127.zen.test. 300 IN A 127.255.255.254`)
	var buf testkit.Buffer
	_, addr := e.serve(e.dnsblOpts(&buf, 0, zone), nil)
	if code, text := deliverFrom(t, addr, "127.0.0.1", bob); code != 250 {
		t.Errorf("DATA: %d %s", code, text)
	}
	if log := buf.String(); !strings.Contains(log, "DNSBL refused the query") || !strings.Contains(log, "level=WARN") {
		t.Errorf("no warning of the refused query:\n%s", log)
	}
}

// TestDNSBLTimeout: a list that never answers costs a client at most the
// lookups' bound, then it is not listed (fail open, logged at warn).
func TestDNSBLTimeout(t *testing.T) {
	e := newEnv(t)
	e.dns.Silence("1.0.0.127.zen.test", true)
	var buf testkit.Buffer
	const bound = 300 * time.Millisecond
	_, addr := e.serve(e.dnsblOpts(&buf, bound, zone), nil)
	rc := dialFrom(t, addr, "127.0.0.1")
	start := time.Now()
	rc.cmd("EHLO client.example", 250, "")
	rc.cmd("MAIL FROM:<carol@elsewhere.example>", 250, "")
	// A hang guard far above the bound, not a measurement: without the
	// bound the resolver would wait its own 2 s per server, twice.
	if d := time.Since(start); d > bound+2*time.Second {
		t.Errorf("MAIL answered after %v, bound %v", d, bound)
	}
	rc.cmd("QUIT", 221, "")
	if log := buf.String(); !strings.Contains(log, "fail open") || !strings.Contains(log, "level=WARN") {
		t.Errorf("no warning of the failed lookup:\n%s", log)
	}
}

// TestDNSBLExempt: trusted relays and the ignore list are never looked
// up (not one query), and deliver though listed.
func TestDNSBLExempt(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Options)
	}{
		{"trusted relay", func(o *Options) { o.TrustedRelays = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/30")} }},
		{"ignored", func(o *Options) { o.DNSBL.Ignore = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.dns.Add(t, listed127...)
			var buf testkit.Buffer
			o := e.dnsblOpts(&buf, 0, zone)
			tc.set(&o)
			_, addr := e.serve(o, nil)
			before := e.dns.Queries()
			mailFrom(t, addr, "127.0.0.1", 250)
			if n := e.dns.Queries() - before; n != 0 {
				t.Errorf("%d DNS queries for an exempt client", n)
			}
		})
	}
}

// TestDNSBLCached: a second connection from the same address, and a new
// session after STARTTLS, ask nothing more.
func TestDNSBLCached(t *testing.T) {
	e := newEnv(t)
	e.dns.Add(t, listed127...)
	var buf testkit.Buffer
	_, addr := e.serve(e.dnsblOpts(&buf, 0, zone), nil)
	mailFrom(t, addr, "127.0.0.1", 554)
	before := e.dns.Queries()
	mailFrom(t, addr, "127.0.0.1", 554)
	if n := e.dns.Queries() - before; n != 0 {
		t.Errorf("%d DNS queries for a cached verdict", n)
	}
}

// TestDNSBLIPv6: an IPv6 client is looked up under its 32 reversed
// nibbles (RFC 5782 2.4), through the real DNS server.
func TestDNSBLIPv6(t *testing.T) {
	e := newEnv(t)
	ip := netip.MustParseAddr("2001:db8::567:89ab")
	name := "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.test."
	if got := dnsblName(ip, zone); got != name {
		t.Fatalf("name %q, want %q", got, name)
	}
	if got := dnsblName(netip.MustParseAddr("::ffff:192.0.2.7"), zone); got != "7.2.0.192.zen.test." {
		t.Errorf("IPv4-mapped: %q", got)
	}
	e.dns.Add(t, name+" 300 IN A 127.0.0.3")
	var buf testkit.Buffer
	srv, _ := e.serve(e.dnsblOpts(&buf, 0, zone), nil)
	if v := srv.dnsbl.wait(srv.dnsbl.start(ip)); v.zone != zone {
		t.Errorf("%v: verdict %+v, want listed in %s", ip, v, zone)
	}
	if v := srv.dnsbl.wait(srv.dnsbl.start(netip.MustParseAddr("2001:db8::1"))); v.zone != "" {
		t.Errorf("unlisted IPv6 address: verdict %+v", v)
	}
}

// TestSanitizeReason: what a list publishes reaches the reply only as
// printable ASCII, one line, bounded.
func TestSanitizeReason(t *testing.T) {
	for in, want := range map[string]string{
		"Listed by SBL, see https://x.test/SBL1": "Listed by SBL, see https://x.test/SBL1",
		"  a\r\n250 ok\x00\tb  ":                 "a250 ok b",
		"caf\xc3\xa9 \x7f":                       "caf",
		strings.Repeat("x", 500):                 strings.Repeat("x", dnsblReasonMax),
	} {
		if got := sanitizeReason(in); got != want {
			t.Errorf("sanitizeReason(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSanitizeReason: whatever a list publishes, the reason is one line
// of printable ASCII within the bound.
func FuzzSanitizeReason(f *testing.F) {
	f.Add("Listed by ZEN, see https://zen.test/q")
	f.Add("a\r\n.\r\nMAIL FROM:<x>")
	f.Fuzz(func(t *testing.T, s string) {
		r := sanitizeReason(s)
		if len(r) > dnsblReasonMax {
			t.Fatalf("%d bytes", len(r))
		}
		for i := 0; i < len(r); i++ {
			if r[i] < 0x20 || r[i] > 0x7e {
				t.Fatalf("byte %#x in %q", r[i], r)
			}
		}
	})
}
