package imapserver

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// threadedMessage returns message i of a mailbox of threads of five: the
// first of each has no references, each other one References its thread's
// first and the one before it; dates run backwards so that SORT has work.
func threadedMessage(i int) string {
	root := i - i%5
	var refs string
	if i != root {
		refs = fmt.Sprintf("References: <%d@bench.example> <%d@bench.example>\r\n", root, i-1)
	}
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(i) * time.Minute)
	subj := fmt.Sprintf("topic %d", root)
	if i != root {
		subj = "Re: " + subj
	}
	return fmt.Sprintf("From: \"Sender %d\" <s%d@remote.example>\r\nTo: alice@example.org\r\n"+
		"Subject: %s\r\nDate: %s\r\nMessage-ID: <%d@bench.example>\r\n%s\r\n%s\r\n",
		i%97, i%97, subj, date.Format(time.RFC1123Z), i, refs, strings.Repeat("body text ", 200))
}

// fillWith delivers messages gen(0) to gen(n-1) to alice's INBOX, eight at
// a time, and returns their total size.
func fillWith(e *testEnv, n int, gen func(int) string) int64 {
	var total int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				m := gen(i)
				e.deliver(m)
				mu.Lock()
				total += int64(len(m))
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return total
}

// sortBench fills alice's INBOX with n threaded messages and returns a raw
// connection with INBOX selected.
func sortBench(b *testing.B, n int) *rawConn {
	e := newEnv(b)
	fillWith(e, n, threadedMessage)
	r := e.rawTLS()
	r.conn.SetDeadline(time.Time{})
	r.login(alice)
	r.ok("SELECT INBOX")
	return r
}

// benchCommand runs cmd once cold (every message decrypted, its keys
// cached; reported as cold-ms), then warm in the loop, checking that the
// response has n numbers.
func benchCommand(b *testing.B, r *rawConn, cmd string, n int) {
	check := func() {
		u := r.ok("%s", cmd)
		if len(u) != 1 || strings.Count(u[0], " ")-1 != n && !strings.HasPrefix(u[0], "* THREAD") {
			b.Fatalf("%s: %.200q", cmd, u)
		}
	}
	start := time.Now()
	check()
	cold := time.Since(start)
	b.ResetTimer()
	for b.Loop() {
		check()
	}
	b.ReportMetric(float64(cold.Milliseconds()), "cold-ms")
}

// BenchmarkSort10k: UID SORT (DATE) over 10,000 sealed messages, warm (the
// keys cached in the session after the first, cold, run).
func BenchmarkSort10k(b *testing.B) {
	r := sortBench(b, 10000)
	benchCommand(b, r, "UID SORT (DATE) UTF-8 ALL", 10000)
}

// BenchmarkThread10k: THREAD REFERENCES over 10,000 sealed messages, warm.
func BenchmarkThread10k(b *testing.B) {
	r := sortBench(b, 10000)
	benchCommand(b, r, "THREAD REFERENCES UTF-8 ALL", 10000)
}
