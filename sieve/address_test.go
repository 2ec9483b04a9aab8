package sieve

import (
	"context"
	"testing"
)

// TestAddressAngleAddr: the address test sees the mailbox in every form
// of RFC 5322 3.4 (go-sieve patch 73): bare, with a display name, in
// angle brackets alone, with a comment.
func TestAddressAngleAddr(t *testing.T) {
	s, err := Compile([]byte(`if address :is "from" "pest@example.org" { discard; }`))
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{
		"pest@example.org",
		"<pest@example.org>",
		"Pest <pest@example.org>",
		`"Pest, Inc." <pest@example.org>`,
		"pest@example.org (the pest)",
		"<pest@example.org> (the pest)",
	} {
		h := []byte("From: " + from + "\r\nSubject: x\r\n\r\n")
		p, err := s.Run(context.Background(), Envelope{From: "x@y.example", To: "a@b.example"}, Message{Header: h, Size: 10})
		if err != nil || !p.Discard {
			t.Errorf("From: %s: discard %v, err %v; want the address matched", from, p.Discard, err)
		}
	}
	p, err := s.Run(context.Background(), Envelope{}, Message{Header: []byte("From: <other@example.org>\r\n\r\n"), Size: 10})
	if err != nil || p.Discard {
		t.Errorf("another address matched: %+v %v", p, err)
	}
}
