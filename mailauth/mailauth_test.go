package mailauth

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/authres"
)

// TestCheck runs the checks against a real DNS server holding records():
// each case is one message, its envelope, and what the checks must say.
func TestCheck(t *testing.T) {
	w := newWorld(t, nil)
	tampered := sign(t, message("From: a@dkim.example", "To: bob@ours.example"), "dkim.example", "ed")
	tampered = append(tampered[:len(tampered)-len("test.\r\n")], "TEST!\r\n"...)

	type want struct {
		verdict Verdict
		spf     authres.ResultValue
		dkim    []authres.ResultValue // nil: no signature
		dmarc   authres.ResultValue
		policy  string
	}
	cases := []struct {
		name     string
		mailFrom string
		helo     string
		msg      []byte
		sample   int
		want     want
	}{
		// SPF (RFC 7208 8), no DMARC record: recorded, accepted.
		{"spf pass", "x@spf-pass.example", "", message("From: x@spf-pass.example"), 0,
			want{Accept, "pass", nil, "none", ""}},
		{"spf fail", "x@spf-fail.example", "", message("From: x@spf-fail.example"), 0,
			want{Accept, "fail", nil, "none", ""}},
		{"spf softfail", "x@spf-soft.example", "", message("From: x@spf-soft.example"), 0,
			want{Accept, "softfail", nil, "none", ""}},
		{"spf neutral", "x@spf-neutral.example", "", message("From: x@spf-neutral.example"), 0,
			want{Accept, "neutral", nil, "none", ""}},
		{"spf none", "x@spf-none.example", "", message("From: x@spf-none.example"), 0,
			want{Accept, "none", nil, "none", ""}},
		{"spf nxdomain", "x@nowhere.example", "", message("From: x@nowhere.example"), 0,
			want{Accept, "none", nil, "none", ""}},
		{"spf temperror without DMARC", "x@spf-temp.example", "", message("From: x@spf-temp.example"), 0,
			want{Accept, "temperror", nil, "none", ""}},
		{"spf permerror: two records", "x@spf-perm.example", "", message("From: x@spf-perm.example"), 0,
			want{Accept, "permerror", nil, "none", ""}},
		{"spf permerror: syntax", "x@spf-syntax.example", "", message("From: x@spf-syntax.example"), 0,
			want{Accept, "permerror", nil, "none", ""}},
		{"spf of HELO for the null sender", "", "helo.example", message("From: x@helo.example"), 0,
			want{Accept, "pass", nil, "none", ""}},
		{"spf single-label domain", "x@localhost", "", message("From: x@spf-pass.example"), 0,
			want{Accept, "none", nil, "none", ""}},

		// DKIM (RFC 6376), with DMARC p=reject at dkim.example: only an
		// aligned valid signature lets the message in.
		{"dkim ed25519 valid", "x@spf-fail.example", "", sign(t, message("From: a@dkim.example"), "dkim.example", "ed"), 0,
			want{Accept, "fail", []authres.ResultValue{"pass"}, "pass", ""}},
		{"dkim rsa valid", "x@spf-fail.example", "", sign(t, message("From: a@dkim.example"), "dkim.example", "rsa"), 0,
			want{Accept, "fail", []authres.ResultValue{"pass"}, "pass", ""}},
		{"dkim body changed", "x@spf-fail.example", "", tampered, 0,
			want{Reject, "fail", []authres.ResultValue{"fail"}, "fail", "reject"}},
		{"dkim missing key", "x@spf-fail.example", "", sign(t, message("From: a@dkim.example"), "dkim.example", "gone"), 0,
			want{Reject, "fail", []authres.ResultValue{"permerror"}, "fail", "reject"}},
		{"dkim key temperror", "x@spf-fail.example", "", sign(t, message("From: a@dkim.example"), "dkim.example", "slow"), 0,
			want{TempFail, "fail", []authres.ResultValue{"temperror"}, "temperror", "reject"}},
		{"dkim none", "x@spf-fail.example", "", message("From: a@dkim.example"), 0,
			want{Reject, "fail", nil, "fail", "reject"}},
		{"dkim two signatures, one good", "x@spf-fail.example", "",
			sign(t, sign(t, message("From: a@dkim.example"), "dkim.example", "gone"), "dkim.example", "rsa"), 0,
			want{Accept, "fail", []authres.ResultValue{"pass", "permerror"}, "pass", ""}},

		// DMARC alignment (RFC 7489 3.1).
		{"spf aligned relaxed", "b@mail.relaxed.example", "", message("From: a@relaxed.example"), 0,
			want{Accept, "pass", nil, "pass", ""}},
		{"spf unaligned in strict mode", "b@mail.strict.example", "", message("From: a@strict.example"), 0,
			want{Reject, "pass", nil, "fail", "reject"}},
		{"dkim aligned relaxed", "b@spf-fail.example", "", sign(t, message("From: a@relaxed.example"), "mail.relaxed.example", "ed"), 0,
			want{Accept, "fail", []authres.ResultValue{"pass"}, "pass", ""}},
		{"dkim unaligned in strict mode", "b@spf-fail.example", "", sign(t, message("From: a@strict.example"), "mail.strict.example", "ed"), 0,
			want{Reject, "fail", []authres.ResultValue{"pass"}, "fail", "reject"}},
		{"spf pass, other domain", "x@spf-pass.example", "", message("From: a@reject.example"), 0,
			want{Reject, "pass", nil, "fail", "reject"}},
		{"dkim pass, other domain", "x@reject.example", "", sign(t, message("From: a@reject.example"), "elsewhere.example", "ed"), 0,
			want{Reject, "fail", []authres.ResultValue{"pass"}, "fail", "reject"}},

		// DMARC policies (RFC 7489 6.3, 6.6.3, 6.6.4).
		{"p=none", "x@pnone.example", "", message("From: x@pnone.example"), 0,
			want{Accept, "fail", nil, "fail", "none"}},
		{"p=quarantine", "x@quarantine.example", "", message("From: x@quarantine.example"), 0,
			want{Quarantine, "fail", nil, "fail", "quarantine"}},
		{"p=reject", "x@reject.example", "", message("From: x@reject.example"), 0,
			want{Reject, "fail", nil, "fail", "reject"}},
		{"sp for a subdomain", "x@sub.org.example", "", message("From: x@sub.org.example"), 0,
			want{Quarantine, "none", nil, "fail", "quarantine"}},
		{"org domain p for a subdomain without sp", "x@reject.example", "", message("From: x@deep.sub.reject.example"), 0,
			want{Reject, "fail", nil, "fail", "reject"}},
		{"pct sampled in", "x@pct.example", "", message("From: x@pct.example"), 49,
			want{Reject, "fail", nil, "fail", "reject"}},
		{"pct sampled out", "x@pct.example", "", message("From: x@pct.example"), 50,
			want{Quarantine, "fail", nil, "fail", "quarantine"}},
		{"no record", "x@norecord.example", "", message("From: x@norecord.example"), 0,
			want{Accept, "fail", nil, "none", ""}},
		{"two records", "x@spf-fail.example", "", message("From: x@twice.example"), 0,
			want{Accept, "fail", nil, "permerror", ""}},
		{"invalid p", "x@spf-fail.example", "", message("From: x@badrecord.example"), 0,
			want{Accept, "fail", nil, "permerror", ""}},
		{"not a DMARC record", "x@spf-fail.example", "", message("From: x@notdmarc.example"), 0,
			want{Accept, "fail", nil, "none", ""}},

		// Temporary DNS failures: TempFail only when they decide.
		{"policy temperror", "x@spf-fail.example", "", message("From: x@tempdmarc.example"), 0,
			want{TempFail, "fail", nil, "temperror", ""}},
		{"policy temperror, strictly aligned dkim passes", "x@spf-fail.example", "",
			sign(t, message("From: x@tempdmarc.example"), "tempdmarc.example", "ed"), 0,
			want{Accept, "fail", []authres.ResultValue{"pass"}, "temperror", ""}},
		{"policy temperror, relaxed dkim only", "x@spf-fail.example", "",
			sign(t, message("From: x@sub.tempdmarc.example"), "tempdmarc.example", "ed"), 0,
			want{TempFail, "fail", []authres.ResultValue{"pass"}, "temperror", ""}},
		{"aligned spf temperror under p=reject", "x@spftemp.example", "", message("From: x@spftemp.example"), 0,
			want{TempFail, "temperror", nil, "temperror", "reject"}},
		{"aligned spf temperror, dkim passes", "x@spftemp.example", "",
			sign(t, message("From: x@spftemp.example"), "spftemp.example", "rsa"), 0,
			want{Accept, "temperror", []authres.ResultValue{"pass"}, "pass", ""}},
		{"aligned spf temperror under p=none", "x@spftemp-none.example", "", message("From: x@spftemp-none.example"), 0,
			want{Accept, "temperror", nil, "temperror", "none"}},
		{"unaligned spf temperror", "x@spf-temp.example", "", message("From: x@reject.example"), 0,
			want{Reject, "temperror", nil, "fail", "reject"}},

		// Our own domains: refused without our signature, whatever DNS says
		// (here _dmarc.ours.example answers SERVFAIL).
		{"own From and MAIL FROM forged", "alice@ours.example", "", message("From: alice@ours.example"), 0,
			want{Reject, "pass", nil, "temperror", ""}},
		{"own domain signed", "alice@ours.example", "", sign(t, message("From: alice@ours.example"), "ours.example", "ed"), 0,
			want{Accept, "pass", []authres.ResultValue{"pass"}, "temperror", ""}},
		{"own domain signed by a subdomain", "alice@ours.example", "", sign(t, message("From: alice@ours.example"), "sub.ours.example", "ed"), 0,
			want{Reject, "pass", []authres.ResultValue{"pass"}, "temperror", ""}},
		{"own domain, key temperror", "alice@ours.example", "", sign(t, message("From: alice@ours.example"), "ours.example", "slow"), 0,
			want{TempFail, "pass", []authres.ResultValue{"temperror"}, "temperror", ""}},
		{"own MAIL FROM only", "alice@ours.example", "", message("From: x@spf-pass.example"), 0,
			want{Reject, "pass", nil, "none", ""}},
		{"own From only", "x@spf-pass.example", "", message("From: Alice <alice@OURS.example>"), 0,
			want{Reject, "pass", nil, "temperror", ""}},
		{"own domain, policy temperror", "x@spf-fail.example", "", message("From: alice@ours.example"), 0,
			want{Reject, "fail", nil, "temperror", ""}},
		{"own internationalized domain", "x@spf-pass.example", "", message("From: =?utf-8?q?J=C3=B6rg?= <jörg@bücher-ours.example>"), 0,
			want{Reject, "pass", nil, "none", ""}},
		{"hosted lookup fails", "x@broken-hosted.example", "", message("From: x@spf-pass.example"), 0,
			want{TempFail, "none", nil, "none", ""}},

		// The From: field (RFC 5322 3.6.2, RFC 7489 6.6.1).
		{"two From fields", "x@spf-pass.example", "", message("From: x@spf-pass.example", "From: y@reject.example"), 0,
			want{Reject, "pass", nil, "permerror", ""}},
		{"two authors", "x@spf-pass.example", "", message("From: x@spf-pass.example, y@reject.example"), 0,
			want{Reject, "pass", nil, "permerror", ""}},
		{"unparseable From", "x@spf-pass.example", "", message("From: a@malicious.example@reject.example"), 0,
			want{Reject, "pass", nil, "permerror", ""}},
		{"no From", "x@spf-pass.example", "", message("To: bob@ours.example"), 0,
			want{Accept, "pass", nil, "permerror", ""}},
		{"folded From, unknown charset", "b@mail.relaxed.example", "", message("From: =?x-unknown?q?A?=\r\n <a@relaxed.example>"), 0,
			want{Accept, "pass", nil, "pass", ""}},
		{"internationalized From", "b@xn--bcher-kva.example", "", message("From: Jörg <jörg@bücher.example>"), 0,
			want{Accept, "none", nil, "none", ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w.c.o.Sample = func() int { return tc.sample }
			helo := tc.helo
			if helo == "" {
				helo = "client.example"
			}
			res := w.c.Check(context.Background(), Input{IP: client, Helo: helo, MailFrom: tc.mailFrom, Message: tc.msg})
			var dk []authres.ResultValue
			for _, d := range res.DKIM {
				dk = append(dk, d.Result)
			}
			slices.Sort(dk)
			slices.Sort(tc.want.dkim)
			got := want{res.Verdict, res.SPF.Result, dk, res.DMARC.Result, res.DMARC.Policy}
			if got.verdict != tc.want.verdict || got.spf != tc.want.spf || !slices.Equal(got.dkim, tc.want.dkim) ||
				got.dmarc != tc.want.dmarc || got.policy != tc.want.policy {
				t.Errorf("got  %+v (%s)\nwant %+v\nspf err: %v, dkim: %+v, dmarc err: %v",
					got, res.Reason, tc.want, res.SPF.Err, res.DKIM, res.DMARC.Err)
			}
			if (res.Verdict == Accept) != (res.Reason == "") {
				t.Errorf("verdict %s with reason %q", res.Verdict, res.Reason)
			}
			checkHeader(t, res.Header)
		})
	}
}

// checkHeader checks that an Authentication-Results: field is one folded
// field that go-msgauth's parser reads back, with our authserv-id.
func checkHeader(t *testing.T, h string) {
	t.Helper()
	name, value, ok := strings.Cut(h, ":")
	if !ok || name != "Authentication-Results" || !strings.HasSuffix(h, "\r\n") {
		t.Fatalf("not a header field: %q", h)
	}
	for i, line := range strings.Split(strings.TrimSuffix(h, "\r\n"), "\r\n") {
		if i > 0 && !strings.HasPrefix(line, "\t") || len(line) > 998 || strings.ContainsAny(line, "\r\n") {
			t.Fatalf("badly folded: %q", h)
		}
	}
	id, results, err := authres.Parse(strings.ReplaceAll(strings.TrimSpace(value), "\r\n", ""))
	if err != nil || id != "mx.test" || len(results) < 3 {
		t.Fatalf("authres.Parse(%q) = %q, %d results, %v", h, id, len(results), err)
	}
}

// TestHeader checks the exact header of a message that passes.
func TestHeader(t *testing.T) {
	w := newWorld(t, nil)
	msg := sign(t, message("From: Ann <a@relaxed.example>"), "mail.relaxed.example", "ed")
	res := w.c.Check(context.Background(), Input{IP: client, Helo: "client.example", MailFrom: "b@mail.relaxed.example", Message: msg})
	want := "Authentication-Results: mx.test;\r\n" +
		"\tspf=pass smtp.mailfrom=b@mail.relaxed.example;\r\n" +
		"\tdkim=pass header.d=mail.relaxed.example;\r\n" +
		"\tdmarc=pass header.from=relaxed.example\r\n"
	if res.Header != want {
		t.Errorf("header:\n%s\nwant:\n%s", res.Header, want)
	}

	res = w.c.Check(context.Background(), Input{IP: client, Helo: "helo.example", Message: message("From: x@reject.example")})
	want = "Authentication-Results: mx.test;\r\n" +
		"\tspf=pass smtp.helo=helo.example;\r\n" +
		"\tdkim=none;\r\n" +
		"\tdmarc=fail reason=\"p=reject\" header.from=reject.example\r\n"
	if res.Header != want || res.Verdict != Reject {
		t.Errorf("null sender: %s\n%s\nwant:\n%s", res.Verdict, res.Header, want)
	}

	// Nothing from the envelope can add a field or a result.
	res = w.c.Check(context.Background(), Input{IP: client, Helo: "x\r\nX-Evil: 1",
		MailFrom: "\"a;\r\n dmarc=pass\"@spf-pass.example", Message: message("From: x@spf-pass.example")})
	if strings.Contains(res.Header, "X-Evil") || strings.Count(res.Header, "\r\n") != 4 {
		t.Errorf("envelope leaked into the header:\n%s", res.Header)
	}
	checkHeader(t, res.Header)
}

// TestTrustedRelay: mail from a trusted network is not checked, even
// forged as our own domain; nothing else is trusted, loopback included.
func TestTrustedRelay(t *testing.T) {
	w := newWorld(t, func(o *Options) { o.TrustedRelays = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} })
	forged := Input{IP: client, Helo: "relay.example", MailFrom: "alice@ours.example", Message: message("From: alice@ours.example")}
	res := w.c.Check(context.Background(), forged)
	if res.Verdict != Accept || !res.Trusted || res.Header != "" {
		t.Errorf("trusted relay: %+v", res)
	}
	forged.IP = netip.MustParseAddr("::ffff:192.0.2.77") // IPv4-mapped
	if res := w.c.Check(context.Background(), forged); !res.Trusted {
		t.Errorf("mapped address of a trusted relay not trusted: %+v", res)
	}
	for _, ip := range []string{"127.0.0.1", "::1", "198.51.100.1"} {
		forged.IP = netip.MustParseAddr(ip)
		if res := w.c.Check(context.Background(), forged); res.Trusted || res.Verdict != Reject {
			t.Errorf("%s: %s trusted=%v", ip, res.Verdict, res.Trusted)
		}
	}
	w = newWorld(t, nil)
	forged.IP = netip.MustParseAddr("127.0.0.1")
	if res := w.c.Check(context.Background(), forged); res.Trusted || res.Verdict != Reject {
		t.Errorf("loopback trusted by default: %+v", res)
	}
}

// TestTimeout: a DNS server that never answers ends in TempFail within the
// whole check's deadline, not the sum of every lookup's.
func TestTimeout(t *testing.T) {
	w := newWorld(t, func(o *Options) { o.Timeout = 1500 * time.Millisecond })
	w.dns.Silence("_dmarc.reject.example", true)
	w.dns.Silence("reject.example", true)
	res := w.c.Check(context.Background(), Input{IP: client, Helo: "client.example", MailFrom: "x@reject.example",
		Message: message("From: x@reject.example")})
	if res.Verdict != TempFail || res.DMARC.Result != "temperror" || res.SPF.Result != "temperror" {
		t.Errorf("silent DNS: %s spf=%s dmarc=%s", res.Verdict, res.SPF.Result, res.DMARC.Result)
	}
}

func TestNewNeedsOptions(t *testing.T) {
	w := newWorld(t, nil)
	o := w.c.o
	for _, edit := range []func(*Options){
		func(o *Options) { o.Hostname = "" },
		func(o *Options) { o.Resolver = nil },
		func(o *Options) { o.Hosted = nil },
	} {
		o2 := o
		edit(&o2)
		if _, err := New(o2); err == nil {
			t.Errorf("New(%+v) succeeded", o2)
		}
	}
}
