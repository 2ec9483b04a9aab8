package smtp

// Sealpost patch 3: Transaction's tests.

import (
	"bufio"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// scripted runs a server on the far end of a pipe that greets, answers
// EHLO with ehlo's extensions, then reads n commands before it answers
// any (a client that waits for each reply would stall), replies with
// replies, and returns what it read, the data included, on the channel.
func scripted(t *testing.T, ehlo []string, n int, replies []string, data bool) (*Client, <-chan []string) {
	t.Helper()
	cc, sc := net.Pipe()
	got := make(chan []string, 1)
	go func() {
		defer sc.Close()
		r := bufio.NewReader(sc)
		var lines []string
		read := func() string {
			l, _ := r.ReadString('\n')
			lines = append(lines, strings.TrimRight(l, "\r\n"))
			return l
		}
		sc.Write([]byte("220 hi\r\n"))
		read()
		sc.Write([]byte("250-hi\r\n250 " + strings.Join(ehlo, "\r\n250 ") + "\r\n"))
		for i := 0; i < n; i++ {
			read()
		}
		sc.Write([]byte(strings.Join(replies, "\r\n") + "\r\n"))
		if data {
			for read() != ".\r\n" {
			}
			sc.Write([]byte("250 queued\r\n"))
		}
		got <- lines
	}()
	c := NewClient(cc)
	c.CommandTimeout = 5 * time.Second
	t.Cleanup(func() { c.Close() })
	return c, got
}

func TestTransactionPipelined(t *testing.T) {
	c, got := scripted(t, []string{"PIPELINING"}, 4,
		[]string{"250 ok", "250 ok", "550 5.1.1 no such user", "354 go on"}, true)
	r, err := c.Transaction("a@x.test", nil, []string{"b@y.test", "c@y.test"}, nil)
	if err != nil || r.Mail != nil || r.DataErr != nil || r.Data == nil {
		t.Fatalf("Transaction = %+v, %v", r, err)
	}
	if r.Rcpt[0] != nil || r.Rcpt[1] == nil || r.Rcpt[1].(*SMTPError).Code != 550 {
		t.Fatalf("Rcpt = %v", r.Rcpt)
	}
	r.Data.Write([]byte("Subject: x\r\n\r\n.dot\r\n"))
	resp, err := r.Data.CloseWithResponse()
	if err != nil || resp.StatusText != "queued" {
		t.Fatalf("CloseWithResponse = %v, %v", resp, err)
	}
	want := []string{"EHLO localhost", "MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "RCPT TO:<c@y.test>", "DATA", "Subject: x", "", "..dot", "."}
	if lines := <-got; !reflect.DeepEqual(lines, want) {
		t.Errorf("the server read %q, want %q", lines, want)
	}
}

// TestTransactionVoid: every RCPT refused, yet the server says 354 to
// DATA; the client ends the data at once (RFC 2920 section 3.1).
func TestTransactionVoid(t *testing.T) {
	c, got := scripted(t, []string{"PIPELINING"}, 3,
		[]string{"250 ok", "550 no", "354 go on"}, true)
	r, err := c.Transaction("a@x.test", nil, []string{"b@y.test"}, nil)
	if err != nil || r.Data != nil || r.Rcpt[0] == nil {
		t.Fatalf("Transaction = %+v, %v", r, err)
	}
	if lines := <-got; lines[len(lines)-1] != "." || lines[len(lines)-2] != "DATA" {
		t.Errorf("the server read %q", lines)
	}
}

// TestTransactionMailRefused: MAIL refused, so are the rest.
func TestTransactionMailRefused(t *testing.T) {
	c, got := scripted(t, []string{"PIPELINING"}, 3,
		[]string{"451 4.3.0 later", "503 no MAIL", "503 no valid recipients"}, false)
	r, err := c.Transaction("a@x.test", nil, []string{"b@y.test"}, nil)
	if err != nil || r.Data != nil || r.Mail == nil || r.Mail.(*SMTPError).Code != 451 || r.DataErr == nil {
		t.Fatalf("Transaction = %+v, %v", r, err)
	}
	<-got
}

// TestTransactionInTurn: without PIPELINING each command waits for its
// reply (the scripted server reads one command at a time here), and
// DATA is not sent when no recipient was accepted.
func TestTransactionInTurn(t *testing.T) {
	cc, sc := net.Pipe()
	done := make(chan []string, 1)
	go func() {
		defer sc.Close()
		r := bufio.NewReader(sc)
		var lines []string
		sc.Write([]byte("220 hi\r\n"))
		for _, reply := range []string{"250 hi", "250 ok", "550 no", "250 ok"} {
			l, _ := r.ReadString('\n')
			lines = append(lines, strings.TrimRight(l, "\r\n"))
			sc.Write([]byte(reply + "\r\n"))
		}
		done <- lines
	}()
	c := NewClient(cc)
	c.CommandTimeout = 5 * time.Second
	defer c.Close()
	r, err := c.Transaction("a@x.test", nil, []string{"b@y.test"}, nil)
	if err != nil || r.Data != nil || r.Rcpt[0] == nil {
		t.Fatalf("Transaction = %+v, %v", r, err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	want := []string{"EHLO localhost", "MAIL FROM:<a@x.test>", "RCPT TO:<b@y.test>", "RSET"}
	if lines := <-done; !reflect.DeepEqual(lines, want) {
		t.Errorf("the server read %q, want %q", lines, want)
	}
}
