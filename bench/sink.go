package bench

import (
	"context"
	"io"
	"log"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/errors"
)

// SinkOptions configure RunSink.
type SinkOptions struct {
	Addr     string        // where to listen, host:port
	Messages int           // how many messages to wait for
	Timeout  time.Duration // bound on the wait; 0 means DefaultTimeout
}

// RunSink is the far end of a delivery benchmark: an SMTP server that
// takes every message and throws it away, counting. It returns once
// Messages have arrived (or on timeout, or when ctx ends), with the rate
// measured from the first message's arrival to the last's, so that the
// same sink times any MTA that delivers to it (Postfix relaying to it,
// Sealpost's delivery service) the same way.
func RunSink(ctx context.Context, o SinkOptions) (Result, error) {
	const op = "bench.RunSink"
	if o.Messages < 1 {
		return Result{}, errors.E(op, errors.Invalid, errors.Str("--messages must be at least 1"))
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return Result{}, errors.E(op, errors.Unavailable, err)
	}
	s := &sink{want: o.Messages, done: make(chan struct{})}
	srv := smtp.NewServer(s)
	srv.Domain = "sink.bench.test"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes = 1 << 30
	srv.ErrorLog = log.New(io.Discard, "", 0)
	go srv.Serve(ln)
	defer func() {
		// Let the sender read the last 250s and say QUIT: closing at
		// once would fail the messages still in flight, and the sender
		// would retry them much later.
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()
	r := Result{Phase: "sink", Unit: "messages"}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	select {
	case <-s.done:
	case <-ctx.Done():
		r.TimedOut = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Ops, r.Bytes = s.n, s.bytes
	if s.n > 0 {
		r.Elapsed = s.last.Sub(s.first)
	}
	return r, nil
}

// sink is the backend of RunSink.
type sink struct {
	want int
	done chan struct{}

	mu          sync.Mutex
	n           int
	bytes       int64
	first, last time.Time
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return sinkSession{s}, nil }

type sinkSession struct{ s *sink }

func (sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (sinkSession) Reset()                               {}
func (sinkSession) Logout() error                        { return nil }

func (ss sinkSession) Data(r io.Reader) error {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return err
	}
	s := ss.s
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		s.first = now
	}
	s.n++
	s.bytes += n
	s.last = now
	if s.n == s.want {
		close(s.done)
	}
	return nil
}
