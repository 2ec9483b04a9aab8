package imapserver

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/sealpost/sealpost"
)

var benchWords = strings.Fields("the quick brown fox jumps over lazy dog mail server sealed message " +
	"privacy key recovery inbox folder archive meeting report budget project alpha beta gamma delta")

// benchMessage returns a message of about size bytes; every hundredth
// contains the word "zebra".
func benchMessage(i, size int) string {
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	var b strings.Builder
	fmt.Fprintf(&b, "From: sender%d@remote.example\r\nTo: alice@example.org\r\nSubject: benchmark %d\r\n"+
		"Message-ID: <%d@remote.example>\r\n\r\n", i, i, i)
	col := 0
	for b.Len() < size {
		w := benchWords[rng.IntN(len(benchWords))]
		if i%100 == 0 && b.Len() > size/2 && !strings.Contains(b.String(), "zebra") {
			w = "zebra"
		}
		b.WriteString(w)
		col += len(w) + 1
		if col > 70 {
			b.WriteString("\r\n")
			col = 0
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

// fill delivers n messages of about size bytes to alice's INBOX, in
// parallel, and returns their total size.
func fill(b *testing.B, e *testEnv, n, size int) int64 {
	return fillWith(e, n, func(i int) string { return benchMessage(i, size) })
}

var benchLiteral = regexp.MustCompile(`\{(\d+)\}\r\n$`)

// fetchAll runs UID FETCH 1:* BODY.PEEK[] on a raw TLS connection, reading
// and discarding the literals, and returns the literal bytes received.
func fetchAll(b *testing.B, conn *tls.Conn, br *bufio.Reader, tag string) int64 {
	fmt.Fprintf(conn, "%s UID FETCH 1:* BODY.PEEK[]\r\n", tag)
	var n int64
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		if strings.HasPrefix(line, tag+" ") {
			if !strings.HasPrefix(line, tag+" OK") {
				b.Fatal(line)
			}
			return n
		}
		if m := benchLiteral.FindStringSubmatch(line); m != nil {
			size, _ := strconv.ParseInt(m[1], 10, 64)
			if _, err := io.CopyN(io.Discard, br, size); err != nil {
				b.Fatal(err)
			}
			n += size
		}
	}
}

// BenchmarkFetchBodyPeek fetches every message of a 1,000-message mailbox
// of 10 KB messages over TLS; the reported MB/s is message bytes served.
func BenchmarkFetchBodyPeek(b *testing.B) {
	e := newEnv(b)
	total := fill(b, e, 1000, 10<<10)
	conn, err := tls.Dial("tcp", e.tlsAddr, e.clientTLS)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 64<<10)
	br.ReadString('\n')
	fmt.Fprintf(conn, "L LOGIN %s %q\r\nS SELECT INBOX\r\n", alice, password)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		if strings.HasPrefix(l, "S ") {
			break
		}
	}
	// The first read of each message unwraps its session key with the
	// private key and caches it; later reads (what clients do on every
	// sync) use the cache.
	if got := fetchAll(b, conn, br, "W"); got != total {
		b.Fatalf("fetched %d bytes, want %d", got, total)
	}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if got := fetchAll(b, conn, br, "F"+strconv.Itoa(i)); got != total {
			b.Fatalf("fetched %d bytes, want %d", got, total)
		}
	}
}

// BenchmarkSearchBody searches the bodies of 10,000 10 KB messages.
func BenchmarkSearchBody(b *testing.B) {
	e := newEnv(b)
	fill(b, e, 10000, 10<<10)
	c := e.client(alice, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	criteria := &imap.SearchCriteria{Body: []string{"zebra"}}
	data, err := c.UIDSearch(criteria, nil).Wait() // warm the session-key cache
	if err != nil || len(data.AllUIDs()) != 100 {
		b.Fatalf("warm-up search: %v, %d matches", err, len(data.AllUIDs()))
	}
	b.ResetTimer()
	for b.Loop() {
		data, err := c.UIDSearch(criteria, nil).Wait()
		if err != nil || len(data.AllUIDs()) != 100 {
			b.Fatalf("search: %v, %d matches", err, len(data.AllUIDs()))
		}
	}
}

// BenchmarkSessionBody measures postbox.Session.Body alone on one core
// (cached session keys), the bound on what FETCH can serve per core.
func BenchmarkSessionBody(b *testing.B) {
	e := newEnv(b)
	total := fill(b, e, 200, 10<<10)
	ps, err := e.svc.Login(b.Context(), alice, password)
	if err != nil {
		b.Fatal(err)
	}
	defer ps.Close()
	mbox, err := ps.Select(b.Context(), "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	defer ps.Release(mbox)
	var msgs []sealpost.Message
	mbox.Read(func(_ sealpost.Mailbox, all []sealpost.Message) { msgs = slices.Clone(all) })
	for _, m := range msgs { // cache the session keys
		if _, err := ps.Body(b.Context(), m); err != nil {
			b.Fatal(err)
		}
	}
	mbox.Read(func(_ sealpost.Mailbox, all []sealpost.Message) { msgs = slices.Clone(all) })
	b.SetBytes(total)
	b.ResetTimer()
	for b.Loop() {
		for _, m := range msgs {
			if _, err := ps.Body(b.Context(), m); err != nil {
				b.Fatal(err)
			}
		}
	}
}
