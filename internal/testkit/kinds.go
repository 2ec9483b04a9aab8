package testkit

import (
	"slices"
	"testing"

	"github.com/sealpost/sealpost"
)

// Covers is for tests of the tables that treat events by kind
// (sealpost.EventKind): it checks that a table has an entry for every kind
// it must, and no entry for a kind that does not exist, so that a new kind
// fails the tests of every part that has not yet decided what to do with
// it. It reports through t each kind of sealpost.EventKinds that need
// (every kind if nil) says table must have and it lacks, and each key of
// table that is neither one of sealpost.EventKinds nor in also. name names
// the table in the messages.
func Covers[V any](t testing.TB, name string, table map[sealpost.EventKind]V, need func(sealpost.EventKind) bool, also ...sealpost.EventKind) {
	t.Helper()
	all := sealpost.EventKinds()
	for _, k := range all {
		if _, ok := table[k]; !ok && (need == nil || need(k)) {
			t.Errorf("kind %s has no entry in %s", k, name)
		}
	}
	for k := range table {
		if !slices.Contains(all, k) && !slices.Contains(also, k) {
			t.Errorf("%s has an entry for %s, which is not in sealpost.EventKinds", name, k)
		}
	}
}
