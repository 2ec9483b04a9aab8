package web

import (
	"context"
	"net/http"
	"time"

	"github.com/sealpost/sealpost/transparency"
)

// This file is the contract between the web app's public and owner pages
// and the rest of the server: what the privacy page (/me), the public
// transparency pages (/transparency, /canary) and the log (/log/) need.
// The server implements both interfaces; the tests implement them over a
// real tlog.Log.

// Owners is what the privacy page does for an account's owner. Every
// method but Authenticate is called only after Authenticate succeeded for
// the same address in the same session.
type Owners interface {
	// Authenticate checks the owner's password, the same as IMAP's
	// (errors.Permission when wrong or no such account).
	Authenticate(ctx context.Context, addr, password string) error
	// Residence says where addr's mail lives and where it could move.
	Residence(ctx context.Context, addr string) (Residence, error)
	// KeyStatus describes addr's keys.
	KeyStatus(ctx context.Context, addr string) (KeyStatus, error)
	// Move moves addr's mailbox to region to, at the owner's request
	// (password checked again); errors.Unavailable if this server cannot
	// do it itself, with a message saying how.
	Move(ctx context.Context, addr, password, to string) error
	// Filter describes addr's mail filter for its owner's page.
	Filter(ctx context.Context, addr string) (FilterView, error)
	// SetFilter changes it, after checking the owner's password again
	// (errors.Permission if wrong): see FilterChange. errors.Invalid when
	// the script does not compile, its cause the compiler's message
	// (line:column), which the page shows to the owner; the script's
	// text is never put in any other error.
	SetFilter(ctx context.Context, addr, password string, change FilterChange) error
}

// FilterView is an account's mail filter as its owner's page shows it: its
// Sieve scripts (run at delivery) and its spam classifier (trained from
// the owner's moves to and from Junk).
type FilterView struct {
	NoServerFilter bool   // strictest mode: no script runs, nothing is scored
	ActiveScript   string // name of the active Sieve script, "" none
	// Script is the active script's text; nil when the server cannot
	// open it (strictest mode): then the page says it is readable only
	// from the owner's own ManageSieve session.
	Script    []byte
	Scripts   int       // how many scripts the account keeps
	Ham, Spam int       // messages the classifier learnt from
	Trained   time.Time // last training, zero never
}

// FilterChange is what the owner's page asks SetFilter to change.
type FilterChange struct {
	// Script, when not nil, replaces the active script's text (or, with
	// no active script, is saved as "sealpost" and made active); an
	// empty script deactivates scripts.
	Script []byte
	// NoServerFilter, when not nil, turns the strictest mode on or off.
	NoServerFilter *bool
}

// Residence is where an account's mail lives.
type Residence struct {
	Region     string   // e.g. "ie"
	RegionName string   // e.g. "Ireland"
	Country    string   // ISO 3166-1 alpha-2, e.g. "IE"
	Zones      []string // legal zones, e.g. ["EU"]
	Entity     string   // the operating entity there, "" if not configured
	Moving     bool     // a move is under way
	// Elsewhere are the regions the mailbox could move to.
	Elsewhere []RegionChoice
}

// RegionChoice is a region an owner may move to.
type RegionChoice struct {
	ID, Name, Country string
	Zones             []string
}

// KeyStatus describes an account's keys as its owner may see them.
type KeyStatus struct {
	Fingerprint string    // of the active key, hex
	Algorithm   string    // e.g. "Ed25519/X25519 (OpenPGP v4)"
	Created     time.Time // of the active key
	Generations int       // key generations kept (older mail stays sealed to older ones)
	OwnKey      bool      // the owner registered their own OpenPGP key
	Password    bool      // the active key opens with the password
	Recovery    bool      // a recovery code can open the active key
}

// Log is what the pages need of the transparency log.
type Log interface {
	// Handler serves the log per C2SP tlog-tiles (checkpoint, key, tiles,
	// entry bundles); it is mounted at /log/.
	Handler() http.Handler
	// Checkpoint is the latest signed checkpoint; VerifierKey checks it.
	Checkpoint() []byte
	VerifierKey() string
	// Owned returns the entries about addr that its owner may see at now
	// (not those a nondisclosure order still covers), each with its
	// inclusion proof in the tree of the latest checkpoint.
	Owned(ctx context.Context, addr string, now time.Time) (transparency.Checked, error)
	// AccountSecret is addr's secret that recognises its entries.
	AccountSecret(addr string) []byte
	// ProofBundle is the C2SP tlog-proof of the entry at index.
	ProofBundle(ctx context.Context, index uint64) ([]byte, error)
	// Snapshot returns the latest checkpoint and every entry it commits
	// to, in order: what a transparency report is computed from.
	Snapshot(ctx context.Context) (checkpoint []byte, entries [][]byte, err error)
	// Canary returns the latest warrant canary (a signed note) and
	// whether it has lapsed; nil if none was ever issued.
	Canary() (statement []byte, lapsed bool)
}
