package mailauth

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
)

// describeResult is everything a Result says, errors as their text.
func describeResult(r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %q trusted=%v err=%v\n%s", r.Verdict, r.Reason, r.Trusted, r.Err, r.Header)
	fmt.Fprintf(&b, "spf %s %q helo=%v %v\n", r.SPF.Result, r.SPF.Domain, r.SPF.Helo, r.SPF.Err)
	for _, d := range r.DKIM {
		fmt.Fprintf(&b, "dkim %s %q %v\n", d.Result, d.Domain, d.Err)
	}
	fmt.Fprintf(&b, "dmarc %s %q %q sampled=%v %v\n", r.DMARC.Result, r.DMARC.From, r.DMARC.Policy, r.DMARC.Sampled, r.DMARC.Err)
	return b.String()
}

// splitHeader cuts msg as the MX does: the header section with the empty
// line that ends it (all of msg if there is none), and the body.
func splitHeader(msg []byte) (header, body []byte) {
	if bytes.HasPrefix(msg, []byte("\r\n")) {
		return msg[:2], msg[2:]
	}
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[:i+4], msg[i+4:]
	}
	return msg, nil
}

// runChunks checks msg as the MX does with a Run: the header section, then
// the body in writes of chunk bytes.
func runChunks(c *Checker, env Envelope, msg []byte, chunk int) Result {
	r := c.Begin(context.Background(), env)
	h, body := splitHeader(msg)
	r.Header(h)
	for len(body) > 0 {
		n := min(chunk, len(body))
		r.Write(body[:n])
		body = body[n:]
	}
	return r.Finish()
}

// sameAsBefore fails unless a Run fed in pieces, and Check given the
// message whole or as header and body, say what the checks said before
// Run (oldCheck, given the header section and the body as the MX gave
// them).
func sameAsBefore(t *testing.T, c *Checker, env Envelope, msg []byte, chunk int) {
	t.Helper()
	h, body := splitHeader(msg)
	want := describeResult(c.oldCheck(context.Background(), Input{IP: env.IP, Helo: env.Helo, MailFrom: env.MailFrom,
		Message: h, Body: bytes.NewReader(body)}))
	if got := describeResult(runChunks(c, env, msg, chunk)); got != want {
		t.Errorf("Run:\n%s\nbefore:\n%s", got, want)
	}
	in := Input{IP: env.IP, Helo: env.Helo, MailFrom: env.MailFrom, Message: msg}
	wantWhole := describeResult(c.oldCheck(context.Background(), in))
	if got := describeResult(c.Check(context.Background(), in)); got != wantWhole {
		t.Errorf("Check, message whole:\n%s\nbefore:\n%s", got, wantWhole)
	}
}

// runCases are messages for every path of the checks.
func runCases(t testing.TB) []struct {
	name     string
	mailFrom string
	msg      []byte
} {
	signed := sign(t, message("From: a@dkim.example", "To: bob@ours.example"), "dkim.example", "rsa")
	twice := sign(t, signed, "mail.relaxed.example", "ed")
	return []struct {
		name     string
		mailFrom string
		msg      []byte
	}{
		{"rsa signed", "x@spf-fail.example", signed},
		{"two signatures", "b@mail.relaxed.example", twice},
		{"body changed", "x@spf-fail.example", append(bytes.Clone(signed[:len(signed)-len("test.\r\n")]), "TEST!\r\n"...)},
		{"header changed", "x@spf-fail.example", bytes.Replace(signed, []byte("Subject: test"), []byte("Subject: pay"), 1)},
		{"unsigned reject", "x@reject.example", message("From: x@reject.example")},
		{"own domain", "x@spf-pass.example", message("From: alice@ours.example")},
		{"no from", "x@spf-pass.example", []byte("To: b@c.example\r\n\r\nhi\r\n")},
		{"two froms", "x@spf-pass.example", []byte("From: a@b.example\r\nFrom: c@d.example\r\n\r\nhi\r\n")},
		{"no body", "", []byte("From: a@pnone.example\r\nDKIM-Signature: v=1; a=rsa-sha256; d=dkim.example; s=rsa; h=from; bh=; b=\r\n")},
		{"bad signature tags", "", []byte("From: a@pnone.example\r\nDKIM-Signature: v=1; a\r\n\r\nbody\r\n")},
		{"temp key", "x@spftemp.example", sign(t, message("From: a@spftemp.example"), "spftemp.example", "slow")},
		{"quarantine", "", message("From: q@quarantine.example")},
		{"pct", "x@pct.example", message("From: q@pct.example")},
	}
}

// TestRunSameAsBefore: for every case, in writes of several sizes.
func TestRunSameAsBefore(t *testing.T) {
	w := newWorld(t, nil)
	for _, tc := range runCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{1, 7, 1024, 1 << 20} {
				sameAsBefore(t, w.c, Envelope{IP: client, Helo: "client.example", MailFrom: tc.mailFrom}, tc.msg, chunk)
			}
		})
	}
}

// TestRunTrusted: a trusted relay's Run checks nothing, as Check.
func TestRunTrusted(t *testing.T) {
	c := newWorld(t, func(o *Options) { o.TrustedRelays = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} }).c
	res := runChunks(c, Envelope{IP: client, Helo: "x.example", MailFrom: "a@reject.example"}, message("From: a@reject.example"), 10)
	if !res.Trusted || res.Verdict != Accept || res.Header != "" {
		t.Errorf("trusted relay: %+v", res)
	}
}

// TestRunAbort: a Run aborted after its header section leaves nothing
// running.
func TestRunAbort(t *testing.T) {
	w := newWorld(t, nil)
	r := w.c.Begin(context.Background(), Envelope{IP: client, Helo: "client.example", MailFrom: "x@spf-pass.example"})
	r.Header([]byte("From: a@reject.example\r\n\r\n"))
	r.Abort()
	<-r.spfDone
}

// FuzzRun: a Run fed any message in writes of any size says what the
// checks said before it.
func FuzzRun(f *testing.F) {
	for _, tc := range runCases(f) {
		f.Add(tc.mailFrom, tc.msg, uint16(100))
	}
	w := newWorld(f, nil)
	f.Fuzz(func(t *testing.T, mailFrom string, msg []byte, chunk uint16) {
		if len(msg) > 8<<10 || len(mailFrom) > 300 {
			return
		}
		sameAsBefore(t, w.c, Envelope{IP: client, Helo: "client.example", MailFrom: mailFrom}, msg, max(1, int(chunk)))
	})
}

// FuzzScanHeader: one pass over the header section finds what the two
// passes found before, and domainName without strings.Split says what it
// said with it.
func FuzzScanHeader(f *testing.F) {
	for _, s := range []string{
		"From: a@example.org\r\nDKIM-Signature: x\r\n\r\nbody",
		"From: Ann <a@Example.ORG>\r\nFrom: b@example.net\r\n\r\n",
		"from : \"x, y\" <a@b.example> (comment)\n dkim-signature: y\n\n",
		"X: y\r\n continued\r\n more\r\nFrom:a@b.example..\r\nDKIM-Signature :\r\n\tz",
		"From: a@b.c.\r\n\r\n",
		"From: a@.b.c\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		d, status, sigs := scanHeader(msg)
		od, ostatus := oldAuthorDomain(msg)
		if d != od || status != ostatus || sigs != oldCountFields(msg, "DKIM-Signature") {
			t.Errorf("scanHeader: %q %d %d; before: %q %d %d", d, status, sigs, od, ostatus, oldCountFields(msg, "DKIM-Signature"))
		}
		var got, want []string
		for n, v := range headerFields(msg) {
			got = append(got, n+":"+v)
		}
		for n, v := range oldHeaderFields(msg) {
			want = append(want, n+":"+v)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("headerFields: %q; before %q", got, want)
		}
		s := string(msg)
		a, ok := domainName(s)
		if b, ok2 := oldDomainName(s); a != b || ok != ok2 {
			t.Errorf("domainName(%q) = %q %v; before %q %v", s, a, ok, b, ok2)
		}
	})
}

// FuzzWriteResult: writeResult writes what authres.Format writes, for any
// result of the three kinds.
func FuzzWriteResult(f *testing.F) {
	f.Add(uint8(0), "pass", "", "b@mail.example", "")
	f.Add(uint8(0), "none", "", "", "helo.example")
	f.Add(uint8(1), "fail", "signature did not verify", "d.example", "")
	f.Add(uint8(2), "fail", "p=reject (not sampled by pct)", "from.example", "")
	f.Add(uint8(1), "pass", "a\"b", "x y", "i@d.example")
	f.Add(uint8(2), "temperror", "", "bü.example", "")
	f.Add(uint8(2), "pass ", "", "", "")
	f.Fuzz(func(t *testing.T, kind uint8, value, reason, p1, p2 string) {
		var r authres.Result
		v := authres.ResultValue(value)
		switch kind % 3 {
		case 0:
			r = &authres.SPFResult{Value: v, Reason: reason, From: p1, Helo: p2}
		case 1:
			r = &authres.DKIMResult{Value: v, Reason: reason, Domain: p1, Identifier: p2}
		default:
			r = &authres.DMARCResult{Value: v, Reason: reason, From: p1}
		}
		var b strings.Builder
		writeResult(&b, r)
		want := ";\r\n\t" + strings.TrimSpace(strings.TrimPrefix(authres.Format("", []authres.Result{r}), ";"))
		if b.String() != want {
			t.Errorf("writeResult: %q, authres: %q", b.String(), want)
		}
	})
}

// TestRecordCache: a record's text parses once; the same text gives the
// same record or the same error, and a full cache starts again.
func TestRecordCache(t *testing.T) {
	c := &recordCache{max: 2, m: make(map[string]parsedRecord)}
	a, err := c.parse("v=DMARC1; p=reject; pct=50")
	if err != nil || a.Policy != "reject" || *a.Percent != 50 {
		t.Fatalf("parse: %+v, %v", a, err)
	}
	if b, _ := c.parse("v=DMARC1; p=reject; pct=50"); b != a {
		t.Error("the same text parsed again")
	}
	if _, err := c.parse("v=DMARC1; p=bounce"); err == nil {
		t.Error("p=bounce parsed")
	}
	if _, err := c.parse("v=DMARC1; p=bounce"); err == nil {
		t.Error("p=bounce parsed from the cache")
	}
	c.parse("v=DMARC1; p=none")
	if len(c.m) > c.max {
		t.Errorf("%d records kept, at most %d", len(c.m), c.max)
	}
	if b, _ := c.parse("v=DMARC1; p=reject; pct=50"); b == a || b.Policy != "reject" {
		t.Errorf("after the cache was emptied: %+v", b)
	}
	// A record over maxCachedRecord parses and is not kept.
	clear(c.m)
	long := "v=DMARC1; p=quarantine; rua=mailto:" + strings.Repeat("r", maxCachedRecord) + "@example.com"
	if r, err := c.parse(long); err != nil || r.Policy != "quarantine" {
		t.Fatalf("long record: %+v, %v", r, err)
	}
	if len(c.m) != 0 {
		t.Error("a record over maxCachedRecord was kept")
	}
}
