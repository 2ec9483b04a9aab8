package sealpost

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/sealpost/sealpost/errors"
)

// filter.go: what an account keeps besides its mail so that incoming mail
// can be sorted in the moment between arrival and sealing: its Sieve
// scripts (RFC 5228), its spam classifier's model, who got a vacation
// reply, and the filter key that seals them. docs/SECURITY.md ("Filters")
// says who can open each.

// ObjectKind is what an AccountObject holds. Stored as its number.
type ObjectKind uint8

// The kinds of account objects.
const (
	// ObjectFilterKey is the account's filter key F (32 random bytes),
	// wrapped: Name FilterKeyOwner is F sealed to the owner's key (opened
	// only in the owner's sessions), Name FilterKeyDelivery is F sealed to
	// the region's deployment key (what delivery opens without the owner;
	// absent while the account's settings say NoServerFilter).
	ObjectFilterKey ObjectKind = 1
	// ObjectSieveScript is one Sieve script, by its ManageSieve name
	// (RFC 5804), sealed under F; at most one is Active.
	ObjectSieveScript ObjectKind = 2
	// ObjectJunkModel is the account's spam classifier (Name ""), sealed
	// under F: counts of tokens hashed under a key derived from F.
	ObjectJunkModel ObjectKind = 3
	// ObjectVacation is the vacation responder's memory (Name ""), sealed
	// under F: which senders got a reply and when (RFC 5230 4.2).
	ObjectVacation ObjectKind = 4
)

// The names of the two wraps of the filter key.
const (
	FilterKeyOwner    = "owner"
	FilterKeyDelivery = "delivery"
)

func (k ObjectKind) String() string {
	switch k {
	case ObjectFilterKey:
		return "filter-key"
	case ObjectSieveScript:
		return "sieve-script"
	case ObjectJunkModel:
		return "junk-model"
	case ObjectVacation:
		return "vacation"
	}
	return "unknown"
}

// Limits of account objects, checked by every ObjectStore.
const (
	// MaxObjectSize bounds one object's sealed data.
	MaxObjectSize = 16 << 20
	// MaxObjectName bounds an object's name in bytes (a Sieve script's
	// name: RFC 5804 1.6 asks servers to allow at least 128 characters).
	MaxObjectName = 512
)

// AccountObject is a small sealed object an account owns besides its
// mail. Data is always sealed (under F, or for the filter key to a public
// key); the store keeps Kind, Name, Active, the size and Updated in the
// clear.
type AccountObject struct {
	Account AccountID
	Kind    ObjectKind
	Name    string
	Active  bool // a Sieve script: the one run at delivery
	Data    []byte
	Updated time.Time
}

// Check rejects an object no store keeps: an unknown kind, a name that is
// too long, not UTF-8 or holds control characters (RFC 5804 1.6), data
// over MaxObjectSize. The error is Invalid (TooLarge for the size).
func (o AccountObject) Check() error {
	const op = "sealpost.AccountObject.Check"
	if o.Kind.String() == "unknown" {
		return errors.E(op, errors.Invalid, errors.Errorf("unknown object kind %d", o.Kind))
	}
	if err := CheckObjectName(o.Name); err != nil {
		return errors.E(op, err)
	}
	if len(o.Data) > MaxObjectSize {
		return errors.E(op, errors.TooLarge)
	}
	return nil
}

// CheckObjectName is the rule for an object's name: at most MaxObjectName
// bytes of UTF-8 without control characters (RFC 5804 1.6: CR, LF, NUL,
// other controls, U+2028 and U+2029 are not allowed in script names).
func CheckObjectName(name string) error {
	const op = "sealpost.CheckObjectName"
	if len(name) > MaxObjectName || !utf8.ValidString(name) {
		return errors.E(op, errors.Invalid, errors.Str("bad object name"))
	}
	for _, r := range name {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 {
			return errors.E(op, errors.Invalid, errors.Str("bad object name"))
		}
	}
	return nil
}

// ObjectStore keeps accounts' objects in a region's metadata store. Every
// change is atomic and durable when it returns nil. Objects go with their
// account: DeleteAccount removes them, AccountImage carries them.
type ObjectStore interface {
	// PutObject creates the object (o.Account, o.Kind, o.Name) or replaces
	// its Data and Updated (a zero Updated is now); Active is kept for an
	// existing object and false for a new one. NotExist for an unknown
	// account; Invalid if o fails Check; with max positive, OverQuota if a
	// new object would give the account more than max objects of its
	// kind, counted in the same transaction.
	PutObject(ctx context.Context, o AccountObject, max int) error
	// Object returns one object, NotExist if absent.
	Object(ctx context.Context, acct AccountID, kind ObjectKind, name string) (AccountObject, error)
	// Objects lists the account's objects of a kind, sorted by name, Data
	// included.
	Objects(ctx context.Context, acct AccountID, kind ObjectKind) ([]AccountObject, error)
	// DeleteObject removes an object. NotExist if absent.
	DeleteObject(ctx context.Context, acct AccountID, kind ObjectKind, name string) error
	// RenameObject renames an object, keeping its Data and Active.
	// NotExist if absent, Exist if newName is taken (renaming to the same
	// name is a no-op), Invalid if newName fails CheckObjectName.
	RenameObject(ctx context.Context, acct AccountID, kind ObjectKind, name, newName string) error
	// SetActiveObject makes the named object the only active one of its
	// kind; "" makes none active. NotExist if name is absent.
	SetActiveObject(ctx context.Context, acct AccountID, kind ObjectKind, name string) error
}
