package column

import (
	"fmt"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Account object rules every store applies the same way
// (sealpost.ObjectStore).

// CheckObject is what PutObject checks before its transaction: o passes
// AccountObject.Check (Invalid, TooLarge for the size) and its Updated is
// storable (Invalid).
func CheckObject(o sealpost.AccountObject) error {
	if err := o.Check(); err != nil {
		return err
	}
	if !ValidTime(o.Updated) {
		return errors.E(errors.Invalid, errors.Errorf("object updated %v out of range", o.Updated))
	}
	return nil
}

// ObjectLimit is the refusal of one more object of kind to an account
// holding n of them against a positive max, or nil.
func ObjectLimit(kind sealpost.ObjectKind, n, max int) error {
	if max <= 0 || n < max {
		return nil
	}
	return errors.E(errors.OverQuota, errors.Errorf("limit of %d %s objects reached", max, kind))
}

// OrphanObject describes, for Inventory, an object row (kind, name,
// account) whose account is missing.
func OrphanObject(row interface{ Scan(...any) error }) (string, error) {
	var kind, acct int64
	var name string
	err := row.Scan(&kind, &name, &acct)
	return fmt.Sprintf("%s object %q of missing account %d", sealpost.ObjectKind(kind), name, acct), err
}
