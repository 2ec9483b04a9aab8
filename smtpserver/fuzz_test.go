package smtpserver

import (
	"bytes"
	"context"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
)

// FuzzSession feeds arbitrary client bytes to an MX session over net.Pipe.
// The server must not panic or hang, and must never store more messages
// than the input holds complete DATA (or BDAT LAST) transactions as a
// strict server reads them: data that ends only at CRLF "." CRLF.
func FuzzSession(f *testing.F) {
	f.Add([]byte("EHLO a\r\nMAIL FROM:<c@x.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n"))
	f.Add([]byte("EHLO a\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nBDAT 12 LAST\r\nSubject: x\r\n"))
	f.Add([]byte("EHLO a\r\nMAIL FROM:<c@x.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nhi\n.\nMAIL FROM:<e@x.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nevil\r\n.\r\n"))

	e := newEnv(f)
	srv := New(e.svc, Options{Mode: MX, Hostname: "mx.example.test", MaxMessageSize: 64 << 10,
		MaxRecipients: 5, MaxLineLength: 1000, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	ln := newPipeListener()
	go srv.Serve(ln)
	f.Cleanup(func() { srv.Close() })
	counter := newMessageCounter(e, alice, bob)

	f.Fuzz(func(t *testing.T, input []byte) {
		before := counter.counts(t)
		client, server := net.Pipe()
		closed := make(chan struct{})
		ln.conns <- &notifyConn{Conn: server, closed: closed}

		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // replies are read and dropped
			defer wg.Done()
			io.Copy(io.Discard, client)
		}()
		client.SetWriteDeadline(time.Now().Add(20 * time.Second))
		client.Write(input) // fails early if the server hangs up: fine
		client.Close()
		select {
		case <-closed:
		case <-time.After(30 * time.Second):
			t.Fatalf("session hangs on input %q", input)
		}
		wg.Wait()
		if n := srv.panics.Load(); n != 0 {
			t.Fatalf("%d panics recovered on input %q", n, input)
		}
		// Each transaction stores at most one copy per recipient account.
		after := counter.counts(t)
		max := completeTransactions(input)
		for i := range after {
			if stored := after[i] - before[i]; stored > max {
				t.Fatalf("stored %d messages in one INBOX from %d complete transactions; input %q", stored, max, input)
			}
		}
	})
}

// completeTransactions bounds the messages a strict server could accept
// from in. Command lines end with LF (a CR before it is dropped), as
// go-smtp reads them. A DATA command may be refused (then the next line is
// a command) or accepted: then data starts at a line start and ends at the
// first "." CRLF at a line start, a line starting only after CRLF. A
// well-formed BDAT command is followed by its chunk, and BDAT ... LAST may
// end a message. The bound is the most messages over every choice of
// accepted and refused DATA commands.
func completeTransactions(in []byte) int {
	memo := make(map[int]int)
	var from func(pos int) int // the most messages from pos, in command mode
	from = func(pos int) int {
		if n, ok := memo[pos]; ok {
			return n
		}
		n := 0
		i := bytes.IndexByte(in[pos:], '\n')
		if i >= 0 {
			line := strings.TrimRight(string(in[pos:pos+i]), "\r\n")
			next := pos + i + 1
			n = from(next) // the command is refused or has no effect
			switch {
			case len(line) == 4 && strings.EqualFold(line, "DATA"):
				end := -1
				if bytes.HasPrefix(in[next:], []byte(".\r\n")) {
					end = next + 3
				} else if j := bytes.Index(in[next:], []byte("\r\n.\r\n")); j >= 0 {
					end = next + j + 5
				}
				if end >= 0 {
					n = max(n, 1+from(end))
				}
			case len(line) > 5 && strings.EqualFold(line[:4], "BDAT") && line[4] == ' ':
				args := strings.Fields(line[5:])
				if len(args) == 0 || len(args) > 2 || len(args) == 2 && !strings.EqualFold(args[1], "LAST") {
					break
				}
				size, err := strconv.ParseUint(args[0], 10, 32)
				if err != nil {
					break
				}
				n = 0 // the chunk is read whether BDAT is accepted or not
				if size <= uint64(len(in)-next) {
					n = from(next + int(size))
					if len(args) == 2 {
						n++
					}
				}
			}
		}
		memo[pos] = n
		return n
	}
	return from(0)
}

func TestCompleteTransactions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"DATA\r\n.\r\n", 1},
		{"DATA\r\nx\r\n.\r\nDATA\r\n.\r\n", 2},
		{"DATA\r\nx\n.\nDATA\r\ny\r\n.\r\n", 1},
		{"DATA\r\nx\nDATA\n.\r\n", 1}, // the first DATA refused
		{"DATA\r\nDATA\r\n.\r\n.\r\n", 1},
		{"DATA\r\nx\r\n.\r", 0},
		{"data\n.\r\n", 1},
		{"BDAT 5 LAST\r\nDATA\r\n", 1},
		{"BDAT 5\r\nab\r\n.\r\n", 0},
		{"BDAT x LAST\r\nDATA\r\n.\r\n", 1},
		{"DATA now\r\n.\r\n", 0},
	} {
		if got := completeTransactions([]byte(tc.in)); got != tc.want {
			t.Errorf("completeTransactions(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// pipeListener hands out connections sent on its channel.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// notifyConn closes a channel when the server closes the connection. Like
// a TCP connection whose peer has hung up, and unlike net.Pipe, it still
// takes deadlines after the client closed its end, so the server reads
// what it has buffered and then sees EOF.
type notifyConn struct {
	net.Conn
	closed chan struct{}
	once   sync.Once
}

func (c *notifyConn) SetDeadline(t time.Time) error      { c.Conn.SetDeadline(t); return nil }
func (c *notifyConn) SetReadDeadline(t time.Time) error  { c.Conn.SetReadDeadline(t); return nil }
func (c *notifyConn) SetWriteDeadline(t time.Time) error { c.Conn.SetWriteDeadline(t); return nil }

func (c *notifyConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { close(c.closed) })
	return err
}

// messageCounter counts the messages in some INBOXes, reading only new
// UIDs each time.
type messageCounter struct {
	e     *env
	boxes []sealpost.MailboxID
	last  []sealpost.UID
	n     []int
}

func newMessageCounter(e *env, addrs ...string) *messageCounter {
	mc := &messageCounter{e: e}
	ctx := context.Background()
	for _, a := range addrs {
		acct, err := e.svc.LookupAccount(ctx, a)
		if err != nil {
			e.t.Fatal(err)
		}
		mb, err := e.store.MailboxByUse(ctx, acct.ID, sealpost.UseInbox)
		if err != nil {
			e.t.Fatal(err)
		}
		mc.boxes = append(mc.boxes, mb.ID)
	}
	mc.last = make([]sealpost.UID, len(mc.boxes))
	mc.n = make([]int, len(mc.boxes))
	return mc
}

// counts returns the number of messages in each INBOX.
func (mc *messageCounter) counts(t *testing.T) []int {
	for i, id := range mc.boxes {
		msgs, err := mc.e.store.Messages(context.Background(), id, mc.last[i])
		if err != nil {
			t.Fatal(err)
		}
		mc.n[i] += len(msgs)
		if len(msgs) > 0 {
			mc.last[i] = msgs[len(msgs)-1].UID
		}
	}
	return slices.Clone(mc.n)
}
