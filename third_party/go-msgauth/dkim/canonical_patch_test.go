package dkim

// Sealpost patches 1, 2 and 10: the body canonicalizers write what
// upstream's wrote, for any body cut into writes at any points.

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
)

// upstreamFix is crlfFixer.Fix as released in v0.7.0.
func upstreamFix(cr *bool, b []byte) []byte {
	res := make([]byte, 0, len(b))
	for _, ch := range b {
		prevCR := *cr
		*cr = false
		switch ch {
		case '\r':
			*cr = true
		case '\n':
			if !prevCR {
				res = append(res, '\r')
			}
		}
		res = append(res, ch)
	}
	return res
}

// upstreamRelaxed is relaxedBodyCanonicalizer as released in v0.7.0.
type upstreamRelaxed struct {
	w       io.Writer
	crlfBuf []byte
	wsp     bool
	written bool
	cr      bool
}

func (c *upstreamRelaxed) Write(b []byte) (int, error) {
	written := len(b)
	b = upstreamFix(&c.cr, b)
	canonical := make([]byte, 0, len(b))
	for _, ch := range b {
		if ch == ' ' || ch == '\t' {
			c.wsp = true
		} else if ch == '\r' || ch == '\n' {
			c.wsp = false
			c.crlfBuf = append(c.crlfBuf, ch)
		} else {
			if len(c.crlfBuf) > 0 {
				canonical = append(canonical, c.crlfBuf...)
				c.crlfBuf = c.crlfBuf[:0]
			}
			if c.wsp {
				canonical = append(canonical, ' ')
				c.wsp = false
			}
			canonical = append(canonical, ch)
		}
	}
	if !c.written && len(canonical) > 0 {
		c.written = true
	}
	_, err := c.w.Write(canonical)
	return written, err
}

func (c *upstreamRelaxed) Close() error {
	if c.written {
		c.w.Write([]byte(crlf))
	}
	return nil
}

// upstreamSimple is simpleBodyCanonicalizer as released in v0.7.0.
type upstreamSimple struct {
	w       io.Writer
	crlfBuf []byte
	cr      bool
}

func (c *upstreamSimple) Write(b []byte) (int, error) {
	written := len(b)
	b = append(c.crlfBuf, b...)
	b = upstreamFix(&c.cr, b)
	end := len(b)
	if end > 0 && b[end-1] == '\r' {
		end--
	}
	for end >= 2 {
		prev := b[end-2]
		cur := b[end-1]
		if prev != '\r' || cur != '\n' {
			break
		}
		end -= 2
	}
	c.crlfBuf = b[end:]
	var err error
	if end > 0 {
		_, err = c.w.Write(b[:end])
	}
	return written, err
}

func (c *upstreamSimple) Close() error {
	if len(c.crlfBuf) > 0 && c.crlfBuf[len(c.crlfBuf)-1] == '\r' {
		if _, err := c.w.Write(c.crlfBuf); err != nil {
			return err
		}
	}
	c.crlfBuf = nil
	_, err := c.w.Write([]byte(crlf))
	return err
}

func FuzzBodyCanonicalization(f *testing.F) {
	for _, s := range []string{"", "a\r\nb\r\n", "a\nb\n", "x \t y  \r\n\r\n\r\n", "\r", "\n", "a\r", "\r\n\r\nz"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, body []byte, cut uint8) {
		step := int(cut%19) + 1
		write := func(w io.WriteCloser) {
			for i := 0; i < len(body); i += step {
				end := i + step
				if end > len(body) {
					end = len(body)
				}
				part := append([]byte(nil), body[i:end]...)
				w.Write(part)
			}
			w.Close()
		}
		var got, want bytes.Buffer
		write(&relaxedBodyCanonicalizer{w: &got})
		write(&upstreamRelaxed{w: &want})
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("relaxed(%q) = %q, upstream %q", body, got.Bytes(), want.Bytes())
		}
		got.Reset()
		want.Reset()
		write(&simpleBodyCanonicalizer{w: &got})
		write(&upstreamSimple{w: &want})
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("simple(%q) = %q, upstream %q", body, got.Bytes(), want.Bytes())
		}
		// The simple canonicalizer against the upstream fixer: patch 1
		// changes only Fix, so compare Fix on the same cut writes.
		var a crlfFixer
		var bcr bool
		var fa, fb []byte
		for i := 0; i < len(body); i += step {
			end := i + step
			if end > len(body) {
				end = len(body)
			}
			fa = append(fa, a.Fix(append([]byte(nil), body[i:end]...))...)
			fb = append(fb, upstreamFix(&bcr, append([]byte(nil), body[i:end]...))...)
		}
		if !bytes.Equal(fa, fb) || a.cr != bcr {
			t.Fatalf("Fix(%q) = %q, upstream %q", body, fa, fb)
		}
	})
}

// TestKeyCache (Sealpost patch 3): a cached key verifies as a parsed one
// does, the cache keeps at most Max keys, and a record that does not
// parse is not kept.
func TestKeyCache(t *testing.T) {
	c := &KeyCache{Max: 2}
	a, err := c.parse(dnsPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.parse(dnsPublicKey); again != a {
		t.Error("the second parse of the same record was not the cached key")
	}
	if _, err := c.parse("v=DKIM1; p="); err == nil {
		t.Error("a revoked key parsed")
	}
	c.parse(dnsRawRSAPublicKey)
	c.parse(dnsEd25519PublicKey)
	if len(c.keys) > 2 {
		t.Errorf("the cache holds %d keys, Max is 2", len(c.keys))
	}
	if _, ok := c.keys["v=DKIM1; p="]; ok {
		t.Error("a record that did not parse was kept")
	}
	// A record longer than MaxRecord parses and is not kept.
	long := dnsPublicKey + "; n=" + strings.Repeat("x", 200)
	big := &KeyCache{Max: 10, MaxRecord: len(dnsPublicKey) + 10}
	if k, err := big.parse(long); err != nil || k == nil {
		t.Fatalf("long record: %v", err)
	}
	big.parse(dnsPublicKey)
	if _, ok := big.keys[long]; ok || len(big.keys) != 1 {
		t.Errorf("the cache holds %d keys, the long record kept: %v", len(big.keys), ok)
	}
	v, err := VerifyWithOptions(newMailStringReader(verifiedMailString), &VerifyOptions{KeyCache: c})
	if err != nil || len(v) != 1 || v[0].Err != nil {
		t.Fatalf("verify with a cache: %v, %+v", err, v)
	}
}

// FuzzRemoveSignature (Sealpost patch 4): removeSignature does what
// upstream's regular expression did.
func FuzzRemoveSignature(f *testing.F) {
	for _, s := range []string{"", "v=1; b=abc; bh=xyz", "b =\r\n abc", "b=;b=x", "bb=1", "ab=2;b\t= q", "b", "b="} {
		f.Add(s)
	}
	re := regexp.MustCompile(`(b\s*=)[^;]+`)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := removeSignature(s), re.ReplaceAllString(s, "$1"); got != want {
			t.Fatalf("removeSignature(%q) = %q, the regexp gives %q", s, got, want)
		}
	})
}

// BenchmarkRelaxedBody canonicalizes 10 KB bodies in writes of 1 KiB, as
// the MX hands them over: text (words and single spaces) and base64.
func BenchmarkRelaxedBody(b *testing.B) {
	text := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog, and then  again.\r\n"), 160)
	b64 := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab\r\n"), 160)
	for _, body := range []struct {
		name string
		b    []byte
	}{{"text", text}, {"base64", b64}} {
		b.Run(body.name, func(b *testing.B) {
			b.SetBytes(int64(len(body.b)))
			for b.Loop() {
				wc := new(relaxedCanonicalizer).CanonicalizeBody(io.Discard)
				for p := body.b; len(p) > 0; {
					n := 1024
					if n > len(p) {
						n = len(p)
					}
					wc.Write(p[:n])
					p = p[n:]
				}
				wc.Close()
			}
		})
	}
}

// upstreamRelaxedHeader is relaxedCanonicalizer.CanonicalizeHeader as
// released in v0.7.0.
func upstreamRelaxedHeader(s string) string {
	k, v, ok := strings.Cut(s, ":")
	if !ok {
		return strings.TrimSpace(strings.ToLower(s)) + ":" + crlf
	}
	k = strings.TrimSpace(strings.ToLower(k))
	v = strings.Join(strings.FieldsFunc(v, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r'
	}), " ")
	return k + ":" + v + crlf
}

// FuzzRelaxedHeader (Sealpost patch 9): the relaxed header
// canonicalization gives what upstream's gave.
func FuzzRelaxedHeader(f *testing.F) {
	for _, s := range []string{"Subject: a  b\r\n\t c \r\n", "From:x", "X : \t\r\n", "no colon", ":", "A:\xff \xfe b", "DKIM-Signature: v=1;\r\n b=abc\r\n def"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := new(relaxedCanonicalizer).CanonicalizeHeader(s), upstreamRelaxedHeader(s); got != want {
			t.Errorf("%q: %q, upstream %q", s, got, want)
		}
	})
}
