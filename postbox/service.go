// Package postbox owns the sealed mailboxes of one region: it delivers mail
// into them (sealing each copy to its owner's public key before it reaches
// the BlobStore), opens them for their owner (unlocking the owner's key for
// that session only), and keeps the live state of selected mailboxes that
// IMAP sessions share.
//
// The protocol servers (smtpserver, imapserver) reach storage only through
// this package; it reaches storage only through the sealpost.Store and
// sealpost.BlobStore interfaces.
package postbox

import (
	"cmp"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/authguard"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/seal"
	"github.com/sealpost/sealpost/srs"
)

// Options configures a Service.
type Options struct {
	// Params are the Argon2id parameters for new passwords.
	Params pwhash.Params
	// MaxMessageSize bounds a message's size in bytes (0: 64 MiB).
	MaxMessageSize int64
	// QueueKey seals messages in the outbound queue. Required to Enqueue.
	QueueKey sealpost.Sealer
	// Logger receives structured logs; it never gets content or secrets.
	Logger *slog.Logger
	// Now returns the current time (tests may fix it).
	Now func() time.Time
	// Logins is the fair queue that Argon2id derivations wait in, each
	// taking Params.MemoryKiB of memory; one queue may serve every
	// region's postbox. Nil: a queue of its own, MaxConcurrentLogins at
	// once (0: 2). A login's place in it is its client's source address
	// (sealpost.ClientFrom).
	Logins              *authguard.Queue
	MaxConcurrentLogins int
	// AuthCacheTime is how long an account's unlocked keys outlive its
	// last session (authcache.go); 0 wipes them when it closes.
	AuthCacheTime time.Duration
	// Quota is every account's default limits (0: none); an account's
	// own override wins (quota.go).
	Quota sealpost.Quota
	// ExpungeGrace is how long an expunged message's sealed bytes stay
	// readable by sessions not yet told of the expunge (reaper.go; 0:
	// DefaultExpungeGrace, negative: none).
	ExpungeGrace time.Duration
	// DeploymentKey opens the region's deployment key (the private half
	// of QueueKey), with which delivery opens the accounts' filter keys
	// (filterkey.go). Nil: no Sieve script runs and no content is scored
	// here.
	DeploymentKey func() (*seal.Unlocked, error)
	// Spam is the deployment's spam engine beside each account's own
	// classifier (rspamd; filter.go); nil for none.
	Spam SpamEngine
	// SRS rewrites the sender of redirected mail (followup.go); nil: the
	// redirecting account's own address is the sender.
	SRS *srs.Key
}

var _ sealpost.Sealer = (*seal.Recipient)(nil)

// Service is the postbox of one region. It is safe for concurrent use.
type Service struct {
	store sealpost.Store
	blobs sealpost.BlobStore
	opts  Options
	log   *slog.Logger

	logins       *authguard.Queue
	releasing    atomic.Bool  // a releaseKDFMemory is pending
	lastDerive   atomic.Int64 // unix nanoseconds of the last derivation
	checkGarbage atomic.Int64 // bytes of cache checks since the last release

	mu          sync.Mutex
	live        map[sealpost.MailboxID]*Mailbox
	recipients  map[sealpost.KeyID]*seal.Recipient
	unlocked    map[sealpost.AccountID]*unlockedAccount
	targets     map[string]*target
	domains     domainCache
	loginKey    [32]byte // random, in memory only: salts passwordCheck
	cachedCount int      // unlocked accounts with no session open
	nobody      nobody

	recent    recentMarks // \Recent watermarks of mailboxes not live
	orphans   orphanSubs  // subscriptions of deleted mailboxes
	sk        *sessionKeyWriter
	reaper    *reaper
	windows   windows // delivery windows (window.go)
	onEnqueue atomic.Pointer[func()]

	filterKeys   map[sealpost.AccountID]*seal.FilterKey // delivery's, filterkey.go
	filters      map[sealpost.AccountID]*filterState    // filter.go
	filterTokens int                                    // tokens of the models in filters
	trainMu      sync.Mutex                             // one training at a time (train.go)
	vacMu        sync.Mutex                             // one vacation memory update at a time
	scriptNotes  map[sealpost.AccountID]time.Time       // followup.go
	relay        Relay                                  // followup.go
}

// New returns a Service over the given stores.
func New(store sealpost.Store, blobs sealpost.BlobStore, opts Options) *Service {
	if opts.MaxMessageSize == 0 {
		opts.MaxMessageSize = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = mlog.Discard()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logins == nil {
		opts.Logins = authguard.NewQueue(authguard.QueueOptions{Concurrency: cmp.Or(opts.MaxConcurrentLogins, 2)})
	}
	if opts.Params == (pwhash.Params{}) {
		opts.Params = pwhash.DefaultParams
	}
	if opts.ExpungeGrace == 0 {
		opts.ExpungeGrace = DefaultExpungeGrace
	}
	s := &Service{
		store:      store,
		blobs:      blobs,
		opts:       opts,
		log:        opts.Logger,
		logins:     opts.Logins,
		live:       make(map[sealpost.MailboxID]*Mailbox),
		recipients: make(map[sealpost.KeyID]*seal.Recipient),
		unlocked:   make(map[sealpost.AccountID]*unlockedAccount),
		targets:    make(map[string]*target),
		filterKeys: make(map[sealpost.AccountID]*seal.FilterKey),
		filters:    make(map[sealpost.AccountID]*filterState),
	}
	rand.Read(s.loginKey[:])
	s.windows.now = opts.Now
	s.sk = newSessionKeyWriter(store, opts.Logger)
	s.reaper = newReaper(opts.ExpungeGrace, time.Now, s.deleteBlobs, opts.Logger)
	return s
}

// Close stops background work, flushing cached session keys.
func (s *Service) Close() error {
	s.reaper.close()
	s.sk.close()
	s.windows.wipe()
	s.wipeCache()
	return nil
}

// Store returns the underlying metadata store, for administration commands.
func (s *Service) Store() sealpost.Store { return s.store }

// MaxMessageSize is the configured size limit.
func (s *Service) MaxMessageSize() int64 { return s.opts.MaxMessageSize }

// IsHostedDomain reports whether mail for domain is accepted here.
func (s *Service) IsHostedDomain(ctx context.Context, domain string) (bool, error) {
	return s.hostedDomain(ctx, sealpost.NormalizeAddress(domain))
}

// LookupAccount returns the account for a (not necessarily normalized)
// address, or a NotExist error.
func (s *Service) LookupAccount(ctx context.Context, addr string) (sealpost.Account, error) {
	return s.store.Account(ctx, sealpost.NormalizeAddress(addr))
}

// derive runs f, which performs an Argon2id derivation, in its turn in
// the login queue, so that concurrent logins cannot exhaust memory and a
// flood from one address does not hold up others. It fails with
// errors.Unavailable if the queue refuses it or ctx ends first.
func (s *Service) derive(ctx context.Context, f func() error) error {
	return s.logins.Do(ctx, sealpost.ClientFrom(ctx).Source, func() error {
		defer s.releaseKDFMemory()
		return f()
	})
}

// releaseKDFMemory returns the Argon2id work areas (Params.MemoryKiB each,
// and the cache checks' 1 MiB) to the operating system once derivations
// have been quiet for a second.
// Left to the runtime's background scavenger, a burst of logins keeps
// hundreds of megabytes resident long after the memory is garbage; waiting
// for quiet keeps the forced collection off the sessions that just logged
// in and are now fetching.
func (s *Service) releaseKDFMemory() {
	s.lastDerive.Store(time.Now().UnixNano())
	if !s.releasing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.releasing.Store(false)
		for {
			quiet := time.Since(time.Unix(0, s.lastDerive.Load()))
			if quiet >= kdfQuiet && s.logins.Busy() == 0 {
				s.checkGarbage.Store(0)
				debug.FreeOSMemory()
				return
			}
			time.Sleep(max(kdfQuiet-quiet, 50*time.Millisecond))
		}
	}()
}

const kdfQuiet = time.Second

// Authenticate checks an address and password without unlocking any key, as
// SMTP submission needs: against the authentication cache if the account
// is there, else with the full derivation. A wrong address and a wrong
// password give the same Permission error, after the same work.
func (s *Service) Authenticate(ctx context.Context, addr, password string) (sealpost.Account, error) {
	const op = "postbox.Authenticate"
	acct, err := s.LookupAccount(ctx, addr)
	if errors.Is(errors.NotExist, err) {
		return sealpost.Account{}, errors.E(op, s.CheckNobody(ctx, password))
	} else if err != nil {
		return sealpost.Account{}, errors.E(op, err)
	}
	check := s.passwordCheck(acct, password)
	s.mu.Lock()
	ua := s.cachedLocked(acct, check, false)
	s.mu.Unlock()
	if ua != nil {
		return acct, nil
	}
	var secret *seal.Secret
	err = s.derive(ctx, func() error {
		var err error
		secret, err = seal.CheckPassword(acct.PasswordVerifier, password)
		return err
	})
	if errors.Is(errors.Unavailable, err) {
		return sealpost.Account{}, errors.E(op, err)
	} else if err != nil {
		return sealpost.Account{}, errors.E(op, errors.Permission, err)
	}
	secret.Wipe()
	return acct, nil
}

// recipient returns the parsed public key of a key generation.
func (s *Service) recipient(ctx context.Context, acct sealpost.AccountID) (sealpost.KeyID, *seal.Recipient, []byte, error) {
	const op = "postbox.recipient"
	keys, err := s.store.Keys(ctx, acct)
	if err != nil {
		return 0, nil, nil, errors.E(op, err)
	}
	for _, k := range keys {
		if !k.Active {
			continue
		}
		s.mu.Lock()
		r := s.recipients[k.ID]
		s.mu.Unlock()
		if r == nil {
			r, err = seal.ParseRecipient(k.PublicKey)
			if err != nil {
				return 0, nil, nil, errors.E(op, errors.Internal, err)
			}
			s.mu.Lock()
			s.recipients[k.ID] = r
			s.mu.Unlock()
		}
		return k.ID, r, k.PublicKey, nil
	}
	return 0, nil, nil, errors.E(op, errors.Internal, errors.Str("account has no active key"))
}

// sealFor seals msg to the account's active key and stores the blob
// durably. For an own-key account the stored form is PGP/MIME (RFC 3156),
// which the owner's client decrypts, and the returned key ID is 0.
func (s *Service) sealFor(ctx context.Context, acct sealpost.Account, msg Message, from string) (sealpost.BlobRef, sealpost.KeyID, int64, error) {
	keyID, r, _, err := s.recipient(ctx, acct.ID)
	if err != nil {
		return "", 0, 0, err
	}
	return s.putSealed(ctx, acct, keyID, r, msg, from)
}

// Envelope is the SMTP envelope of a delivery.
type Envelope struct {
	From       string   // reverse path, may be ""
	Recipients []string // local recipients, already checked with LookupAccount
	// Junk files the message in each recipient's Junk mailbox instead of
	// INBOX: the MX quarantines it (DMARC p=quarantine, RFC 7489 6.3).
	Junk bool
	// Notice marks the server's own notice (a delivery status
	// notification, a legal notice): filed even over quota (quota.go).
	Notice bool
	// Client is the SMTP client's address and Helo its EHLO name, for
	// the spam engines (zero when the message did not come over SMTP).
	Client netip.Addr
	Helo   string
}

// Use is the special use of the mailbox the delivery goes to: UseJunk or
// UseInbox.
func (e Envelope) Use() sealpost.SpecialUse {
	if e.Junk {
		return sealpost.UseJunk
	}
	return sealpost.UseInbox
}

// Deliver seals msg to each recipient and files it where the recipient's
// filter puts it (filter.go: the spam engines, then the account's Sieve
// script), by default in their INBOX (or Junk, with env.Junk). When it
// returns nil every copy is durable, and so is every message the filters
// send on (redirects, vacation replies, rejections), queued or filed.
// Each copy gets its own sealed blob, sealed as msg is read.
//
// When the filters refuse the message for every recipient (a Sieve
// reject, or spam far above the threshold) nothing is filed and the error
// carries a *Refusal for the SMTP reply.
func (s *Service) Deliver(ctx context.Context, env Envelope, msg Message) error {
	const op = "postbox.Deliver"
	if msg.Size() > s.opts.MaxMessageSize {
		return errors.E(op, errors.TooLarge)
	}
	now := s.opts.Now()
	a := &arrival{msg: msg}
	type planned struct {
		t    *target
		rcpt string
		p    recipientPlan
	}
	var plans []planned
	seen := make(map[sealpost.AccountID]bool)
	refusals := 0
	for _, rcpt := range env.Recipients {
		t, err := s.target(ctx, sealpost.NormalizeAddress(rcpt))
		if err != nil {
			return errors.E(op, err)
		}
		if seen[t.acct.ID] {
			continue
		}
		seen[t.acct.ID] = true
		p, err := s.plan(ctx, t, env, rcpt, a)
		if err != nil {
			return errors.E(op, err)
		}
		if p.reject != "" || p.refuse {
			refusals++
		}
		plans = append(plans, planned{t, rcpt, p})
	}
	if refusals > 0 && refusals == len(plans) {
		reason := "message refused as spam"
		if plans[0].p.reject != "" {
			reason = plans[0].p.reject
		}
		return errors.E(op, errors.Permission, &Refusal{Reason: reason})
	}
	var msgs []sealpost.NewMessage
	for _, pl := range plans {
		if pl.p.reject != "" {
			continue // told to the sender below
		}
		copyMsg := Message(msg)
		if len(pl.p.head) > 0 {
			copyMsg = prefixed{head: pl.p.head, m: msg}
		}
		for _, c := range pl.p.copies {
			ref, keyID, size, err := s.putSealed(ctx, pl.t.acct, pl.t.keyID, pl.t.r, copyMsg, env.From)
			if err != nil {
				s.deleteBlobs(ctx, blobsOf(msgs))
				return errors.E(op, err)
			}
			msgs = append(msgs, sealpost.NewMessage{
				Mailbox: c.mbox, Flags: c.flags, InternalDate: now, Size: size, Blob: ref, Key: keyID,
				Limit: s.storageLimit(pl.t.acct, env.Notice),
			})
		}
	}
	if len(msgs) > 0 {
		added, err := s.store.AddMessages(ctx, msgs)
		if err != nil {
			// The cached target may be stale (a mailbox or account removed by
			// another process): forget it so the next delivery reloads.
			for _, rcpt := range env.Recipients {
				s.forgetTarget(rcpt)
			}
			s.deleteBlobs(ctx, blobsOf(msgs))
			return errors.E(op, deliveryErr(err, len(msgs)))
		}
		s.syncLive(ctx, added)
	}
	for _, pl := range plans {
		if err := s.followUp(ctx, env, pl.t, pl.rcpt, pl.p, msg); err != nil {
			return errors.E(op, err)
		}
	}
	return nil
}

// Append files msg in the account's named mailbox, sealed, with the given
// flags and internal date (zero: now). It returns the mailbox (for its
// UIDVALIDITY) and the new message.
func (s *Service) Append(ctx context.Context, acct sealpost.Account, mailbox string, msg Message, flags []sealpost.Flag, date time.Time) (sealpost.Mailbox, sealpost.Message, error) {
	const op = "postbox.Append"
	if msg.Size() > s.opts.MaxMessageSize {
		return sealpost.Mailbox{}, sealpost.Message{}, errors.E(op, errors.TooLarge)
	}
	mbox, err := s.store.MailboxByName(ctx, acct.ID, mailbox)
	if err != nil {
		return sealpost.Mailbox{}, sealpost.Message{}, errors.E(op, err)
	}
	q, _, err := s.limits(ctx, acct.Address)
	if err != nil {
		return sealpost.Mailbox{}, sealpost.Message{}, errors.E(op, err)
	}
	return s.appendTo(ctx, acct, mbox, msg, flags, date, q.Storage)
}

// AppendByUse is Append into the account's mailbox with a special use, e.g.
// the sender's copy into Sent.
func (s *Service) AppendByUse(ctx context.Context, acct sealpost.Account, use sealpost.SpecialUse, msg Message, flags []sealpost.Flag) error {
	const op = "postbox.AppendByUse"
	mbox, err := s.store.MailboxByUse(ctx, acct.ID, use)
	if err != nil {
		return errors.E(op, err)
	}
	_, _, err = s.appendTo(ctx, acct, mbox, msg, flags, time.Time{}, 0)
	return err
}

func (s *Service) appendTo(ctx context.Context, acct sealpost.Account, mbox sealpost.Mailbox, msg Message, flags []sealpost.Flag, date time.Time, limit int64) (sealpost.Mailbox, sealpost.Message, error) {
	const op = "postbox.Append"
	if date.IsZero() {
		date = s.opts.Now()
	}
	ref, keyID, size, err := s.sealFor(ctx, acct, msg, acct.Address)
	if err != nil {
		return mbox, sealpost.Message{}, errors.E(op, err)
	}
	added, err := s.store.AddMessages(ctx, []sealpost.NewMessage{{
		Mailbox: mbox.ID, Flags: flags, InternalDate: date, Size: size, Blob: ref, Key: keyID, Limit: limit,
	}})
	if err != nil {
		s.blobs.Delete(ctx, ref)
		return mbox, sealpost.Message{}, errors.E(op, err)
	}
	s.syncLive(ctx, added)
	return mbox, added[0], nil
}

// Enqueue puts a message for remote recipients into the outbound queue,
// sealed to the queue key: one entry per recipient domain (each is
// delivered to its own mail exchangers), all sharing one sealed blob, in
// one transaction. When it returns nil the message is durable, and the
// delivery service, if one watches (OnEnqueue), is told.
func (s *Service) Enqueue(ctx context.Context, from string, rcpts []string, msg Message) error {
	const op = "postbox.Enqueue"
	if s.opts.QueueKey == nil {
		return errors.E(op, errors.Internal, errors.Str("no queue key configured"))
	}
	ref, size, err := s.putQueued(ctx, msg)
	if err != nil {
		return errors.E(op, err)
	}
	now := s.opts.Now()
	var entries []sealpost.QueuedMessage
	byDomain := map[string]int{}
	for _, r := range rcpts {
		d := sealpost.DomainOf(sealpost.NormalizeAddress(r))
		i, ok := byDomain[d]
		if !ok {
			i = len(entries)
			byDomain[d] = i
			entries = append(entries, sealpost.QueuedMessage{From: from, Blob: ref, Size: size, Queued: now, NextTry: now})
		}
		entries[i].Recipients = append(entries[i].Recipients, r)
	}
	if _, err := s.store.Enqueue(ctx, entries); err != nil {
		s.blobs.Delete(ctx, ref)
		return errors.E(op, err)
	}
	if f := s.onEnqueue.Load(); f != nil {
		(*f)()
	}
	return nil
}

// OnEnqueue sets a function called after each Enqueue (the delivery
// service's wake-up). It must not block.
func (s *Service) OnEnqueue(f func()) { s.onEnqueue.Store(&f) }

// Blobs returns the region's blob store, for the delivery service.
func (s *Service) Blobs() sealpost.BlobStore { return s.blobs }

func blobsOf(msgs []sealpost.NewMessage) []sealpost.BlobRef {
	refs := make([]sealpost.BlobRef, len(msgs))
	for i, m := range msgs {
		refs[i] = m.Blob
	}
	return refs
}

// readBlob reads a whole blob.
func (s *Service) readBlob(ctx context.Context, ref sealpost.BlobRef) ([]byte, error) {
	rc, err := s.blobs.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// Read in one go when the size is known: io.ReadAll's growing buffer
	// costs several reads and copies per blob on the FETCH hot path.
	var n int64 = -1
	switch r := rc.(type) {
	case interface{ Bytes() []byte }: // already in memory (blob/pack)
		return r.Bytes(), nil
	case interface{ Len() int }:
		n = int64(r.Len())
	case interface{ Stat() (os.FileInfo, error) }:
		if fi, err := r.Stat(); err == nil {
			n = fi.Size()
		}
	}
	if n < 0 {
		return io.ReadAll(rc)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// deleteBlobs removes blobs no longer referenced; failures only leak space.
func (s *Service) deleteBlobs(ctx context.Context, refs []sealpost.BlobRef) {
	for _, ref := range refs {
		if err := s.blobs.Delete(ctx, ref); err != nil {
			s.log.Warn("delete blob", "blob", ref, "err", err)
		}
	}
}
