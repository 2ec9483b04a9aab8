package imapserver

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// countingReader counts the bytes read through it: the IMAP bytes the
// server sent, inside TLS.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// benchConn is a raw TLS client that counts what it receives.
type benchConn struct {
	b   *testing.B
	w   io.Writer
	cr  *countingReader
	br  *bufio.Reader
	tag int
}

func (e *testEnv) benchConn(b *testing.B) *benchConn {
	r := e.rawTLS()
	cr := &countingReader{r: r.br}
	c := &benchConn{b: b, w: r.conn, cr: cr, br: bufio.NewReaderSize(cr, 64<<10)}
	c.run("LOGIN %s %q", alice, password)
	return c
}

// run sends a command, reads to its tagged OK and returns the untagged
// lines and the bytes received for it.
func (c *benchConn) run(format string, args ...any) ([]string, int64) {
	c.tag++
	tag := "B" + strconv.Itoa(c.tag)
	before := c.cr.n - int64(c.br.Buffered())
	fmt.Fprintf(c.w, tag+" "+format+"\r\n", args...)
	var lines []string
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			c.b.Fatal(err)
		}
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				c.b.Fatalf("%s: %q", fmt.Sprintf(format, args...), l)
			}
			return lines, c.cr.n - int64(c.br.Buffered()) - before
		}
		lines = append(lines, l)
	}
}

var highestModSeqRE = regexp.MustCompile(`\[HIGHESTMODSEQ (\d+)\]`)

// BenchmarkQResync: in a 10,000-message mailbox another session makes
// 1,000 flag changes; a QRESYNC client then resynchronises with EXAMINE
// INBOX (QRESYNC (uidvalidity modseq)) (RFC 7162 3.2.5), against a client
// that refetches FETCH 1:* (FLAGS). The metrics are the bytes the server
// sends for each (IMAP bytes, inside TLS) and their ratio. Two cases: the
// changes touch 1,000 distinct messages (each must be reported, so no
// server can go below about a tenth of the full fetch), or they touch 10
// messages over and over (a client that reads and files the same few).
func BenchmarkQResync(b *testing.B) {
	const messages, changes = 10000, 1000
	e := newEnv(b)
	fill(b, e, messages, 300)
	client := e.benchConn(b)
	client.run("ENABLE QRESYNC")
	other := e.benchConn(b)
	other.run("SELECT INBOX")

	for _, bc := range []struct {
		name    string
		touched int // distinct messages the changes touch
	}{{"distinct-1000", 1000}, {"same-10", 10}} {
		uv, modSeq := client.examine()
		for i := range changes { // one STORE each, spread over the mailbox
			uid := 1 + (i%bc.touched)*messages/bc.touched
			other.run(`UID STORE %d FLAGS.SILENT (\Seen $Label%d)`, uid, i%7)
		}
		resync := fmt.Sprintf("EXAMINE INBOX (QRESYNC (%s %s))", uv, modSeq)
		lines, _ := client.run("%s", resync)
		if fetches := countPrefix(lines, "* ", " FETCH "); fetches != bc.touched {
			b.Fatalf("QRESYNC resync returned %d FETCH responses, want %d", fetches, bc.touched)
		}
		_, full := client.run("FETCH 1:* (FLAGS)")
		b.Run(bc.name, func(b *testing.B) {
			var n int64
			for b.Loop() {
				client.run("UNSELECT")
				_, n = client.run("%s", resync)
			}
			b.ReportMetric(float64(n), "resync-bytes")
			b.ReportMetric(float64(full), "full-fetch-bytes")
			b.ReportMetric(100*float64(n)/float64(full), "%-of-full")
		})
		client.run("UNSELECT")
	}
}

// examine opens INBOX read-only and returns its UIDVALIDITY and
// HIGHESTMODSEQ, then closes it.
func (c *benchConn) examine() (uv, modSeq string) {
	lines, _ := c.run("EXAMINE INBOX")
	for _, l := range lines {
		if m := uidValidityRE.FindStringSubmatch(l); m != nil {
			uv = m[1]
		}
		if m := highestModSeqRE.FindStringSubmatch(l); m != nil {
			modSeq = m[1]
		}
	}
	c.run("UNSELECT")
	return uv, modSeq
}

func countPrefix(lines []string, prefix, contains string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, contains) {
			n++
		}
	}
	return n
}
