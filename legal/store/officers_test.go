package store

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

func TestOfficers(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	const pw = "correct horse battery staple"
	if err := s.AddOfficer(ctx, "olivia", pw); err != nil {
		t.Fatal(err)
	}
	if err := s.AddOfficer(ctx, "Oscar Wilde", "another secret"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, password string
		want           errors.Kind
	}{
		{"olivia", pw, errors.Other},
		{"olivia", pw + " ", errors.Permission},
		{"olivia", "", errors.Permission},
		{"Olivia", pw, errors.Permission},
		{"nobody", pw, errors.Permission},
		{"", "", errors.Permission},
		{"Oscar Wilde", "another secret", errors.Other},
	} {
		err := s.CheckOfficer(ctx, tc.name, tc.password)
		if errors.KindOf(err) != tc.want || (tc.want == errors.Other && err != nil) {
			t.Errorf("CheckOfficer(%q, %q) = %v, want kind %v", tc.name, tc.password, err, tc.want)
		}
	}
	// A wrong password and an unknown name say the same thing.
	e1 := s.CheckOfficer(ctx, "olivia", "wrong")
	e2 := s.CheckOfficer(ctx, "nobody", "wrong")
	if e1 == nil || e2 == nil || e1.Error() != e2.Error() {
		t.Errorf("wrong password %v, unknown name %v", e1, e2)
	}

	wantKind(t, s.AddOfficer(ctx, "olivia", "x"), errors.Exist)
	for _, bad := range []struct{ name, pw string }{{"", "x"}, {" olivia2", "x"}, {"a,b", "x"}, {"tab\there", "x"}, {"olivia2", ""}} {
		wantKind(t, s.AddOfficer(ctx, bad.name, bad.pw), errors.Invalid)
	}
	names, err := s.Officers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(names, []string{"Oscar Wilde", "olivia"}) {
		t.Errorf("officers %v", names)
	}

	// The hash is in PHC form with the configured parameters; the password
	// is nowhere in the files.
	db, err := sql.Open("sqlite", filepath.Join(dir, "legal.db")+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var h string
	if err := db.QueryRow(`SELECT password_hash FROM officers WHERE name = 'olivia'`).Scan(&h); err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(h) {
		t.Errorf("hash %q is not PHC argon2id with m=64,t=1,p=1", h)
	}
	for _, f := range []string{"legal.db", "legal.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil && f == "legal.db" {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(pw)) {
			t.Errorf("%s holds the password", f)
		}
	}
	evs, err := s.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		for k, v := range e.Detail {
			if strings.Contains(v, pw) {
				t.Errorf("event %d detail %s holds the password", e.Seq, k)
			}
		}
	}
}

// TestStoredOfficerHash checks that officers whose hashes an earlier build
// stored (other parameters than the store's, read from the hash) still log
// in, and that an unreadable hash is an Internal error, not a denial.
func TestStoredOfficerHash(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for _, name := range []string{"olivia", "oscar", "broken"} {
		if err := s.AddOfficer(ctx, name, "to be replaced"); err != nil {
			t.Fatal(err)
		}
	}
	for name, h := range map[string]string{
		"olivia": "$argon2id$v=19$m=64,t=1,p=1$PEBscV7IzPkJX3BiR3thQg$FTWfXj26aqmcKoIptvwZriZWaZ5Q+okEgfXLBZ4IPJo",
		"oscar":  "$argon2id$v=19$m=128,t=2,p=2$dK4r2cwTCTf1JjjHXc+jUQ$YZOfiAW/5yWRDsozDDFqpc4V49XP38+bayqY9/nS4ls",
		"broken": "$argon2id$v=19$m=64,t=1000,p=1$PEBscV7IzPkJX3BiR3thQg$FTWfXj26aqmcKoIptvwZriZWaZ5Q+okEgfXLBZ4IPJo",
	} {
		if _, err := s.db.W.Exec(`UPDATE officers SET password_hash = ? WHERE name = ?`, h, name); err != nil {
			t.Fatal(err)
		}
	}
	const pw = "correct horse battery staple"
	for _, name := range []string{"olivia", "oscar"} {
		if err := s.CheckOfficer(ctx, name, pw); err != nil {
			t.Errorf("%s with a stored hash: %v", name, err)
		}
		wantKind(t, s.CheckOfficer(ctx, name, "to be replaced"), errors.Permission)
	}
	wantKind(t, s.CheckOfficer(ctx, "broken", pw), errors.Internal)
}
