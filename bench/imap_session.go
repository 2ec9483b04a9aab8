package bench

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
)

// sessionCommands are the commands of one session of runSession, counted
// as its operations: LOGIN, SELECT, FETCH, STORE, APPEND, STORE, UID
// EXPUNGE, LOGOUT.
const sessionCommands = 8

// runSession runs whole mail-client sessions back to back on each of
// o.Concurrency workers for o.Hold, the login-heavy mix of the issue's
// benchmark (in the spirit of Dovecot's imaptest): connect, LOGIN, SELECT,
// FETCH the flags, size and envelope of the first 10 messages, mark the
// first \Seen, APPEND a message of o.Size bytes, mark it \Deleted,
// UID EXPUNGE it (RFC 4315), LOGOUT; so the mailbox keeps its size. The
// messages read are the oldest, which no session expunges: the newest are
// other sessions' own, expunged at any moment, and a server may answer a
// FETCH of a message another session just expunged with NO
// [EXPUNGEISSUED] (RFC 2180 4.1.2, RFC 5530), which is not what this
// measures. Ops counts sessions, Commands their commands; one latency per
// session; Logins the sessions that logged in.
func runSession(ctx context.Context, o *IMAPOptions) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Hold)
	defer cancel()
	end, _ := ctx.Deadline()
	// over: the run has ended, by its context or by the clock (under load
	// the context's timer may fire after a dial has already failed on the
	// same deadline, and every dial in that gap fails at once).
	over := func() bool { return ctx.Err() != nil || !time.Now().Before(end) }
	to := o.User
	if !strings.Contains(to, "@") {
		to += "@localhost"
	}
	recs := make([]*recorder, o.Concurrency)
	var logins, seq atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range o.Concurrency {
		recs[w] = &recorder{}
		wg.Go(func() {
			for !over() {
				t := time.Now()
				n, err := oneSession(ctx, o, Message(int(seq.Add(1)), o.Size, o.From, to))
				if n > 0 {
					logins.Add(1)
				}
				if over() && err != nil {
					return // cut short by the end of the run: not counted
				}
				if err != nil {
					recs[w].fail(err)
					continue
				}
				recs[w].ok(time.Since(t), 0)
			}
		})
	}
	wg.Wait()
	res := &Result{Phase: phaseSession, Unit: "sessions", Elapsed: time.Since(start), LatencyOf: "one whole session"}
	res.merge(recs)
	res.Logins = int(logins.Load())
	res.Commands = res.Ops * sessionCommands
	return res, nil
}

// oneSession runs one session; n is 1 once it has logged in.
func oneSession(ctx context.Context, o *IMAPOptions, msg []byte) (n int, err error) {
	ic, err := openIMAP(ctx, o, "", false)
	if err != nil {
		return 0, err
	}
	defer func() { ic.close(err == nil) }()
	c := ic.c
	sel, err := c.Select(o.Mailbox, nil).Wait()
	if err != nil {
		return 1, err
	}
	if sel.NumMessages > 0 {
		var first imap.SeqSet
		first.AddRange(1, min(10, sel.NumMessages))
		if _, err := c.Fetch(first, &imap.FetchOptions{Flags: true, RFC822Size: true, Envelope: true, UID: true}).Collect(); err != nil {
			return 1, err
		}
		if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
			return 1, err
		}
	}
	cmd := c.Append(o.Mailbox, int64(len(msg)), nil)
	if _, err := cmd.Write(msg); err != nil {
		return 1, err
	}
	if err := cmd.Close(); err != nil {
		return 1, err
	}
	data, err := cmd.Wait()
	if err != nil {
		return 1, err
	}
	uid := imap.UIDSetNum(data.UID)
	if err := c.Store(uid, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return 1, err
	}
	if err := c.UIDExpunge(uid).Close(); err != nil {
		return 1, err
	}
	return 1, nil
}
