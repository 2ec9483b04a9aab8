package sealpost

import (
	"context"
	"time"
)

// RegionID names a region of a deployment, e.g. "ie" or "us": a place with
// one jurisdiction where mailboxes live. Every account has exactly one home
// region, and its content and key material are stored only there.
type RegionID string

// Region describes a region. Its storage is configuration, not described
// here: each region has its own Store and BlobStore.
type Region struct {
	ID      RegionID
	Name    string   // for people, e.g. "Ireland"
	Country string   // ISO 3166-1 alpha-2, e.g. "IE"
	Zones   []string // legal zones the country belongs to, e.g. ["EU"]
	// Entity operates the region and controls its data; EntityCountry is
	// where it is incorporated. Jurisdiction follows both.
	Entity        string
	EntityCountry string
}

// Domain is a hosted domain in the directory with the region where its new
// accounts live unless told otherwise.
type Domain struct {
	Name          string
	DefaultRegion RegionID
}

// Home is one directory entry: an address and its home region.
type Home struct {
	Address string
	Region  RegionID
}

// MovePhase is how far a mailbox move between regions has got. A move is
// resumed from its recorded phase after a crash.
type MovePhase string

// The phases of a move, in order. The directory's home switches from From to
// To in the same transaction that records MoveCleanup.
const (
	MoveCopy    MovePhase = "copy"    // copying sealed data From → To; home is From
	MoveCleanup MovePhase = "cleanup" // home is To; deleting the data in From
)

// Move is an unfinished move of one account's mailbox between regions.
type Move struct {
	Address string
	From    RegionID
	To      RegionID
	Phase   MovePhase
	Started time.Time
}

// Directory is the deployment's global directory: which domains are hosted
// and which region each address lives in. It holds nothing else about an
// account: no content, no subjects, no keys, no password verifiers. It also
// journals unfinished mailbox moves, which say only from where to where.
//
// Implementations: directory (SQLite). A Directory is safe for concurrent
// use.
type Directory interface {
	// AddDomain records a hosted domain and its default region. Exist if
	// the domain is already hosted.
	AddDomain(ctx context.Context, d Domain) error
	// Domain returns a hosted domain. NotExist if not hosted.
	Domain(ctx context.Context, name string) (Domain, error)
	// Domains lists hosted domains by name.
	Domains(ctx context.Context) ([]Domain, error)

	// Home returns the home region of a normalized address. NotExist if
	// the address has no account.
	Home(ctx context.Context, addr string) (RegionID, error)
	// AddHome records a new account's home. Exist if the address has one;
	// NotExist if its domain is not hosted.
	AddHome(ctx context.Context, h Home) error
	// RemoveHome forgets an address (its account was deleted). Removing an
	// unknown address is not an error.
	RemoveHome(ctx context.Context, addr string) error
	// Homes lists every entry, by address.
	Homes(ctx context.Context) ([]Home, error)

	// StartMove records a move in phase MoveCopy. The address's home must
	// be m.From (else WrongRegion) and no other move of it may be
	// unfinished (else Exist).
	StartMove(ctx context.Context, m Move) error
	// SwitchMove sets the address's home to the move's To and the move's
	// phase to MoveCleanup, atomically. Switching an already switched move
	// is not an error.
	SwitchMove(ctx context.Context, addr string) error
	// FinishMove forgets a move in phase MoveCleanup.
	FinishMove(ctx context.Context, addr string) error
	// AbandonMove forgets a move still in phase MoveCopy (the home never
	// changed). Invalid if the move has switched.
	AbandonMove(ctx context.Context, addr string) error
	// Moves lists unfinished moves by address.
	Moves(ctx context.Context) ([]Move, error)

	Close() error
}
