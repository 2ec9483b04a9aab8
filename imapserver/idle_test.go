package imapserver

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// bigMsg is a message of about size bytes whose body no other index gives.
func bigMsg(i, size int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,"
	rng := rand.New(rand.NewPCG(uint64(i), 13))
	var b strings.Builder
	fmt.Fprintf(&b, "From: s%d@remote.example\r\nSubject: big %d\r\n\r\n", i, i)
	line := make([]byte, 76)
	for b.Len() < size {
		for j := range line {
			line[j] = letters[rng.IntN(len(letters))]
		}
		b.Write(line)
		b.WriteString("\r\n")
	}
	return b.String()
}

var (
	bodyLiteralRE = regexp.MustCompile(`BODY\[\] \{(\d+)\}\r\n`)
	uidRE         = regexp.MustCompile(`UID (\d+)`)
)

// TestIdleBuffersByteExact checks the go-imap fork's pooled read and write
// buffers and its goroutine-less IDLE (patches 50 and 51): while
// connections in IDLE are sent a stream of updates, written by goroutines
// the deliveries start, others FETCH large literals, and each IDLE ends at
// a different point of the stream. Every literal must come back exactly as
// delivered, and each idler must see exactly every update, in order, none
// after the tagged OK of the command that reported it.
func TestIdleBuffersByteExact(t *testing.T) {
	e := newEnv(t)
	const bigs, idlers, fetchers, rounds, updates = 3, 8, 4, 3, 12
	big := make(map[string]string) // UID: message
	for i := 1; i <= bigs; i++ {
		m := bigMsg(i, 200<<10)
		e.deliver(m)
		big[strconv.Itoa(i)] = m
	}

	// Each idler's stream, from IDLE's continuation to the end.
	streams := make([]strings.Builder, idlers)
	conns := make([]*rawConn, idlers)
	var wg sync.WaitGroup
	errs := make(chan error, idlers+fetchers)
	for i := range conns {
		r := e.rawTLS()
		r.login(alice)
		r.ok("ENABLE IMAP4rev2") // no \Recent, given to whichever session sees a message first
		r.ok("SELECT INBOX")
		if _, err := r.conn.Write([]byte("I1 IDLE\r\n")); err != nil {
			t.Fatal(err)
		}
		if l := r.line(); l != "+ idling\r\n" {
			t.Fatalf("IDLE: %q", l)
		}
		conns[i] = r
		wg.Go(func() {
			// Up to the NOOP's tagged OK that follows the last update.
			final := fmt.Sprintf("* %d EXISTS\r\n", bigs+updates)
			for {
				l, err := readResponse(r.br)
				if err != nil {
					errs <- fmt.Errorf("idler %d: %v", i, err)
					return
				}
				streams[i].WriteString(l)
				if strings.HasPrefix(l, "N") && strings.Contains(streams[i].String(), final) {
					return
				}
			}
		})
	}

	for f := range fetchers {
		r := e.rawTLS()
		r.login(alice)
		r.ok("ENABLE IMAP4rev2") // no \Recent, given to whichever session sees a message first
		r.ok("SELECT INBOX")
		wg.Go(func() {
			for round := range rounds {
				tag := fmt.Sprintf("F%d", round)
				fmt.Fprintf(r.conn, "%s UID FETCH 1:%d (BODY.PEEK[])\r\n", tag, bigs)
				seen := 0
				for {
					l, err := readResponse(r.br)
					if err != nil {
						errs <- fmt.Errorf("fetcher %d: %v", f, err)
						return
					}
					if strings.HasPrefix(l, tag+" ") {
						if !strings.HasPrefix(l, tag+" OK") || seen != bigs {
							errs <- fmt.Errorf("fetcher %d: %q after %d bodies", f, l, seen)
						}
						break
					}
					m := bodyLiteralRE.FindStringSubmatchIndex(l)
					if m == nil {
						continue // an update from the idlers' stream
					}
					n, _ := strconv.Atoi(l[m[2]:m[3]])
					uid := uidRE.FindStringSubmatch(l)
					if got, want := l[m[1]:m[1]+n], big[uid[1]]; uid == nil || got != want {
						errs <- fmt.Errorf("fetcher %d: BODY[] of %q differs from the message delivered", f, l[:min(len(l), 40)])
						return
					}
					seen++
				}
			}
		})
	}

	storer := e.rawTLS()
	storer.login(alice)
	storer.ok("ENABLE IMAP4rev2")
	storer.ok("SELECT INBOX")
	var want strings.Builder
	for k := 1; k <= updates; k++ {
		e.deliver(numberedMsg(k))
		storer.ok(`STORE %d +FLAGS.SILENT (\Flagged)`, k)
		fmt.Fprintf(&want, "* %d EXISTS\r\n* %d FETCH (UID %d FLAGS (\\Flagged))\r\n", bigs+k, k, k)
		if k <= idlers {
			conns[k-1].conn.Write([]byte("DONE\r\n")) // idler k-1 leaves IDLE here
		}
	}
	// Whatever IDLE did not write, NOOP's poll does; the stream is read
	// to the NOOP after the last update.
	for _, r := range conns {
		r.conn.Write([]byte("N1 NOOP\r\n"))
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("connections did not finish")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range streams {
		got := streams[i].String()
		untagged, rest, ok := strings.Cut(got, "I1 OK IDLE completed\r\n")
		rest, ok2 := strings.CutSuffix(rest, "N1 OK NOOP completed\r\n")
		if !ok || !ok2 {
			t.Errorf("idler %d: stream %q", i, got)
			continue
		}
		if untagged+rest != want.String() {
			t.Errorf("idler %d: updates\n%q\nwant\n%q", i, untagged+rest, want.String())
		}
	}
}

// TestCommandSplitAndPipelined checks the read side of patch 50: a command
// that arrives in pieces (its first byte read while no buffer is held, the
// rest through the pooled reader), commands sent together (read from the
// buffer without waiting), and a synchronizing literal.
func TestCommandSplitAndPipelined(t *testing.T) {
	e := newEnv(t)
	r := e.rawTLS()
	r.login(alice)

	send := func(s string) {
		t.Helper()
		if _, err := r.conn.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	for _, pieces := range [][]string{{"S", "1 NOOP\r\n"}, {"S2 NO", "OP", "\r", "\n"}} {
		for _, p := range pieces {
			send(p)
			time.Sleep(20 * time.Millisecond) // each piece in its own read
		}
		tag := strings.Fields(strings.Join(pieces, ""))[0]
		if l := r.line(); l != tag+" OK NOOP completed\r\n" {
			t.Errorf("%q: %q", pieces, l)
		}
	}

	send("P1 NOOP\r\nP2 SELECT INBOX\r\nP3 NOOP\r\n")
	if _, tagged := r.until("P1"); tagged != "P1 OK NOOP completed\r\n" {
		t.Errorf("P1: %q", tagged)
	}
	if u, tagged := r.until("P2"); !strings.HasPrefix(tagged, "P2 OK [READ-WRITE]") || len(u) == 0 {
		t.Errorf("P2: %q %q", u, tagged)
	}
	if _, tagged := r.until("P3"); tagged != "P3 OK NOOP completed\r\n" {
		t.Errorf("P3: %q", tagged)
	}

	send("L1 STATUS {5}\r\n")
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("literal: %q", l)
	}
	time.Sleep(20 * time.Millisecond)
	send("INBOX (MESSAGES)\r\n")
	if u, tagged := r.until("L1"); tagged != "L1 OK STATUS completed\r\n" || len(u) != 1 || u[0] != "* STATUS INBOX (MESSAGES 0)\r\n" {
		t.Errorf("L1: %q %q", u, tagged)
	}
}
