package smtpserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/sqlitedb"
)

// This file is the MX's optional greylisting (RFC 6647): the first
// attempt of a (client network, sender, recipient) triplet gets a
// temporary failure at RCPT; a retry after Delay and within Expire of the
// first attempt is accepted, and the triplet is then accepted at once for
// Keep after its last message. A real MTA queues and retries (RFC 5321
// 4.5.4.1); much bulk-sending software does not.
//
// The triplet (RFC 6647 section 2, greylisting at RCPT). The client is
// taken as its /24 (IPv4) or /64 (IPv6), since large senders retry from
// another address of their pool; the sender and the recipient as lower-cased envelope addresses. Only
// HMAC-SHA256 of the triplet under a key kept apart from the store (the
// server keeps it in data_dir/keys) is stored, cut to 16 bytes, with three
// times: no address, network or name is ever written to the store, and a
// copy of it alone cannot confirm a guess of one.
//
// Who is greylisted. Mail for a hosted recipient that passed every other
// check at RCPT (an unknown user gets its 550, not a 451, so probing
// cannot fill the store). Not: trusted relays, authenticated sessions
// (submission never greylists). The null sender is greylisted like any
// other: bounces (RFC 3464 DSNs, sent with the null reverse-path of
// RFC 5321 4.5.5) are queued and retried by the MTA that sends them like
// any message, and exempting <> would let anyone skip greylisting by
// sending with it. A sender-verification callout (MAIL FROM:<>, RCPT,
// QUIT) that meets a 451 is answered "try later" by the verifying site,
// which delays its own client's message; nothing is lost.
//
// The store. An SQLite file (internal/sqlitedb; SyncNormal, since a lost
// entry costs one more retry, not a message), so a restart forgets
// nothing: greylisting whose memory a restart wipes delays every sender
// again. It holds at most MaxEntries triplets: past that, stale ones go
// first, then the least recently seen. A failure of the store accepts the
// mail (fail open) and is logged: greylisting only ever delays.

// Defaults of GreylistOptions; RFC 6647 section 4 leaves the values to
// the operator. 5 minutes is below the usual first retry of common MTAs
// (Postfix's minimal_backoff_time is 300 s, Exim's first retry 15 min),
// 36 h covers a sender's slow retry schedule, 35 days is longer than a
// monthly newsletter's period.
const (
	DefaultGreylistDelay      = 5 * time.Minute
	DefaultGreylistExpire     = 36 * time.Hour
	DefaultGreylistKeep       = 35 * 24 * time.Hour
	DefaultGreylistMaxEntries = 200_000
)

// GreylistOptions configure a Greylist.
type GreylistOptions struct {
	// Delay is how long after a triplet's first attempt a retry passes.
	Delay time.Duration
	// Expire is how long after the first attempt a retry still passes;
	// a later one starts again.
	Expire time.Duration
	// Keep is how long a passed triplet is accepted at once after its
	// last message.
	Keep time.Duration
	// MaxEntries bounds the triplets stored.
	MaxEntries int
}

// Greylist is the greylisting store of an MX: an SQLite file of hashed
// triplets. It is safe for concurrent use; Close it after the servers
// that use it.
type Greylist struct {
	db  *sqlitedb.DB
	key []byte
	o   GreylistOptions

	mu   sync.Mutex // serializes Check's read and write, and n
	n    int        // rows in the store
	hits int        // checks since the last sweep of stale rows
}

// OpenGreylist opens (creating it if needed) the greylisting store at
// path, whose triplets are hashed under key (at least 16 bytes; the same
// key every time, or the store's entries no longer match).
func OpenGreylist(path string, key []byte, o GreylistOptions) (*Greylist, error) {
	const op = "smtpserver.OpenGreylist"
	if len(key) < 16 {
		return nil, errors.E(op, errors.Invalid, errors.Str("greylist key shorter than 16 bytes"))
	}
	if o.Delay <= 0 {
		o.Delay = DefaultGreylistDelay
	}
	if o.Expire <= 0 {
		o.Expire = DefaultGreylistExpire
	}
	if o.Keep <= 0 {
		o.Keep = DefaultGreylistKeep
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultGreylistMaxEntries
	}
	db, err := sqlitedb.Open(path, sqlitedb.Options{Sync: sqlitedb.SyncNormal})
	if err != nil {
		return nil, errors.E(op, err)
	}
	g := &Greylist{db: db, key: append([]byte(nil), key...), o: o}
	ctx := context.Background()
	err = db.Write(ctx, op, func(tx *sql.Tx) error {
		// k: the triplet's HMAC; first: its first attempt of the
		// current round; seen: its last accepted message (0: not
		// passed yet). Unix seconds.
		if _, err := tx.Exec(`CREATE TABLE IF NOT EXISTS triplet (
			k BLOB PRIMARY KEY, first INTEGER NOT NULL, seen INTEGER NOT NULL, last INTEGER NOT NULL) WITHOUT ROWID`); err != nil {
			return err
		}
		if _, err := tx.Exec(`CREATE INDEX IF NOT EXISTS triplet_last ON triplet(last)`); err != nil {
			return err
		}
		return tx.QueryRow(`SELECT count(*) FROM triplet`).Scan(&g.n)
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return g, nil
}

// Close closes the store.
func (g *Greylist) Close() error { return g.db.Close() }

// Len returns the number of triplets stored.
func (g *Greylist) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// Check records an attempt of the triplet (ip's network, from, rcpt) at
// now and returns how long the client must still wait: 0 means accept.
func (g *Greylist) Check(ctx context.Context, ip netip.Addr, from, rcpt string, now time.Time) (time.Duration, error) {
	const op = "smtpserver.Greylist.Check"
	k := g.hash(ip, from, rcpt)
	t := now.Unix()
	g.mu.Lock()
	defer g.mu.Unlock()
	var wait time.Duration
	added := false
	err := g.db.Write(ctx, op, func(tx *sql.Tx) error {
		var first, seen int64
		err := tx.QueryRow(`SELECT first, seen FROM triplet WHERE k = ?`, k).Scan(&first, &seen)
		switch {
		case errors.IsErr(err, sql.ErrNoRows):
			added = true
			wait = g.o.Delay
			_, err = tx.Exec(`INSERT INTO triplet (k, first, seen, last) VALUES (?, ?, 0, ?)`, k, t, t)
			return err
		case err != nil:
			return err
		}
		age := time.Duration(t-first) * time.Second
		switch {
		case seen != 0 && time.Duration(t-seen)*time.Second < g.o.Keep,
			seen == 0 && age >= g.o.Delay && age <= g.o.Expire:
			// A known triplet, or a retry in the window: it passes,
			// and is kept for Keep from now.
			_, err = tx.Exec(`UPDATE triplet SET seen = ?, last = ? WHERE k = ?`, t, t, k)
		case seen == 0 && age >= 0 && age < g.o.Delay:
			// Too early: the wait is counted from the first attempt,
			// not restarted.
			wait = g.o.Delay - age
			_, err = tx.Exec(`UPDATE triplet SET last = ? WHERE k = ?`, t, k)
		default:
			// Expired (a retry too late, a pass forgotten), or a clock
			// that went back: a new first attempt.
			wait = g.o.Delay
			_, err = tx.Exec(`UPDATE triplet SET first = ?, seen = 0, last = ? WHERE k = ?`, t, t, k)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	if added {
		g.n++
	}
	if g.hits++; g.n > g.o.MaxEntries || g.hits >= 10_000 {
		g.sweep(ctx, now)
	}
	return wait, nil
}

// sweep deletes the stale triplets (past Keep after their last message,
// or unpassed past Expire), then, while the store is over MaxEntries, the
// least recently seen, down to nine tenths of it, so that sweeps are
// rare. Called with g.mu held; a failure is retried at the next check.
func (g *Greylist) sweep(ctx context.Context, now time.Time) {
	const op = "smtpserver.Greylist.sweep"
	g.hits = 0
	t := now.Unix()
	g.db.Write(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.Exec(`DELETE FROM triplet WHERE (seen != 0 AND seen < ?) OR (seen = 0 AND first < ?)`,
			t-int64(g.o.Keep/time.Second), t-int64(g.o.Expire/time.Second))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		g.n -= int(n)
		if over := g.n - g.o.MaxEntries*9/10; g.n > g.o.MaxEntries && over > 0 {
			res, err := tx.Exec(`DELETE FROM triplet WHERE k IN (SELECT k FROM triplet ORDER BY last LIMIT ?)`, over)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			g.n -= int(n)
		}
		return nil
	})
}

// hash is the triplet's key in the store: HMAC-SHA256 under g.key of the
// client's network and the two addresses, cut to 16 bytes.
func (g *Greylist) hash(ip netip.Addr, from, rcpt string) []byte {
	m := hmac.New(sha256.New, g.key)
	fmt.Fprintf(m, "greylist v1\x00%s\x00%s\x00%s", greyNet(ip), strings.ToLower(from), strings.ToLower(rcpt))
	return m.Sum(nil)[:16]
}

// greyNet is the network a client is greylisted as: its /24 (IPv4) or
// /64 (IPv6).
func greyNet(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p
}

// replyGreylisted is the temporary failure of a first attempt (RFC 3463:
// 4.7.1, delivery not authorized yet).
func replyGreylisted(wait time.Duration) *smtp.SMTPError {
	secs := int64((wait + time.Second - 1) / time.Second)
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1},
		Message: fmt.Sprintf("Greylisted, try again in %d seconds", secs)}
}

// checkGreylist is RCPT's last check, for a hosted recipient addr.
func (ss *session) checkGreylist(ctx context.Context, addr string) *smtp.SMTPError {
	g := ss.s.opts.Greylist
	if g == nil || ss.s.opts.Mode != MX || ss.acct != nil {
		return nil
	}
	ip, _ := netip.AddrFromSlice(ss.ip)
	ip = ip.Unmap()
	if !ip.IsValid() || ss.s.trusted(ip) {
		return nil
	}
	wait, err := g.Check(ctx, ip, ss.from, addr, ss.s.opts.Now())
	if err != nil {
		ss.s.log.Warn("greylist unavailable: accepted (fail open)", "remote", ss.ip, "err", err)
		return nil
	}
	if wait > 0 {
		ss.s.log.Info("rcpt greylisted", "remote", ss.ip, "wait", wait)
		return replyGreylisted(wait)
	}
	return nil
}
