package smtpserver

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// lineChecker over data in any pieces agrees with checkLineEndings over
// the whole.
func FuzzLineChecker(f *testing.F) {
	for _, s := range []string{"", "a\r\nb\r\n", "\r", "\r\n", "a\r\rb", "a\n", "x\r\n\n", "\r\r\n"} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, piece uint8) {
		want := checkLineEndings(data)
		n := max(int(piece), 1)
		var c lineChecker
		var got error
		for rest := data; len(rest) > 0 && got == nil; {
			k := min(n, len(rest))
			if e := c.check(rest[:k]); e != nil {
				got = e
			}
			rest = rest[k:]
		}
		if got == nil {
			if e := c.end(); e != nil {
				got = e
			}
		}
		if (want == nil) != (got == nil) || want != nil && got != error(want) {
			t.Fatalf("%q in pieces of %d: %v, whole: %v", data, n, got, want)
		}
	})
}

// The header section kept in memory is exactly the bytes up to the first
// empty line, whatever the pieces; over maxHeader it is refused.
func TestReceiveHeader(t *testing.T) {
	for _, tc := range []struct{ in, head string }{
		{"Subject: a\r\n\r\nbody\r\n", "Subject: a\r\n\r\n"},
		{"\r\nbody\r\n", "\r\n"},
		{"Subject: a\r\nX: b\r\n", "Subject: a\r\nX: b\r\n"},
		{"A: b\r\n\r\n\r\n\r\n", "A: b\r\n\r\n"},
	} {
		for _, piece := range []int{1, 2, 3, 7, 1 << 20} {
			r := iotest.OneByteReader(strings.NewReader(tc.in))
			if piece > 1 {
				r = &pieceReader{s: []byte(tc.in), n: piece}
			}
			var tap recordingTap
			m, err := receive(r, 1<<20, t.TempDir(), &tap)
			if err != nil {
				t.Fatalf("%q: %v", tc.in, err)
			}
			if string(m.header) != tc.head {
				t.Errorf("%q in pieces of %d: header %q, want %q", tc.in, piece, m.header, tc.head)
			}
			// The tap saw the same header section once, then the body.
			if tap.headers != 1 || string(tap.header) != tc.head || string(tap.body) != tc.in[len(tc.head):] {
				t.Errorf("%q in pieces of %d: tap saw %d header sections, %q, then %q", tc.in, piece, tap.headers, tap.header, tap.body)
			}
			all, err := io.ReadAll(m.temp.NewReader(0))
			if err != nil || string(all) != tc.in {
				t.Errorf("%q: Temp holds %q, %v", tc.in, all, err)
			}
			body, _ := io.ReadAll(m.temp.NewReader(m.bodyOffset()))
			if string(body) != tc.in[len(tc.head):] {
				t.Errorf("%q: body %q", tc.in, body)
			}
			m.discard()
		}
	}
	big := "X: " + strings.Repeat("a", maxHeader) + "\r\n\r\nbody\r\n"
	if _, err := receive(strings.NewReader(big), 4<<20, t.TempDir(), nil); err != replyHeaderTooLarge {
		t.Errorf("a header section over %d bytes: %v", maxHeader, err)
	}
	if _, err := receive(strings.NewReader("Subject: a\r\n\r\n"+strings.Repeat("b", 2000)), 1000, t.TempDir(), nil); err != replyTooLarge {
		t.Errorf("over the limit: %v", err)
	}
}

// A Temp that cannot be written (its directory is gone, as a full disk
// would refuse it) is errDisk, which Data answers 451 4.3.0.
func TestReceiveDiskFailure(t *testing.T) {
	data := "Subject: a\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 64<<10) // > the Temp's memory
	_, err := receive(strings.NewReader(data), 8<<20, "/nonexistent/sealpost-test", nil)
	var de errDisk
	if !errors.As(err, &de) {
		t.Fatalf("receive into a missing directory: %v, want errDisk", err)
	}
}

type pieceReader struct {
	s []byte
	n int
}

func (p *pieceReader) Read(b []byte) (int, error) {
	if len(p.s) == 0 {
		return 0, io.EOF
	}
	k := copy(b[:min(len(b), p.n)], p.s)
	p.s = p.s[k:]
	return k, nil
}

// recordingTap is a bodyTap that keeps what it is given.
type recordingTap struct {
	headers      int
	header, body []byte
}

func (r *recordingTap) Header(h []byte) {
	r.headers++
	r.header = append([]byte(nil), h...)
}

func (r *recordingTap) Write(p []byte) (int, error) {
	if r.headers == 0 {
		panic("body before the header section")
	}
	r.body = append(r.body, p...)
	return len(p), nil
}
