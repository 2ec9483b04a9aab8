package frontdoor

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/smtp"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/sealpost/sealpost/cluster"
	"github.com/sealpost/sealpost/postbox"
)

// The benchmarks compare a client talking to region ie directly (over the
// internal mTLS link, as the front door does, with a PROXY header) with one
// going through the front door (public TLS, then the same link), in one
// environment, so that the front door's overhead reads off one run:
//
//	go test -run XXX -bench . ./frontdoor

// benchBody returns a message of about size bytes.
func benchBody(i, size int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: sender@remote.example\r\nTo: %s\r\nSubject: bench %d\r\nMessage-ID: <%d@remote.example>\r\n\r\n", alice, i, i)
	line := strings.Repeat("sealed mail travels through the front door ", 2)[:76] + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.String()
}

// dialDirect opens a connection to region ie for proto as the front door
// would, PROXY header included.
func (e *env) dialDirect(b *testing.B, proto string) net.Conn {
	conn, err := e.dialer("frontdoor")(context.Background(), "ie", proto)
	if err != nil {
		b.Fatal(err)
	}
	if err := cluster.WriteProxyHeader(conn, conn.LocalAddr(), conn.RemoteAddr()); err != nil {
		b.Fatal(err)
	}
	return conn
}

func BenchmarkFetch(b *testing.B) {
	e := newEnv(b)
	const n, size = 20, 64 << 10
	var total int64
	for i := range n {
		raw := benchBody(i, size)
		total += int64(len(raw))
		err := e.regions["ie"].svc.Deliver(context.Background(), postbox.Envelope{From: "sender@remote.example", Recipients: []string{alice}}, postbox.Bytes(raw))
		if err != nil {
			b.Fatal(err)
		}
	}
	section := &imap.FetchItemBodySection{Peek: true}
	fetch := func(b *testing.B, c *imapclient.Client) {
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil {
			b.Fatal(err)
		}
		var got int64
		for _, m := range msgs {
			got += int64(len(m.FindBodySection(section)))
		}
		if len(msgs) != n || got != total {
			b.Fatalf("fetched %d messages, %d bytes; want %d, %d", len(msgs), got, n, total)
		}
	}
	run := func(b *testing.B, c *imapclient.Client) {
		defer c.Close()
		if err := c.Login(alice, password).Wait(); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			b.Fatal(err)
		}
		fetch(b, c) // the first read caches the session keys
		b.SetBytes(total)
		b.ResetTimer()
		for b.Loop() {
			fetch(b, c)
		}
	}
	b.Run("direct", func(b *testing.B) {
		run(b, imapclient.New(e.dialDirect(b, cluster.ProtoIMAP), nil))
	})
	b.Run("frontdoor", func(b *testing.B) {
		c, err := imapclient.DialTLS(e.imaps, &imapclient.Options{TLSConfig: e.clientTLS})
		if err != nil {
			b.Fatal(err)
		}
		run(b, c)
	})
}

func BenchmarkSubmission(b *testing.B) {
	e := newEnv(b)
	raw := benchBody(0, 8<<10)
	run := func(b *testing.B, conn net.Conn, host string) {
		c, err := smtp.NewClient(conn, host)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("bench.demo.example"); err != nil {
			b.Fatal(err)
		}
		if err := c.Auth(smtp.PlainAuth("", alice, password, host)); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(raw)))
		b.ResetTimer()
		for b.Loop() {
			if err := c.Mail(alice); err != nil {
				b.Fatal(err)
			}
			if err := c.Rcpt(alice); err != nil {
				b.Fatal(err)
			}
			w, err := c.Data()
			if err != nil {
				b.Fatal(err)
			}
			w.Write([]byte(raw))
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	}
	b.Run("direct", func(b *testing.B) {
		run(b, e.dialDirect(b, cluster.ProtoSubmission), "region-ie")
	})
	b.Run("frontdoor", func(b *testing.B) {
		conn, err := tls.Dial("tcp", e.subs, e.clientTLS)
		if err != nil {
			b.Fatal(err)
		}
		run(b, conn, "127.0.0.1")
	})
}

// BenchmarkNoop measures one IMAP round trip, which touches no disk: the
// front door's added latency per command, without the noise of fsync.
func BenchmarkNoop(b *testing.B) {
	e := newEnv(b)
	run := func(b *testing.B, c *imapclient.Client) {
		defer c.Close()
		if err := c.Login(alice, password).Wait(); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			if err := c.Noop().Wait(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("direct", func(b *testing.B) {
		run(b, imapclient.New(e.dialDirect(b, cluster.ProtoIMAP), nil))
	})
	b.Run("frontdoor", func(b *testing.B) {
		c, err := imapclient.DialTLS(e.imaps, &imapclient.Options{TLSConfig: e.clientTLS})
		if err != nil {
			b.Fatal(err)
		}
		run(b, c)
	})
}
