package imapserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// panicCatcher records log records that report a recovered panic: go-imap
// recovers panics per connection and only logs them, so the fuzz target
// watches the log.
type panicCatcher struct {
	mu     sync.Mutex
	panics []string
}

func (p *panicCatcher) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicCatcher) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
		p.mu.Lock()
		p.panics = append(p.panics, b.String())
		p.mu.Unlock()
	}
	return nil
}
func (p *panicCatcher) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicCatcher) WithGroup(string) slog.Handler      { return p }

func (p *panicCatcher) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.panics
	p.panics = nil
	return out
}

// FuzzIMAPSession sends arbitrary bytes after a successful login (and
// SELECT INBOX) and checks that the server neither panics nor hangs nor
// answers [SERVERBUG] (what a client sends is never the server's bug):
// after the client half-closes, the server must end the connection
// promptly, and it must still serve a new connection.
func FuzzIMAPSession(f *testing.F) {
	// IDLE: its DONE read after the connection's reader went back to the
	// pool (go-imap fork patch 50), a wrong word, input ending inside it.
	f.Add([]byte("a IDLE\r\nDONE\r\nb NOOP\r\nc IDLE\r\nDONE\r\n"))
	f.Add([]byte("a IDLE\r\nDONX\r\nb NOOP\r\n"))
	f.Add([]byte("a IDLE\r\nDO"))
	fuzzSession(f, true)
}

// FuzzIMAPPreLogin is FuzzIMAPSession before login, where go-imap's limits
// on literals and its cross-protocol defence (one unknown command ends the
// connection) apply.
func FuzzIMAPPreLogin(f *testing.F) {
	f.Add([]byte("a LOGIN {5000}\r\n"))
	f.Add([]byte("a LOGIN {5000+}\r\n" + strings.Repeat("a", 5000) + " x\r\nb NOOP\r\n"))
	f.Add([]byte("a AUTHENTICATE PLAIN {5+}\r\nabcde\r\n"))
	f.Add([]byte("a AUTHENTICATE PLAIN\r\n" + strings.Repeat("A", 5000) + "\r\n"))
	f.Add([]byte("a CAPABILITY\r\nb STARTTLS\r\nc LOGIN \"a\x00\" b\r\n"))
	f.Add([]byte("a LOGIN alice@example.org \"correct horse battery\"\r\nb CREATE \"&Jjo\"\r\nc LIST \"\" \"*%*%*%*%*%*%*%z\"\r\n"))
	fuzzSession(f, false)
}

// serverBugWatch scans the server's output for a tagged [SERVERBUG].
type serverBugWatch struct {
	line []byte
	bugs []string
}

func (w *serverBugWatch) Write(b []byte) (int, error) {
	for _, c := range b {
		if len(w.line) < 256 {
			w.line = append(w.line, c)
		}
		if c == '\n' {
			if l := string(w.line); strings.Contains(l, " NO [SERVERBUG]") && !strings.HasPrefix(l, "* ") {
				w.bugs = append(w.bugs, l)
			}
			w.line = w.line[:0]
		}
	}
	return len(b), nil
}

func fuzzSession(f *testing.F, login bool) {
	catcher := &panicCatcher{}
	e := newEnvOpts(f, Options{InsecureAuth: true, Logger: slog.New(catcher)})
	e.deliver(simpleMsg)
	e.deliver(multipartMsg)
	for _, m := range oddMessages[:4] {
		e.deliver(m.raw)
	}
	f.Add([]byte("a NOOP\r\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		conn, err := net.Dial("tcp", e.plainAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(conn)
		readTagged := func(tag string) {
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("waiting for %s: %v", tag, err)
				}
				if strings.HasPrefix(l, tag+" ") {
					if !strings.HasPrefix(l, tag+" OK") {
						t.Fatalf("%s: %q", tag, l)
					}
					return
				}
			}
		}
		br.ReadString('\n') // greeting
		if login {
			fmt.Fprintf(conn, "L LOGIN %s %q\r\nS SELECT INBOX\r\n", alice, password)
			readTagged("L")
			readTagged("S")
		}

		go func() {
			conn.Write(data)
			conn.(*net.TCPConn).CloseWrite()
		}()
		// The server must close the connection once it has read all.
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		var watch serverBugWatch
		// A reset is an end too: the server closed with input unread.
		if _, err := io.Copy(&watch, br); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("server did not end the connection: %v", err)
		}
		if p := catcher.take(); len(p) > 0 {
			t.Fatalf("panic: %s", p)
		}
		if len(watch.bugs) > 0 {
			t.Fatalf("[SERVERBUG] for client input: %q", watch.bugs)
		}
		// Still alive.
		c2, err := net.DialTimeout("tcp", e.plainAddr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		c2.SetDeadline(time.Now().Add(10 * time.Second))
		l, err := bufio.NewReader(c2).ReadString('\n')
		if err != nil || !strings.HasPrefix(l, "* OK") {
			t.Fatalf("server not answering after input: %q %v", l, err)
		}
	})
}
