package imapserver

// Sealpost patch 51: SessionTracker.StartIdle over a synchronous pipe, so
// that a write in progress can be held and stop's wait observed.

import (
	"bufio"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// pipeConn returns a server Conn writing to one end of a net.Pipe (each
// write waits for the reader) and a reader of the other end.
func pipeConn(t *testing.T) (*Conn, net.Conn, *bufio.Reader) {
	t.Helper()
	server, client := net.Pipe()
	t.Cleanup(func() { server.Close(); client.Close() })
	srv := New(&Options{Caps: imap.CapSet{imap.CapIMAP4rev2: {}}})
	return newConn(server, srv), client, bufio.NewReader(client)
}

func readLineWithin(t *testing.T, client net.Conn, br *bufio.Reader, d time.Duration) (string, error) {
	t.Helper()
	client.SetReadDeadline(time.Now().Add(d))
	defer client.SetReadDeadline(time.Time{})
	return br.ReadString('\n')
}

func TestStartIdleStopWaitsForWrite(t *testing.T) {
	c, client, br := pipeConn(t)
	mt := NewMailboxTracker(1)
	st := mt.NewSession()
	defer st.Close()

	// Queued before IDLE: written at once.
	mt.QueueNumMessages(2)
	stop, err := st.StartIdle(&UpdateWriter{conn: c, allowExpunge: true})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := readLineWithin(t, client, br, 10*time.Second); err != nil || l != "* 2 EXISTS\r\n" {
		t.Fatalf("queued before IDLE: %q, %v", l, err)
	}
	if _, err := st.StartIdle(&UpdateWriter{conn: c}); err == nil {
		t.Error("a second StartIdle succeeded")
	}

	// A write held by the reader: stop must wait for it.
	mt.QueueNumMessages(3)
	stopped := make(chan error, 1)
	time.Sleep(20 * time.Millisecond) // let the write begin
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("stop returned (%v) with a write in progress", err)
	case <-time.After(100 * time.Millisecond):
	}
	if l, err := readLineWithin(t, client, br, 10*time.Second); err != nil || l != "* 3 EXISTS\r\n" {
		t.Fatalf("during IDLE: %q, %v", l, err)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not return after the write")
	}

	// After stop, nothing is written until the next poll.
	mt.QueueNumMessages(4)
	if l, err := readLineWithin(t, client, br, 100*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("written after stop: %q, %v", l, err)
	}
	go st.Poll(&UpdateWriter{conn: c, allowExpunge: true}, true)
	if l, err := readLineWithin(t, client, br, 10*time.Second); err != nil || l != "* 4 EXISTS\r\n" {
		t.Fatalf("poll after IDLE: %q, %v", l, err)
	}

	// Idle may start again once stopped.
	stop, err = st.StartIdle(&UpdateWriter{conn: c, allowExpunge: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestStartIdleWriteError(t *testing.T) {
	c, client, _ := pipeConn(t)
	mt := NewMailboxTracker(1)
	st := mt.NewSession()
	defer st.Close()
	stop, err := st.StartIdle(&UpdateWriter{conn: c, allowExpunge: true})
	if err != nil {
		t.Fatal(err)
	}
	client.Close() // the client is gone: the next write fails
	mt.QueueNumMessages(2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st.mutex.Lock()
		failed := st.idle.err != nil
		st.mutex.Unlock()
		if failed || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mt.QueueNumMessages(3) // no writer starts after a failure
	if err := stop(); err == nil {
		t.Error("stop after a failed write: no error")
	}
}
