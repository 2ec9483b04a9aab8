package bench

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/sealpost/sealpost/errors"
)

// IMAPOp names the operation RunIMAP measures.
type IMAPOp string

// The IMAP operations.
const (
	OpFetch  IMAPOp = "fetch"  // UID FETCH (BODY.PEEK[]) of the whole mailbox
	OpSearch IMAPOp = "search" // UID SEARCH BODY word, Repeat times
	OpIdle   IMAPOp = "idle"   // hold IdleConns connections in IDLE
	// OpSession runs whole sessions back to back for Hold (login, select,
	// fetch, store, append, expunge, logout: runSession).
	OpSession IMAPOp = "session"
	OpNone    IMAPOp = "none" // nothing beyond --fill
)

// IMAPOptions configure RunIMAP. Options.Messages and Options.Size apply to
// Fill only.
type IMAPOptions struct {
	Options
	Mailbox   string        // mailbox to fill, fetch and search; default "INBOX"
	Fill      bool          // first APPEND Messages messages of Size bytes
	From      string        // sender of filled messages; default "bench@example.com"
	Op        IMAPOp        // what to measure; default OpFetch
	Word      string        // word for OpSearch; default SearchWord
	Repeat    int           // searches in total for OpSearch; default 100
	IdleConns int           // connections for OpIdle; default 100
	Hold      time.Duration // how long OpIdle holds them, OpSession runs; default 10s
	PID       int           // server process whose VmRSS OpIdle reports; 0 for none
}

func (o *IMAPOptions) check(op string) error {
	if err := o.Options.check(op); err != nil {
		return err
	}
	if o.User == "" {
		return errors.E(op, errors.Invalid, errors.Str("IMAP needs --user"))
	}
	if o.Mailbox == "" {
		o.Mailbox = "INBOX"
	}
	if o.From == "" {
		o.From = "bench@example.com"
	}
	if o.Op == "" {
		o.Op = OpFetch
	}
	switch o.Op {
	case OpFetch, OpSearch, OpIdle, OpSession:
	case OpNone:
		if !o.Fill {
			return errors.E(op, errors.Invalid, errors.Str("--op none does nothing without --fill"))
		}
	default:
		return errors.E(op, errors.Invalid, errors.Errorf("unknown --op %q (fetch, search, idle, session, none)", o.Op))
	}
	if o.Word == "" {
		o.Word = SearchWord
	}
	if o.Repeat < 1 {
		o.Repeat = 100
	}
	if o.IdleConns < 1 {
		o.IdleConns = 100
	}
	if o.Hold <= 0 {
		o.Hold = 10 * time.Second
	}
	return nil
}

// RunIMAP runs the IMAP benchmark o describes and writes its report to w
// (text or JSON per o.JSON; w may be nil).
//
// With o.Fill it first appends o.Messages messages of o.Size bytes to
// o.Mailbox over o.Concurrency connections; that phase is returned as
// Result.Fill. Then, per o.Op:
//
//   - OpFetch: o.Concurrency connections EXAMINE the mailbox (read-only, so
//     no \Seen flags change) and the mailbox's UIDs are split into that many
//     contiguous ranges, one per connection, each fetched with one
//     UID FETCH range (BODY.PEEK[]). Every message is fetched exactly once,
//     so Ops and Bytes are the mailbox's message count and total size. Bodies
//     are counted as they stream in, never held. Each latency is one
//     connection's whole fetch; elapsed runs from the first command to the
//     last reply, after the connections are set up.
//   - OpSearch: o.Repeat UID SEARCH BODY o.Word commands spread over
//     o.Concurrency connections; one latency per search.
//   - OpIdle: see runIdle.
//   - OpSession: see runSession.
//
// The error is non-nil if the options are invalid, if setup fails (no
// connection could log in, the mailbox cannot be opened), or if every
// operation failed.
func RunIMAP(ctx context.Context, o IMAPOptions, w io.Writer) (*Result, error) {
	const op = "bench.RunIMAP"
	if err := o.check(op); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	var fill *Result
	if o.Fill {
		var err error
		if fill, err = runFill(ctx, &o); err != nil {
			return nil, errors.E(op, err)
		}
	}
	var res *Result
	var err error
	switch o.Op {
	case OpNone:
		res, fill = fill, nil
	case OpFetch:
		res, err = runFetch(ctx, &o)
	case OpSearch:
		res, err = runSearch(ctx, &o)
	case OpIdle:
		res, err = runIdle(ctx, &o)
	case OpSession:
		res, err = runSession(ctx, &o)
	}
	if err != nil {
		if fill != nil {
			fill.write(w, o.JSON)
		}
		return fill, errors.E(op, err)
	}
	res.Fill = fill
	if err := res.write(w, o.JSON); err != nil {
		return res, errors.E(op, errors.Internal, err)
	}
	if fill != nil {
		if err := allFailed(op, fill); err != nil {
			return res, err
		}
	}
	return res, allFailed(op, res)
}

// imapConn is one logged-in client and the hook that closes it when the
// run's context ends.
type imapConn struct {
	c    *imapclient.Client
	stop func() bool
}

// close logs out (if graceful) and closes the connection.
func (ic *imapConn) close(graceful bool) {
	if graceful {
		ic.c.Logout().Wait()
	}
	ic.stop()
	ic.c.Close()
}

// closed reports whether the connection has gone away.
func (ic *imapConn) closed() bool {
	select {
	case <-ic.c.Closed():
		return true
	default:
		return false
	}
}

// openIMAP connects, upgrades with STARTTLS if asked (RFC 9051 6.2.1), logs
// in (RFC 9051 6.2.3) and, if mailbox is not empty, opens it: read-only with
// EXAMINE if readOnly, otherwise with SELECT.
func openIMAP(ctx context.Context, o *IMAPOptions, mailbox string, readOnly bool) (*imapConn, error) {
	conn, stop, err := o.dial(ctx, "imap")
	if err != nil {
		return nil, err
	}
	var c *imapclient.Client
	if o.StartTLS {
		c, err = imapclient.NewStartTLS(conn, &imapclient.Options{TLSConfig: o.tlsConfig()})
		if err != nil {
			stop()
			conn.Close()
			return nil, err
		}
	} else {
		c = imapclient.New(conn, nil)
	}
	ic := &imapConn{c: c, stop: stop}
	if err := c.Login(o.User, o.Pass).Wait(); err != nil {
		ic.close(false)
		return nil, err
	}
	if mailbox != "" {
		if _, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: readOnly}).Wait(); err != nil {
			ic.close(true)
			return nil, err
		}
	}
	return ic, nil
}

// openAll opens n connections, at most par at a time, and calls ready (if
// not nil) on each. It returns the live connections and a recorder holding
// one failure per connection that could not be opened or made ready; the
// latency recorded for each success is its setup time, ready included.
func openAll(ctx context.Context, o *IMAPOptions, n, par int, mailbox string, readOnly bool, ready func(*imapConn) error) ([]*imapConn, *recorder) {
	conns := make([]*imapConn, n)
	errs := make([]error, n)
	lat := make([]time.Duration, n)
	sem := make(chan struct{}, max(par, 1))
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			start := time.Now()
			ic, err := openIMAP(ctx, o, mailbox, readOnly)
			if err == nil && ready != nil {
				if err = ready(ic); err != nil {
					ic.close(false)
				}
			}
			conns[i], errs[i], lat[i] = ic, err, time.Since(start)
		})
	}
	wg.Wait()
	rec := &recorder{}
	live := conns[:0]
	for i, ic := range conns {
		if errs[i] != nil {
			rec.fail(errs[i])
			continue
		}
		rec.ok(lat[i], 0)
		live = append(live, ic)
	}
	return live, rec
}

// setupFailures adds the connections that could not be opened to r's errors;
// their setup times are not latencies of the measured operation.
func (r *Result) setupFailures(setup *recorder) {
	r.Errors += setup.errs
	if r.FirstErr == "" && setup.firstErr != nil {
		r.FirstErr = setup.firstErr.Error()
	}
}

func closeAll(conns []*imapConn, graceful bool) {
	var wg sync.WaitGroup
	for _, ic := range conns {
		wg.Go(func() { ic.close(graceful) })
	}
	wg.Wait()
}

// setupErr explains why no connection could be opened.
func setupErr(rec *recorder) error {
	if rec.firstErr != nil {
		return errors.E(errors.Unavailable, rec.firstErr)
	}
	return errors.E(errors.Unavailable, errors.Str("no connection opened"))
}

// runFill appends o.Messages messages to o.Mailbox over o.Concurrency
// connections; one latency per APPEND (RFC 9051 6.3.12).
func runFill(ctx context.Context, o *IMAPOptions) (*Result, error) {
	n := min(o.Concurrency, max(o.Messages, 1))
	conns, setup := openAll(ctx, o, n, n, "", false, nil)
	if len(conns) == 0 {
		return nil, setupErr(setup)
	}
	if !strings.EqualFold(o.Mailbox, "INBOX") {
		conns[0].c.Create(o.Mailbox, nil).Wait() // it may exist already
	}
	to := o.User
	if !strings.Contains(to, "@") {
		to += "@localhost"
	}
	recs := make([]*recorder, len(conns))
	start := time.Now()
	var wg sync.WaitGroup
	for wk, ic := range conns {
		lo, hi := span(o.Messages, len(conns), wk)
		recs[wk] = &recorder{}
		wg.Go(func() { appendWorker(ctx, o, ic, lo, hi, to, recs[wk]) })
	}
	wg.Wait()
	res := &Result{
		Phase: phaseAppend, Unit: "messages", Elapsed: time.Since(start),
		LatencyOf: "one APPEND", TimedOut: ctx.Err() != nil,
	}
	res.merge(recs)
	res.setupFailures(setup)
	return res, nil
}

// appendWorker appends messages lo..hi-1, reconnecting if the connection
// drops, and closes its connection at the end.
func appendWorker(ctx context.Context, o *IMAPOptions, ic *imapConn, lo, hi int, to string, rec *recorder) {
	dialFailures := 0
	for i := lo; i < hi && ctx.Err() == nil; i++ {
		if ic == nil {
			var err error
			if ic, err = openIMAP(ctx, o, "", false); err != nil {
				if ctx.Err() != nil {
					return
				}
				rec.fail(err)
				if dialFailures++; dialFailures >= maxDialFailures {
					rec.errs += hi - i - 1
					return
				}
				continue
			}
			dialFailures = 0
		}
		msg := Message(i, o.Size, o.From, to)
		start := time.Now()
		cmd := ic.c.Append(o.Mailbox, int64(len(msg)), nil)
		_, werr := cmd.Write(msg)
		cerr := cmd.Close()
		_, err := cmd.Wait()
		if err == nil {
			err = werr
		}
		if err == nil {
			err = cerr
		}
		if err == nil {
			rec.ok(time.Since(start), int64(len(msg)))
			continue
		}
		if ctx.Err() != nil {
			break
		}
		rec.fail(err)
		if ic.closed() {
			ic.close(false)
			ic = nil
		}
	}
	if ic != nil {
		ic.close(ctx.Err() == nil)
	}
}

// runFetch fetches every message of o.Mailbox once, split over
// o.Concurrency connections (see RunIMAP).
func runFetch(ctx context.Context, o *IMAPOptions) (*Result, error) {
	conns, setup := openAll(ctx, o, o.Concurrency, o.Concurrency, o.Mailbox, true, nil)
	if len(conns) == 0 {
		return nil, setupErr(setup)
	}
	defer func() { closeAll(conns, ctx.Err() == nil) }()

	// UID SEARCH UID 1:* lists the mailbox's UIDs (RFC 9051 6.4.4).
	var all imap.UIDSet
	all.AddRange(1, 0)
	data, err := conns[0].c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{all}}, nil).Wait()
	if err != nil {
		return nil, errors.E(errors.Unavailable, err)
	}
	uids := data.AllUIDs()
	if len(uids) == 0 {
		return nil, errors.E(errors.NotExist, errors.Errorf("mailbox %q is empty; add messages with --fill", o.Mailbox))
	}
	slices.Sort(uids)

	n := min(len(conns), len(uids))
	recs := make([]*recorder, n)
	start := time.Now()
	var wg sync.WaitGroup
	for wk := range n {
		lo, hi := span(len(uids), n, wk)
		var set imap.UIDSet
		set.AddRange(uids[lo], uids[hi-1])
		recs[wk] = &recorder{}
		wg.Go(func() { fetchRange(conns[wk], set, recs[wk]) })
	}
	wg.Wait()
	res := &Result{
		Phase: phaseFetch, Unit: "messages", Elapsed: time.Since(start),
		LatencyOf: "one connection's whole UID FETCH", TimedOut: ctx.Err() != nil,
	}
	res.merge(recs)
	res.setupFailures(setup)
	// One latency per connection, but Ops counts messages.
	return res, nil
}

// fetchRange runs one UID FETCH set (UID BODY.PEEK[]) and counts the messages
// and body bytes received, streaming each body to io.Discard. A failed
// command counts as one error.
func fetchRange(ic *imapConn, set imap.UIDSet, rec *recorder) {
	start := time.Now()
	cmd := ic.c.Fetch(set, &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	var msgs int
	var total int64
	var copyErr error
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		got := false
		for item := msg.Next(); item != nil; item = msg.Next() {
			body, ok := item.(imapclient.FetchItemDataBodySection)
			if !ok || body.Literal == nil {
				continue
			}
			n, err := io.Copy(io.Discard, body.Literal)
			total += n
			if err != nil && copyErr == nil {
				copyErr = err
			}
			got = true
		}
		if got {
			msgs++
		}
	}
	err := cmd.Close()
	if err == nil {
		err = copyErr
	}
	d := time.Since(start)
	rec.ops += msgs
	rec.bytes += total
	if err != nil {
		rec.fail(err)
		return
	}
	rec.lat = append(rec.lat, d)
}

// runSearch runs o.Repeat UID SEARCH BODY o.Word commands (RFC 9051 6.4.4)
// spread over o.Concurrency connections.
func runSearch(ctx context.Context, o *IMAPOptions) (*Result, error) {
	n := min(o.Concurrency, o.Repeat)
	conns, setup := openAll(ctx, o, n, n, o.Mailbox, true, nil)
	if len(conns) == 0 {
		return nil, setupErr(setup)
	}
	defer func() { closeAll(conns, ctx.Err() == nil) }()

	recs := make([]*recorder, len(conns))
	matches := make([]int, len(conns))
	criteria := &imap.SearchCriteria{Body: []string{o.Word}}
	start := time.Now()
	var wg sync.WaitGroup
	for wk, ic := range conns {
		lo, hi := span(o.Repeat, len(conns), wk)
		recs[wk] = &recorder{}
		wg.Go(func() {
			for range hi - lo {
				if ctx.Err() != nil {
					return
				}
				t := time.Now()
				data, err := ic.c.UIDSearch(criteria, nil).Wait()
				if err != nil {
					if ctx.Err() == nil {
						recs[wk].fail(err)
					}
					continue
				}
				recs[wk].ok(time.Since(t), 0)
				matches[wk] = len(data.AllUIDs())
			}
		})
	}
	wg.Wait()
	res := &Result{
		Phase: phaseSearch, Unit: "searches", Elapsed: time.Since(start),
		LatencyOf: "one UID SEARCH", TimedOut: ctx.Err() != nil,
		Matches: slices.Max(matches),
	}
	res.merge(recs)
	res.setupFailures(setup)
	return res, nil
}
