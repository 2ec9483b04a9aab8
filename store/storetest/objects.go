package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// objectTests check sealpost.ObjectStore: an account's sealed objects
// (Sieve scripts, the filter's model, key wraps) and the setting that
// turns server-side filtering off.
func objectTests(h Harness) []test {
	out := []test{
		{"PutAndGet", testPutObject},
		{"Replace", testReplaceObject},
		{"Limit", testObjectLimit},
		{"Invalid", testObjectInvalid},
		{"NotExist", testObjectNotExist},
		{"Sorted", testObjectsSorted},
		{"Rename", testRenameObject},
		{"SetActive", testSetActiveObject},
		{"DeleteWithAccount", testObjectsDeleteWithAccount},
		{"ConcurrentLimit", testObjectLimitConcurrent},
		{"ConcurrentSetActive", testSetActiveConcurrent},
		{"Image", testObjectsImage},
		{"NoServerFilter", testNoServerFilter},
	}
	if h.Reopen != nil {
		out = append(out, test{"Reopen", testObjectsReopen})
	}
	return out
}

// updated is a fixed object update time with whole seconds.
var updated = time.Date(2025, time.June, 7, 8, 9, 10, 0, time.UTC)

func script(acct sealpost.AccountID, name, data string) sealpost.AccountObject {
	return sealpost.AccountObject{Account: acct, Kind: sealpost.ObjectSieveScript, Name: name, Data: []byte(data), Updated: updated}
}

func (e *env) putObject(o sealpost.AccountObject, max int) {
	e.t.Helper()
	if err := e.s.PutObject(ctx, o, max); err != nil {
		e.t.Fatalf("PutObject(%s %q, max %d): %v", o.Kind, o.Name, max, err)
	}
}

func (e *env) object(acct sealpost.AccountID, kind sealpost.ObjectKind, name string) sealpost.AccountObject {
	e.t.Helper()
	o, err := e.s.Object(ctx, acct, kind, name)
	if err != nil {
		e.t.Fatalf("Object(%d, %s, %q): %v", acct, kind, name, err)
	}
	return o
}

func (e *env) objects(acct sealpost.AccountID, kind sealpost.ObjectKind) []sealpost.AccountObject {
	e.t.Helper()
	list, err := e.s.Objects(ctx, acct, kind)
	if err != nil {
		e.t.Fatalf("Objects(%d, %s): %v", acct, kind, err)
	}
	return list
}

// sameObject reports how got differs from want, or "".
func sameObject(got, want sealpost.AccountObject) string {
	switch {
	case got.Account != want.Account:
		return fmt.Sprintf("Account %d, want %d", got.Account, want.Account)
	case got.Kind != want.Kind:
		return fmt.Sprintf("Kind %s, want %s", got.Kind, want.Kind)
	case got.Name != want.Name:
		return fmt.Sprintf("Name %q, want %q", got.Name, want.Name)
	case got.Active != want.Active:
		return fmt.Sprintf("Active %v, want %v", got.Active, want.Active)
	case !bytes.Equal(got.Data, want.Data):
		return fmt.Sprintf("Data %q, want %q", got.Data, want.Data)
	case !got.Updated.Equal(want.Updated):
		return fmt.Sprintf("Updated %v, want %v", got.Updated, want.Updated)
	}
	return ""
}

func wantObject(t *testing.T, got, want sealpost.AccountObject, what string) {
	t.Helper()
	if d := sameObject(got, want); d != "" {
		t.Fatalf("%s: %s", what, d)
	}
}

func wantObjects(t *testing.T, got, want []sealpost.AccountObject, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d objects %q, want %d %q", what, len(got), objectNames(got), len(want), objectNames(want))
	}
	for i := range got {
		if d := sameObject(got[i], want[i]); d != "" {
			t.Fatalf("%s: object %d: %s", what, i, d)
		}
	}
}

func objectNames(list []sealpost.AccountObject) []string {
	out := make([]string, len(list))
	for i, o := range list {
		out[i] = o.Name
	}
	return out
}

// activeNames lists the names of the active objects.
func activeNames(list []sealpost.AccountObject) []string {
	var out []string
	for _, o := range list {
		if o.Active {
			out = append(out, o.Name)
		}
	}
	return out
}

// goneAccount returns an account that existed and was deleted: every
// store, the guard included, knows its ID and answers NotExist for it.
func (e *env) goneAccount(addr string) sealpost.AccountID {
	e.t.Helper()
	a := e.account(addr)
	if _, err := e.s.DeleteAccount(ctx, a.ID); err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}

// testPutObject stores one object of each kind and reads them back: a new
// object is inactive whatever it says, keeps the Updated it was given and
// gets the time of the call if it has none; Data is copied, not kept.
func testPutObject(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	o := script(a.ID, "vacation", "sealed script")
	o.Active = true
	e.putObject(o, 0)
	o.Data[0] = 'X' // the store must not keep the caller's slice
	want := script(a.ID, "vacation", "sealed script")
	wantObject(t, e.object(a.ID, sealpost.ObjectSieveScript, "vacation"), want, "a new script")

	before := time.Now().Add(-time.Second)
	for _, k := range []sealpost.ObjectKind{sealpost.ObjectFilterKey, sealpost.ObjectJunkModel, sealpost.ObjectVacation} {
		name := ""
		if k == sealpost.ObjectFilterKey {
			name = sealpost.FilterKeyOwner
		}
		e.putObject(sealpost.AccountObject{Account: a.ID, Kind: k, Name: name, Data: []byte(k.String())}, 1)
		got := e.object(a.ID, k, name)
		if got.Updated.Before(before) || got.Updated.After(time.Now().Add(time.Second)) {
			t.Fatalf("%s put without Updated: Updated %v, want about now", k, got.Updated)
		}
		wantObject(t, got, sealpost.AccountObject{Account: a.ID, Kind: k, Name: name, Data: []byte(k.String()), Updated: got.Updated}, k.String())
		if list := e.objects(a.ID, k); len(list) != 1 {
			t.Fatalf("Objects(%s) = %q, want one", k, objectNames(list))
		}
	}
	// Kinds are kept apart: the script is the only one of its kind.
	wantObjects(t, e.objects(a.ID, sealpost.ObjectSieveScript), []sealpost.AccountObject{want}, "Objects(sieve-script)")
	// The longest name and empty data are kept.
	long := script(a.ID, strings.Repeat("é", sealpost.MaxObjectName/2), "")
	e.putObject(long, 0)
	wantObject(t, e.object(a.ID, long.Kind, long.Name), long, "the longest name")
}

// testReplaceObject puts an existing object again: its Data and Updated
// are replaced, its Active kept (whatever the new one says), and another
// account's object of the same name is untouched.
func testReplaceObject(t *testing.T, e *env) {
	a, b := e.account("alice@demo.example"), e.account("bob@demo.example")
	e.putObject(script(a.ID, "main", "v1"), 0)
	e.putObject(script(b.ID, "main", "bob's"), 0)
	if err := e.s.SetActiveObject(ctx, a.ID, sealpost.ObjectSieveScript, "main"); err != nil {
		t.Fatal(err)
	}
	v2 := script(a.ID, "main", "version two")
	v2.Updated = updated.Add(time.Hour)
	e.putObject(v2, 0)
	v2.Active = true
	wantObject(t, e.object(a.ID, sealpost.ObjectSieveScript, "main"), v2, "replaced active script")

	v3 := script(a.ID, "main", "v3")
	e.putObject(v3, 0) // Active false in the call: still active
	v3.Active = true
	wantObject(t, e.object(a.ID, sealpost.ObjectSieveScript, "main"), v3, "replaced again")
	wantObject(t, e.object(b.ID, sealpost.ObjectSieveScript, "main"), script(b.ID, "main", "bob's"), "bob's script")
}

// testObjectLimit checks max: a new object beyond it is OverQuota, a
// replacement is not, other kinds and accounts do not count, and a
// deletion makes room.
func testObjectLimit(t *testing.T, e *env) {
	a, b := e.account("alice@demo.example"), e.account("bob@demo.example")
	e.putObject(script(a.ID, "one", "1"), 2)
	e.putObject(script(a.ID, "two", "2"), 2)
	err := e.s.PutObject(ctx, script(a.ID, "three", "3"), 2)
	wantKind(t, err, errors.OverQuota, "a third script under max 2")
	if _, err := e.s.Object(ctx, a.ID, sealpost.ObjectSieveScript, "three"); !errors.Is(errors.NotExist, err) {
		t.Fatalf("the refused script: %v, want NotExist", err)
	}
	e.putObject(script(a.ID, "two", "2 again"), 2)                                                           // a replacement
	e.putObject(sealpost.AccountObject{Account: a.ID, Kind: sealpost.ObjectJunkModel, Data: []byte("m")}, 1) // another kind
	e.putObject(script(b.ID, "three", "3"), 1)                                                               // another account
	e.putObject(script(a.ID, "three", "3"), 0)                                                               // no limit
	wantKind(t, e.s.PutObject(ctx, script(a.ID, "four", "4"), 3), errors.OverQuota, "a fourth script under max 3")
	if err := e.s.DeleteObject(ctx, a.ID, sealpost.ObjectSieveScript, "one"); err != nil {
		t.Fatal(err)
	}
	e.putObject(script(a.ID, "four", "4"), 3)
	if got := objectNames(e.objects(a.ID, sealpost.ObjectSieveScript)); !slices.Equal(got, []string{"four", "three", "two"}) {
		t.Fatalf("scripts = %q", got)
	}
}

// testObjectInvalid puts what Check refuses: nothing is stored.
func testObjectInvalid(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	for _, tt := range []struct {
		name string
		o    sealpost.AccountObject
		kind errors.Kind
	}{
		{"kind 0", sealpost.AccountObject{Account: a.ID, Kind: 0, Name: "x"}, errors.Invalid},
		{"kind 99", sealpost.AccountObject{Account: a.ID, Kind: 99, Name: "x"}, errors.Invalid},
		{"long name", script(a.ID, strings.Repeat("x", sealpost.MaxObjectName+1), ""), errors.Invalid},
		{"CRLF in name", script(a.ID, "a\r\nb", ""), errors.Invalid},
		{"NUL in name", script(a.ID, "a\x00b", ""), errors.Invalid},
		{"DEL in name", script(a.ID, "a\x7fb", ""), errors.Invalid},
		{"U+2028 in name", script(a.ID, "a\u2028b", ""), errors.Invalid},
		{"bad UTF-8", script(a.ID, "a\xffb", ""), errors.Invalid},
		{"Updated out of range", sealpost.AccountObject{Account: a.ID, Kind: sealpost.ObjectSieveScript, Name: "x",
			Updated: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, errors.Invalid},
		{"too large", sealpost.AccountObject{Account: a.ID, Kind: sealpost.ObjectJunkModel,
			Data: make([]byte, sealpost.MaxObjectSize+1)}, errors.TooLarge},
	} {
		wantKind(t, e.s.PutObject(ctx, tt.o, 0), tt.kind, "PutObject with "+tt.name)
	}
	for _, k := range []sealpost.ObjectKind{sealpost.ObjectSieveScript, sealpost.ObjectJunkModel} {
		if list := e.objects(a.ID, k); len(list) != 0 {
			t.Fatalf("Objects(%s) after refused puts: %q", k, objectNames(list))
		}
	}
}

// testObjectNotExist checks every NotExist: a deleted account, absent
// objects, another account's object.
func testObjectNotExist(t *testing.T, e *env) {
	a, b := e.account("alice@demo.example"), e.account("bob@demo.example")
	e.putObject(script(b.ID, "bob's", "x"), 0)
	gone := e.goneAccount("gone@demo.example")
	const s = sealpost.ObjectSieveScript

	wantKind(t, e.s.PutObject(ctx, script(gone, "x", "x"), 0), errors.NotExist, "PutObject for a deleted account")
	wantKind(t, e.s.PutObject(ctx, script(gone, "x", "x"), 5), errors.NotExist, "PutObject with max for a deleted account")
	for _, acct := range []sealpost.AccountID{a.ID, gone} {
		what := fmt.Sprintf("account %d", acct)
		_, err := e.s.Object(ctx, acct, s, "bob's")
		wantKind(t, err, errors.NotExist, "Object of "+what)
		wantKind(t, e.s.DeleteObject(ctx, acct, s, "bob's"), errors.NotExist, "DeleteObject of "+what)
		wantKind(t, e.s.RenameObject(ctx, acct, s, "bob's", "y"), errors.NotExist, "RenameObject of "+what)
		wantKind(t, e.s.RenameObject(ctx, acct, s, "bob's", "bob's"), errors.NotExist, "RenameObject to itself of "+what)
		wantKind(t, e.s.SetActiveObject(ctx, acct, s, "bob's"), errors.NotExist, "SetActiveObject of "+what)
	}
	list, err := e.s.Objects(ctx, gone, s)
	wantNotExistOrEmpty(t, list, err, "Objects of a deleted account")
	if list := e.objects(a.ID, s); len(list) != 0 {
		t.Fatalf("alice's scripts: %q", objectNames(list))
	}
	// The same name under another kind is another object.
	_, err = e.s.Object(ctx, b.ID, sealpost.ObjectVacation, "bob's")
	wantKind(t, err, errors.NotExist, "Object of another kind")
	wantObject(t, e.object(b.ID, s, "bob's"), script(b.ID, "bob's", "x"), "bob's script after all that")
	if err := e.s.DeleteObject(ctx, b.ID, s, "bob's"); err != nil {
		t.Fatal(err)
	}
	wantKind(t, e.s.DeleteObject(ctx, b.ID, s, "bob's"), errors.NotExist, "DeleteObject twice")
}

// testObjectsSorted checks that Objects sorts by name in byte order, as
// the mailbox names are.
func testObjectsSorted(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	names := []string{"b", "é", "B", "a b", "", "ab", "Z", "a"}
	for _, n := range names {
		e.putObject(script(a.ID, n, "data "+n), 0)
	}
	slices.Sort(names)
	list := e.objects(a.ID, sealpost.ObjectSieveScript)
	if got := objectNames(list); !slices.Equal(got, names) {
		t.Fatalf("Objects = %q, want %q", got, names)
	}
	for _, o := range list {
		wantObject(t, o, script(a.ID, o.Name, "data "+o.Name), "listed "+o.Name)
	}
}

// testRenameObject renames scripts: data, Active and Updated go along;
// a taken name is Exist, the same name a no-op, a bad one Invalid.
func testRenameObject(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	const s = sealpost.ObjectSieveScript
	e.putObject(script(a.ID, "old", "the script"), 0)
	e.putObject(script(a.ID, "other", "another"), 0)
	if err := e.s.SetActiveObject(ctx, a.ID, s, "old"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RenameObject(ctx, a.ID, s, "old", "new"); err != nil {
		t.Fatal(err)
	}
	want := script(a.ID, "new", "the script")
	want.Active = true
	wantObject(t, e.object(a.ID, s, "new"), want, "renamed script")
	_, err := e.s.Object(ctx, a.ID, s, "old")
	wantKind(t, err, errors.NotExist, "the old name after a rename")

	wantKind(t, e.s.RenameObject(ctx, a.ID, s, "new", "other"), errors.Exist, "RenameObject to a taken name")
	wantKind(t, e.s.RenameObject(ctx, a.ID, s, "new", "bad\nname"), errors.Invalid, "RenameObject to a bad name")
	if err := e.s.RenameObject(ctx, a.ID, s, "new", "new"); err != nil {
		t.Fatalf("RenameObject to the same name: %v", err)
	}
	wantObjects(t, e.objects(a.ID, s), []sealpost.AccountObject{want, script(a.ID, "other", "another")}, "scripts after the refused renames")
	// The name is free again, and the renamed script still the active one.
	e.putObject(script(a.ID, "old", "a new one"), 0)
	if got := activeNames(e.objects(a.ID, s)); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("active scripts %q, want [new]", got)
	}
}

// testSetActiveObject checks that one object per account and kind is
// active at most: setting one clears the others, "" clears all, a failed
// call changes nothing.
func testSetActiveObject(t *testing.T, e *env) {
	a, b := e.account("alice@demo.example"), e.account("bob@demo.example")
	const s = sealpost.ObjectSieveScript
	for _, n := range []string{"one", "two", "three"} {
		e.putObject(script(a.ID, n, n), 0)
	}
	e.putObject(script(b.ID, "one", "bob's"), 0)
	e.putObject(sealpost.AccountObject{Account: a.ID, Kind: sealpost.ObjectVacation, Name: "one"}, 0)
	active := func(acct sealpost.AccountID, kind sealpost.ObjectKind, want ...string) {
		t.Helper()
		if got := activeNames(e.objects(acct, kind)); !slices.Equal(got, want) {
			t.Fatalf("active %s of %d: %q, want %q", kind, acct, got, want)
		}
	}
	setActive := func(acct sealpost.AccountID, kind sealpost.ObjectKind, name string) {
		t.Helper()
		if err := e.s.SetActiveObject(ctx, acct, kind, name); err != nil {
			t.Fatalf("SetActiveObject(%q): %v", name, err)
		}
	}
	active(a.ID, s)
	setActive(a.ID, s, "one")
	setActive(b.ID, s, "one")
	setActive(a.ID, sealpost.ObjectVacation, "one")
	active(a.ID, s, "one")
	setActive(a.ID, s, "two")
	active(a.ID, s, "two")
	setActive(a.ID, s, "two") // again: still the one
	active(a.ID, s, "two")
	wantKind(t, e.s.SetActiveObject(ctx, a.ID, s, "four"), errors.NotExist, "SetActiveObject of an absent script")
	active(a.ID, s, "two")
	setActive(a.ID, s, "")
	active(a.ID, s)
	setActive(a.ID, s, "") // none was active: still fine
	active(a.ID, s)
	// Other accounts and kinds were never touched.
	active(b.ID, s, "one")
	active(a.ID, sealpost.ObjectVacation, "one")
}

// testObjectsDeleteWithAccount checks that an account's objects go with
// it, and only its own.
func testObjectsDeleteWithAccount(t *testing.T, e *env) {
	a, b := e.account("alice@demo.example"), e.account("bob@demo.example")
	e.putObject(script(a.ID, "main", "a"), 0)
	e.putObject(sealpost.AccountObject{Account: a.ID, Kind: sealpost.ObjectFilterKey, Name: sealpost.FilterKeyOwner, Data: []byte("wrap")}, 0)
	e.putObject(script(b.ID, "main", "b"), 0)
	if _, err := e.s.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.s.Object(ctx, a.ID, sealpost.ObjectSieveScript, "main")
	wantKind(t, err, errors.NotExist, "Object of a deleted account")
	list, err := e.s.Objects(ctx, a.ID, sealpost.ObjectFilterKey)
	wantNotExistOrEmpty(t, list, err, "Objects of a deleted account")
	wantObject(t, e.object(b.ID, sealpost.ObjectSieveScript, "main"), script(b.ID, "main", "b"), "bob's script")
	// A new account under the same address starts with none.
	a2 := e.account("alice@demo.example")
	for _, k := range []sealpost.ObjectKind{sealpost.ObjectSieveScript, sealpost.ObjectFilterKey} {
		if list := e.objects(a2.ID, k); len(list) != 0 {
			t.Fatalf("the new alice's %s objects: %q", k, objectNames(list))
		}
	}
	inv, err := e.s.Inventory(ctx)
	if err != nil || len(inv.Orphans) != 0 {
		t.Fatalf("Inventory after deleting an account with objects: orphans %q, %v", inv.Orphans, err)
	}
}

// testObjectLimitConcurrent has many goroutines put distinct scripts
// under one max at once: the count and the insert are one transaction, so
// exactly max succeed and the rest are OverQuota.
func testObjectLimitConcurrent(t *testing.T, e *env) {
	const workers, max = 16, 5
	a := e.account("alice@demo.example")
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = e.s.PutObject(ctx, script(a.ID, fmt.Sprintf("s%02d", w), "x"), max)
		}()
	}
	wg.Wait()
	ok := 0
	for w, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(errors.OverQuota, err):
			t.Fatalf("worker %d: %v, want nil or OverQuota", w, err)
		}
	}
	if list := e.objects(a.ID, sealpost.ObjectSieveScript); ok != max || len(list) != max {
		t.Fatalf("%d puts succeeded and %d scripts stored under max %d", ok, len(list), max)
	}
}

// testSetActiveConcurrent has goroutines activate different scripts at
// once: each call succeeds, and one script is active at the end.
func testSetActiveConcurrent(t *testing.T, e *env) {
	const workers = 8
	a := e.account("alice@demo.example")
	for w := range workers {
		e.putObject(script(a.ID, fmt.Sprintf("s%d", w), "x"), 0)
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = e.s.SetActiveObject(ctx, a.ID, sealpost.ObjectSieveScript, fmt.Sprintf("s%d", w))
		}()
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("worker %d: %v", w, err)
		}
	}
	if got := activeNames(e.objects(a.ID, sealpost.ObjectSieveScript)); len(got) != 1 {
		t.Fatalf("active scripts after concurrent SetActiveObject: %q, want one", got)
	}
}

// testNoServerFilter round-trips the setting through SetSettings and
// Account, alone and with SaveSent.
func testNoServerFilter(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	for _, set := range []sealpost.AccountSettings{
		{NoServerFilter: true},
		{NoServerFilter: true, SaveSent: true},
		{SaveSent: true},
		{},
	} {
		if err := e.s.SetSettings(ctx, a.ID, set); err != nil {
			t.Fatal(err)
		}
		if got, err := e.s.Account(ctx, a.Address); err != nil || got.Settings != set {
			t.Fatalf("Account after SetSettings(%+v): %+v, %v", set, got.Settings, err)
		}
		if as, err := e.s.Accounts(ctx); err != nil || len(as) != 1 || as[0].Settings != set {
			t.Fatalf("Accounts after SetSettings(%+v): %+v, %v", set, as, err)
		}
	}
	if _, err := e.s.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	wantKind(t, e.s.SetSettings(ctx, a.ID, sealpost.AccountSettings{NoServerFilter: true}), errors.NotExist, "SetSettings of a deleted account")
}

// putObjects gives a's account one object of each kind, two scripts (the
// second active, named "" to try the stores' handling of an empty name),
// and returns them as Objects lists them, kind by kind.
func (e *env) putObjects(acct sealpost.AccountID) []sealpost.AccountObject {
	e.t.Helper()
	want := []sealpost.AccountObject{
		{Account: acct, Kind: sealpost.ObjectFilterKey, Name: sealpost.FilterKeyDelivery, Data: []byte("F to the region")},
		{Account: acct, Kind: sealpost.ObjectFilterKey, Name: sealpost.FilterKeyOwner, Data: []byte("F to the owner")},
		{Account: acct, Kind: sealpost.ObjectSieveScript, Name: "", Data: []byte("script ''"), Active: true},
		{Account: acct, Kind: sealpost.ObjectSieveScript, Name: "Ünïcode name", Data: []byte("script 2")},
		{Account: acct, Kind: sealpost.ObjectJunkModel, Data: []byte("model")},
		{Account: acct, Kind: sealpost.ObjectVacation, Data: nil},
	}
	for i := range want {
		want[i].Updated = updated.Add(time.Duration(i) * time.Minute)
		e.putObject(want[i], 0)
	}
	if err := e.s.SetActiveObject(ctx, acct, sealpost.ObjectSieveScript, "Ünïcode name"); err != nil {
		e.t.Fatal(err)
	}
	want[2].Active, want[3].Active = false, true
	return want
}

// allObjects lists every object of the account, kind by kind.
func (e *env) allObjects(acct sealpost.AccountID) []sealpost.AccountObject {
	e.t.Helper()
	var out []sealpost.AccountObject
	for _, k := range []sealpost.ObjectKind{sealpost.ObjectFilterKey, sealpost.ObjectSieveScript, sealpost.ObjectJunkModel, sealpost.ObjectVacation} {
		out = append(out, e.objects(acct, k)...)
	}
	return out
}

// withAccount is objects with their Account set to acct.
func withAccount(objects []sealpost.AccountObject, acct sealpost.AccountID) []sealpost.AccountObject {
	out := slices.Clone(objects)
	for i := range out {
		out[i].Account = acct
	}
	return out
}

// testObjectsImage moves an account with objects and the strictest
// setting to another store: the image carries them, in kind and name
// order, and the import keeps their data, Active and Updated. An image
// whose objects Check refuses, or with two of one name or two active of
// one kind, is Invalid and stores nothing.
func testObjectsImage(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	a.Settings = sealpost.AccountSettings{NoServerFilter: true}
	if err := e.s.SetSettings(ctx, a.ID, a.Settings); err != nil {
		t.Fatal(err)
	}
	want := e.putObjects(a.ID)
	wantObjects(t, e.allObjects(a.ID), want, "objects as listed")
	img := e.export(a.Address)
	if img.Account.Settings != a.Settings {
		t.Fatalf("exported settings %+v, want %+v", img.Account.Settings, a.Settings)
	}
	wantObjects(t, img.Objects, want, "exported objects")

	dst := e.another()
	dst.account("carol@demo.example") // so that IDs differ
	got := dst.importImage(img)
	if got.Settings != a.Settings {
		t.Fatalf("imported settings %+v, want %+v", got.Settings, a.Settings)
	}
	wantObjects(t, dst.allObjects(got.ID), withAccount(want, got.ID), "imported objects")
	wantObjects(t, dst.export(a.Address).Objects, withAccount(want, got.ID), "objects exported again")
	if acct, err := dst.s.Account(ctx, a.Address); err != nil || acct.Settings != a.Settings {
		t.Fatalf("Account after import: %+v, %v", acct, err)
	}
	// The imported objects work as any: the active script can be changed,
	// and "" (a name here) is not made active by "".
	if err := dst.s.SetActiveObject(ctx, got.ID, sealpost.ObjectSieveScript, ""); err != nil {
		t.Fatal(err)
	}
	if act := activeNames(dst.objects(got.ID, sealpost.ObjectSieveScript)); len(act) != 0 {
		t.Fatalf("active scripts after SetActiveObject(\"\"): %q", act)
	}

	// An image whose script "" is active, imported: SetActiveObject("")
	// clears it too.
	img2 := img
	img2.Account.Address = "dave@demo.example"
	img2.Objects = slices.Clone(img.Objects)
	img2.Objects[2].Active, img2.Objects[3].Active = true, false
	d := dst.importImage(img2)
	if act := activeNames(dst.objects(d.ID, sealpost.ObjectSieveScript)); !slices.Equal(act, []string{""}) {
		t.Fatalf("dave's active scripts: %q, want [\"\"]", act)
	}
	if err := dst.s.SetActiveObject(ctx, d.ID, sealpost.ObjectSieveScript, ""); err != nil {
		t.Fatal(err)
	}
	if act := activeNames(dst.objects(d.ID, sealpost.ObjectSieveScript)); len(act) != 0 {
		t.Fatalf("dave's active scripts after SetActiveObject(\"\"): %q", act)
	}

	for _, tt := range []struct {
		name   string
		change func(objs []sealpost.AccountObject) []sealpost.AccountObject
	}{
		{"a name twice", func(o []sealpost.AccountObject) []sealpost.AccountObject { return append(o, o[0]) }},
		{"two active scripts", func(o []sealpost.AccountObject) []sealpost.AccountObject { o[2].Active = true; return o }},
		{"an unknown kind", func(o []sealpost.AccountObject) []sealpost.AccountObject { o[0].Kind = 0; return o }},
		{"a bad name", func(o []sealpost.AccountObject) []sealpost.AccountObject { o[3].Name = "a\nb"; return o }},
		{"data too large", func(o []sealpost.AccountObject) []sealpost.AccountObject {
			o[4].Data = make([]byte, sealpost.MaxObjectSize+1)
			return o
		}},
		{"a time out of range", func(o []sealpost.AccountObject) []sealpost.AccountObject {
			o[5].Updated = time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)
			return o
		}},
	} {
		bad := img
		bad.Account.Address = "erin@demo.example"
		bad.Objects = tt.change(slices.Clone(img.Objects))
		_, err := dst.s.ImportAccount(ctx, bad)
		wantKind(t, err, errors.Invalid, "ImportAccount with "+tt.name)
		if _, err := dst.s.Account(ctx, bad.Account.Address); !errors.Is(errors.NotExist, err) && !errors.Is(errors.WrongRegion, err) {
			t.Fatalf("the account of a refused import (%s): %v", tt.name, err)
		}
	}
}

// testObjectsReopen checks that objects, their Active and the setting
// outlive the process.
func testObjectsReopen(t *testing.T, e *env) {
	a := e.account("alice@demo.example")
	want := e.putObjects(a.ID)
	set := sealpost.AccountSettings{NoServerFilter: true}
	if err := e.s.SetSettings(ctx, a.ID, set); err != nil {
		t.Fatal(err)
	}
	s2 := e.h.Reopen(t, e.s)
	e2 := &env{t: t, s: s2, h: e.h}
	if acct, err := s2.Account(ctx, a.Address); err != nil || acct.Settings != set {
		t.Fatalf("Account after reopen: %+v, %v", acct, err)
	}
	wantObjects(t, e2.allObjects(a.ID), want, "objects after reopen")
	wantKind(t, e.s.PutObject(ctx, script(a.ID, "late", "x"), 0), errors.Unavailable, "PutObject after Close")
}
