package sieve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// FuzzCompile: Compile never panics, fails only with Invalid or TooLarge,
// and what compiles runs within its bounds without panicking.
func FuzzCompile(f *testing.F) {
	// Seeds are in testdata/fuzz/FuzzCompile.
	msg := testMessage(testHeader, testBody)
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Compile(src)
		if err != nil {
			if k := errors.KindOf(err); k != errors.Invalid && k != errors.TooLarge {
				t.Fatalf("Compile: %v", err)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = s.Run(ctx, testEnv, msg)
		if errors.Is(errors.Internal, err) {
			t.Fatalf("Run: %v", err)
		}
	})
}

// fuzzScript tests a message every way a script can: header, address,
// envelope, body, date, and a vacation whose reply is then built.
const fuzzScript = `require ["fileinto", "envelope", "body", "date", "relational", "variables",
  "subaddress", "imap4flags", "vacation", "comparator-i;ascii-numeric", "mailbox", "index"];
if header :matches "subject" "*[*]*" { set "tag" "${2}"; fileinto :create "T/${tag}"; }
if address :localpart :is ["from", "to", "cc"] "x" { addflag "\\Flagged"; }
if address :index 2 :domain :is "received" "example.org" { keep; }
if envelope :detail "to" "news" { fileinto "News"; }
if body :text :contains "unsubscribe" { addflag "$List"; }
if date :value "ge" "date" "year" "2020" { addflag "$Recent"; }
if header :count "gt" :comparator "i;ascii-numeric" "received" "3" { addflag "$Hops"; }
vacation :days 1 :subject "away: ${tag}" "gone";
`

// FuzzRunMessage runs a fixed script over arbitrary messages (a message
// is untrusted input) and builds the vacation reply to each: nothing may
// panic, hang past the run's bound, or put a line feed where a header
// field ends.
func FuzzRunMessage(f *testing.F) {
	s, err := Compile([]byte(fuzzScript))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("From: a@b.example\r\nTo: x@demo.example\r\nSubject: [x] hi\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\n"), []byte("unsubscribe here\r\n"))
	f.Add([]byte("From: <x@y>\r\nSubject: =?utf-8?b?w6nDqQ==?= [=?utf-8?q?a=0Ab?=]\r\nList-Id: <l.example>\r\n\r\n"), []byte(""))
	f.Add([]byte("Received: a\r\nReceived: b\r\nReceived: c\r\nReceived: d\r\nFrom: \"q\\\" x\" <a@[127.0.0.1]>\r\n\r\n"), []byte("x"))
	f.Fuzz(func(t *testing.T, header, body []byte) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				buf := make([]byte, 1<<20)
				panic(fmt.Sprintf("hung on header %q body %q\n%s", header, body, buf[:runtime.Stack(buf, true)]))
			}
		}()
		msg := Message{Header: header, Body: func() (io.Reader, error) { return bytes.NewReader(body), nil },
			Size: int64(len(header) + len(body)), Date: time.Unix(1_765_000_000, 0)}
		env := Envelope{From: "sender@example.org", To: "x+news@demo.example"}
		p, err := s.Run(context.Background(), env, msg)
		if err != nil || p.Vacation == nil {
			return
		}
		reply, err := BuildReply(p.Vacation, env, header, "x@demo.example", time.Unix(1_765_000_000, 0))
		if err != nil {
			return
		}
		head, _, _ := bytes.Cut(reply, []byte("\r\n\r\n"))
		for _, line := range bytes.Split(head, []byte("\r\n")) {
			if bytes.ContainsAny(line, "\r\n") {
				t.Fatalf("a header line of the reply holds a bare CR or LF: %q", line)
			}
		}
		ShouldReply(env, header, p.Vacation, []string{"x@demo.example"})
	})
}
