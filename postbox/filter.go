package postbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/junk"
	"github.com/sealpost/sealpost/seal"
	"github.com/sealpost/sealpost/sieve"
)

// filter.go: sorting a message in the moment between its arrival and its
// sealing, for one recipient: the spam engines (the account's own
// classifier, and the deployment's, e.g. rspamd) and then the account's
// active Sieve script (RFC 5228). The account's filter state (its key, its
// compiled script, its model) is opened with the deployment key and kept
// in memory only, for targetTTL. A script's failure never loses mail: the
// message is kept in INBOX (RFC 5228 2.10.6) and the owner is told.

// SpamVerdict is what a spam engine concludes.
type SpamVerdict int

// The verdicts, in order of severity.
const (
	SpamUnknown SpamVerdict = iota // the engine cannot tell (untrained)
	SpamHam
	SpamJunk   // file in Junk
	SpamReject // far above the threshold: refuse at DATA if every recipient says so
)

func (v SpamVerdict) String() string {
	return [...]string{"unknown", "ham", "junk", "reject"}[v]
}

// SpamResult is one engine's judgement of one message.
type SpamResult struct {
	Engine  string // "bayes", "rspamd"
	Score   float64
	Verdict SpamVerdict
}

// SpamEngine scores a message's content for one account before it is
// sealed. The postbox runs the account's own classifier (bayesEngine,
// over its sealed model) and, when configured, the deployment's engine
// (Options.Spam: rspamd), and takes the more severe verdict.
type SpamEngine interface {
	Score(ctx context.Context, acct sealpost.Account, env Envelope, msg []byte) (SpamResult, error)
}

// Bounds of what filtering reads of a message into memory.
const (
	scoreBytes = 256 << 10 // the classifier and rspamd see at most this
	// maxRedirectHops bounds how often a message is redirected: a copy
	// that already carries this many Delivered-To fields is kept, not
	// redirected again (RFC 5228 4.2: loops must be prevented).
	maxRedirectHops = 5
)

// filterState is what delivery uses of one account's filter.
type filterState struct {
	key     *seal.FilterKey
	script  *sieve.Script // nil: no active script
	model   *junk.Model   // nil: never trained
	junkKey junk.Key
	loaded  time.Time
}

// loadFilter returns the account's filter state, or nil when the account
// has none that delivery may open (NoServerFilter, no filter key).
func (s *Service) loadFilter(ctx context.Context, acct sealpost.Account) (*filterState, error) {
	const op = "postbox.loadFilter"
	now := time.Now()
	s.mu.Lock()
	st, ok := s.filters[acct.ID]
	s.mu.Unlock()
	if ok && now.Sub(st.loaded) < targetTTL {
		if st.key == nil {
			return nil, nil // remembered: no filter delivery may open
		}
		return st, nil
	}
	k, err := s.deliveryKey(ctx, acct)
	if errors.Is(errors.NotExist, err) {
		st = nil
	} else if err != nil {
		return nil, errors.E(op, err)
	} else {
		st = &filterState{key: k, junkKey: junk.Key(k.Derive("junk")), loaded: now}
		scripts, err := s.store.Objects(ctx, acct.ID, sealpost.ObjectSieveScript)
		if err != nil {
			return nil, errors.E(op, err)
		}
		for _, o := range scripts {
			if !o.Active {
				continue
			}
			src, err := k.OpenObject(objectBinding(acct.Address, o.Kind), o.Data)
			if err == nil {
				st.script, err = sieve.Compile(src)
			}
			if err != nil {
				// Stored scripts were compiled when saved: only a newer
				// program's stricter rules can get here. The kind only:
				// a compile error may quote the script, which is the
				// owner's data and never logged.
				s.log.Warn("active script unusable", "account", acct.ID, "kind", errors.KindOf(err).String())
			}
		}
		if o, err := s.store.Object(ctx, acct.ID, sealpost.ObjectJunkModel, ""); err == nil {
			if plain, err := k.OpenObject(objectBinding(acct.Address, o.Kind), o.Data); err == nil {
				m := new(junk.Model)
				if err := m.UnmarshalBinary(plain); err == nil {
					st.model = m
				}
			}
		} else if !errors.Is(errors.NotExist, err) {
			return nil, errors.E(op, err)
		}
	}
	tokens := 0
	if st != nil && st.model != nil {
		tokens = st.model.Stats().Tokens
	}
	s.mu.Lock()
	// Bounded in count and in the models' tokens (a full model is about
	// 8 MiB in memory): past either bound every state is dropped, to be
	// loaded again on the next delivery.
	if len(s.filters) >= maxCachedFilters || s.filterTokens+tokens > maxCachedTokens {
		clear(s.filters)
		s.filterTokens = 0
	}
	if old := s.filters[acct.ID]; old != nil && old.model != nil {
		s.filterTokens -= old.model.Stats().Tokens
	}
	if st == nil {
		s.filters[acct.ID] = &filterState{loaded: now} // remember "none" too
	} else {
		s.filters[acct.ID] = st
		s.filterTokens += tokens
	}
	s.mu.Unlock()
	return st, nil
}

// Bounds of the filter states delivery keeps in memory.
const (
	maxCachedFilters = 1024
	maxCachedTokens  = 4_000_000 // about 160 MiB of models
)

// copyPlan is where one recipient's copy goes.
type copyPlan struct {
	mbox  sealpost.MailboxID
	flags []sealpost.Flag
}

// recipientPlan is what filtering decided for one recipient.
type recipientPlan struct {
	copies    []copyPlan
	head      []byte   // header fields prepended to the filed copies
	redirects []string // addresses to re-send to (SRS, outbound queue)
	reject    string   // Sieve reject/ereject reason (RFC 5429)
	refuse    bool     // spam far above the threshold
	vacation  []byte   // a vacation reply to send (RFC 5230)
	errNote   string   // a script error to tell the owner about
}

// arrival is what filtering reads of a message once for all recipients.
type arrival struct {
	msg    Message
	head   []byte // the first scoreBytes of the message
	header []byte // the header section, from head
	spam   *SpamResult
}

// load reads the first scoreBytes of the message, once.
func (a *arrival) load() error {
	if a.head != nil {
		return nil
	}
	// One buffer of the size read (io.ReadAll would grow one through
	// several); a copy even of a message held in memory, as the spam
	// engines are handed it.
	n := min(a.msg.Size(), scoreBytes)
	var head []byte
	if b, ok := a.msg.(Bytes); ok {
		head = bytes.Clone(b[:n]) // not nil, even empty
	} else {
		head = make([]byte, n)
		m, err := io.ReadFull(a.msg.NewReader(), head)
		if err != nil && err != io.ErrUnexpectedEOF {
			return errors.E("postbox.arrival", errors.Internal, err)
		}
		head = head[:m]
	}
	a.head, a.header = head, head
	if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		a.header = head[:i+2]
	} else if i := bytes.Index(head, []byte("\n\n")); i >= 0 {
		a.header = head[:i+1]
	}
	return nil
}

// body returns a reader of the message's body, for Sieve's body test.
func (a *arrival) body() (io.Reader, error) {
	r := msgReader(a.msg)
	if _, err := io.CopyN(io.Discard, r, int64(len(a.header))); err != nil && err != io.EOF {
		return nil, err
	}
	return r, nil
}

func msgReader(m Message) io.Reader { return m.NewReader() }

// plan decides where a message goes for one recipient (rcpt as given in
// RCPT TO). With no filter state it is the default: INBOX, or Junk when
// the MX says so.
// runsFilters reports whether delivery to acct runs anything that reads the
// message: the account's script or classifier, or the deployment's spam
// engine (which judges every account's mail but the strictest mode's).
func (s *Service) runsFilters(ctx context.Context, acct sealpost.Account) (bool, error) {
	if acct.Settings.NoServerFilter {
		return false, nil
	}
	if s.opts.Spam != nil {
		return true, nil
	}
	st, err := s.loadFilter(ctx, acct)
	if err != nil {
		return false, err
	}
	return st != nil && (st.script != nil || st.model != nil), nil
}

func (s *Service) plan(ctx context.Context, t *target, env Envelope, rcpt string, a *arrival) (recipientPlan, error) {
	const op = "postbox.plan"
	st, err := s.loadFilter(ctx, t.acct)
	if err != nil {
		return recipientPlan{}, errors.E(op, err)
	}
	var p recipientPlan
	// The deployment's engine judges every account's mail but for those
	// that chose the strictest mode; the account's own classifier needs
	// its filter state.
	// Only mail from other servers is judged (env.Client is set by the
	// MX, not by submission nor by the server's own notices).
	fromMX := env.Client.IsValid()
	useSpam := fromMX && s.opts.Spam != nil && !t.acct.Settings.NoServerFilter
	if st != nil || useSpam {
		if err := a.load(); err != nil {
			return p, errors.E(op, err)
		}
	}
	verdict := SpamUnknown
	var results []SpamResult
	if fromMX && st != nil && st.model != nil {
		r, err := bayesEngine{s}.Score(ctx, t.acct, env, a.head)
		if err != nil {
			return p, errors.E(op, err)
		}
		results = append(results, r)
	}
	if useSpam {
		if a.spam == nil { // once per message, whatever the recipients
			r, err := s.opts.Spam.Score(ctx, t.acct, env, a.head)
			if err != nil {
				s.log.Warn("spam engine", "err", err)
				r = SpamResult{Engine: "error"}
			}
			a.spam = &r
		}
		if a.spam.Engine != "error" {
			results = append(results, *a.spam)
		}
	}
	for _, r := range results {
		verdict = max(verdict, r.Verdict)
		p.head = append(p.head, "X-Spam-Score: "...)
		p.head = strconv.AppendFloat(p.head, r.Score, 'f', 3, 64)
		p.head = append(append(append(p.head, " ("...), r.Engine...), ")\r\n"...)
	}
	if verdict >= SpamJunk {
		p.head = append(p.head, "X-Spam: Yes\r\n"...)
	}
	p.refuse = verdict == SpamReject
	junkUse := env.Junk || verdict >= SpamJunk
	keep := func(flags []sealpost.Flag) error {
		use := sealpost.UseInbox
		if junkUse {
			use = sealpost.UseJunk
		}
		mb, err := s.filing(ctx, t, use)
		if err != nil {
			return err
		}
		p.copies = append(p.copies, copyPlan{mbox: mb, flags: flags})
		return nil
	}
	if st == nil || st.script == nil {
		return p, keep(nil)
	}
	sp, err := st.script.Run(ctx, sieve.Envelope{From: env.From, To: rcpt},
		sieve.Message{Head: p.head, Header: a.header, Body: a.body, Size: a.msg.Size(), Date: s.opts.Now()})
	if err != nil {
		// RFC 5228 2.10.6: a failing script's message is kept.
		p.errNote = err.Error()
		s.log.Info("sieve script failed, message kept", "account", t.acct.ID, "err", err)
		return p, keep(nil)
	}
	for _, f := range sp.FileInto {
		mb, err := s.fileIntoMailbox(ctx, t, f.Mailbox, f.Create)
		if err != nil {
			p.errNote = fmt.Sprintf("fileinto %q: %v", f.Mailbox, err)
			sp.Keep = true
			continue
		}
		p.copies = append(p.copies, copyPlan{mbox: mb, flags: flagsOf(f.Flags)})
	}
	if sp.Reject != "" {
		p.reject = sp.Reject
		return p, nil
	}
	if sp.Keep || (len(p.copies) == 0 && !sp.Discard && len(sp.Redirects) == 0) {
		if err := keep(flagsOf(sp.KeepFlags)); err != nil {
			return p, errors.E(op, err)
		}
	}
	switch {
	case len(sp.Redirects) == 0:
	case junkUse:
		// Mail judged spam is not sent on (it would be our server
		// spamming the next hop): it stays in Junk.
		if len(p.copies) == 0 {
			if err := keep(nil); err != nil {
				return p, errors.E(op, err)
			}
		}
	case redirectHops(a.header) < maxRedirectHops:
		p.redirects = sp.Redirects
	case len(p.copies) == 0:
		p.errNote = "redirect loop: message kept"
		if err := keep(nil); err != nil {
			return p, errors.E(op, err)
		}
	}
	if sp.Vacation != nil && !junkUse {
		reply, err := s.vacationReply(ctx, st, t, env, rcpt, a, sp.Vacation)
		if err != nil {
			s.log.Warn("vacation", "account", t.acct.ID, "err", err)
		}
		p.vacation = reply
	}
	return p, nil
}

// redirectHops counts the Delivered-To fields of a header section, as
// redirecting adds one (RFC 5228 4.2's loop prevention).
func redirectHops(header []byte) int {
	return bytes.Count(bytes.ToLower(header), []byte("\ndelivered-to:"))
}

func flagsOf(names []string) []sealpost.Flag {
	var out []sealpost.Flag
	for _, n := range names {
		out = append(out, sealpost.Flag(n))
	}
	return out
}

// fileIntoMailbox resolves a Sieve fileinto target: "INBOX" in any case
// is INBOX; a missing mailbox is created with :create (RFC 5490 3.2),
// else an error (the message is then kept). The hidden hold mailbox is
// never a target.
func (s *Service) fileIntoMailbox(ctx context.Context, t *target, name string, create bool) (sealpost.MailboxID, error) {
	name = sealpost.CanonicalMailboxName(name)
	if hidden(name) {
		return 0, errors.E(errors.Permission, errors.Str("not a mailbox for filing"))
	}
	if name == sealpost.Inbox {
		return t.inbox, nil
	}
	mb, err := s.store.MailboxByName(ctx, t.acct.ID, name)
	if errors.Is(errors.NotExist, err) && create {
		if err := sealpost.CheckMailboxName(name); err != nil {
			return 0, err
		}
		q, _, qerr := s.limits(ctx, t.acct.Address)
		if qerr != nil {
			return 0, qerr
		}
		mb, err = s.store.CreateMailbox(ctx, t.acct.ID, name, "", q.Mailboxes)
		if errors.Is(errors.Exist, err) {
			mb, err = s.store.MailboxByName(ctx, t.acct.ID, name)
		}
	}
	if err != nil {
		return 0, err
	}
	return mb.ID, nil
}

// bayesEngine is each account's own classifier (package junk) as a
// SpamEngine: the model delivery opens with the account's filter key.
type bayesEngine struct{ s *Service }

var _ SpamEngine = bayesEngine{}

// Score scores msg with acct's model; SpamUnknown without one.
func (e bayesEngine) Score(ctx context.Context, acct sealpost.Account, _ Envelope, msg []byte) (SpamResult, error) {
	st, err := e.s.loadFilter(ctx, acct)
	if err != nil {
		return SpamResult{}, err
	}
	if st == nil || st.model == nil {
		return SpamResult{Engine: "bayes", Verdict: SpamUnknown}, nil
	}
	p := st.model.Score(st.junkKey, msg)
	return SpamResult{Engine: "bayes", Score: p, Verdict: bayesVerdict(st.model, p)}, nil
}

// bayesVerdict is the account classifier's verdict for p.
func bayesVerdict(m *junk.Model, p float64) SpamVerdict {
	switch m.Verdict(p) {
	case junk.Reject:
		return SpamReject
	case junk.Junk:
		return SpamJunk
	case junk.Ham:
		return SpamHam
	}
	return SpamUnknown
}
