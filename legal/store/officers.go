package store

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Argon2Params are the Argon2id cost parameters of officer passwords
// (RFC 9106 3.1). Its fields match config.Argon2, so a conversion
// store.Argon2Params(cfg.Argon2) works.
type Argon2Params struct {
	Time      uint32 // passes over memory, t
	MemoryKiB uint32 // memory in KiB, m
	Threads   uint8  // lanes, p
}

var (
	// DefaultArgon2 is RFC 9106 section 4's second recommended option
	// (t=3, m=64 MiB) with 2 lanes, as for account passwords.
	DefaultArgon2 = Argon2Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}
	// TestArgon2 is cheap, for tests only: it offers no protection.
	TestArgon2 = Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}
)

// Limits on parameters read from a stored hash, so that a tampered record
// cannot exhaust memory or time.
const (
	maxArgon2Time   = 100
	maxArgon2Memory = 4 << 20 // KiB: 4 GiB
	saltLen         = 16
	hashLen         = 32
)

func (p Argon2Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxArgon2Time:
		return errors.Errorf("argon2 time %d out of range 1..%d", p.Time, maxArgon2Time)
	case p.Threads < 1:
		return errors.Str("argon2 threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxArgon2Memory:
		return errors.Errorf("argon2 memory %d KiB out of range %d..%d", p.MemoryKiB, 8*uint32(p.Threads), maxArgon2Memory)
	}
	return nil
}

var b64 = base64.RawStdEncoding

// hashPassword returns the Argon2id hash of password with a fresh salt, in
// the PHC string format:
// $argon2id$v=19$m=<KiB>,t=<time>,p=<threads>$<salt>$<hash>, base64
// without padding.
func hashPassword(p Argon2Params, password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", errors.E(errors.Internal, err)
	}
	h := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, hashLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(h)), nil
}

// checkPassword reports whether password matches a PHC-form Argon2id hash,
// comparing in constant time. An unreadable hash is an error.
func checkPassword(phc, password string) (bool, error) {
	f := strings.Split(phc, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errors.Str("unsupported password hash")
	}
	var p Argon2Params
	var threads uint32
	if n, err := fmt.Sscanf(f[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &threads); n != 3 || err != nil || threads > 255 {
		return false, errors.Errorf("bad password hash parameters %q", f[3])
	}
	p.Threads = uint8(threads)
	if err := p.validate(); err != nil {
		return false, err
	}
	salt, err := b64.DecodeString(f[4])
	if err != nil || len(salt) < 8 {
		return false, errors.Str("bad password hash salt")
	}
	want, err := b64.DecodeString(f[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errors.Str("bad password hash")
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// checkOfficerName reports whether name can be an officer's name: printable,
// trimmed, and without commas (events list officers comma-separated).
func checkOfficerName(name string) error {
	if err := checkText("officer name", name); err != nil {
		return err
	}
	if strings.ContainsRune(name, ',') {
		return errors.E(errors.Invalid, errors.Errorf("officer name %q has a comma", name))
	}
	return nil
}

// AddOfficer registers a legal officer with a password, with the event
// officer.added (which names the officer, never the password). The
// password is kept only as its Argon2id hash. Exist if the name is taken.
func (s *Store) AddOfficer(ctx context.Context, name, password string) error {
	const op = "store.AddOfficer"
	if err := checkOfficerName(name); err != nil {
		return errors.E(op, err)
	}
	if password == "" {
		return errors.E(op, errors.Invalid, errors.Str("empty password"))
	}
	h, err := hashPassword(s.argon2, password)
	if err != nil {
		return errors.E(op, err)
	}
	now := time.Now()
	return s.tx(ctx, op, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM officers WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errors.E(errors.Exist, errors.Errorf("officer %q exists", name))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO officers (name, password_hash, added) VALUES (?, ?, ?)`, name, h, now.UnixNano()); err != nil {
			return err
		}
		return addEvent(ctx, tx, sealpost.EventOfficerAdded, "", ActorAdmin, now, map[string]string{"officer": name})
	})
}

// CheckOfficer checks an officer's name and password. A wrong password and
// an unknown name are the same Permission error, and take the same time
// (an unknown name is hashed against a dummy).
func (s *Store) CheckOfficer(ctx context.Context, name, password string) error {
	const op = "store.CheckOfficer"
	denied := errors.E(op, errors.Permission, errors.Str("wrong officer name or password"))
	var h string
	err := s.r.QueryRowContext(ctx, `SELECT password_hash FROM officers WHERE name = ?`, name).Scan(&h)
	if err == sql.ErrNoRows {
		hashPassword(s.argon2, password) // spend the time a real check would
		return denied
	}
	if err != nil {
		return errors.E(op, kindOf(err), err)
	}
	ok, err := checkPassword(h, password)
	if err != nil {
		return errors.E(op, errors.Internal, errors.Errorf("officer %q: %w", name, err))
	}
	if !ok {
		return denied
	}
	return nil
}

// Officers lists the legal officers' names, sorted.
func (s *Store) Officers(ctx context.Context) ([]string, error) {
	const op = "store.Officers"
	rows, err := s.r.QueryContext(ctx, `SELECT name FROM officers ORDER BY name`)
	if err != nil {
		return nil, errors.E(op, kindOf(err), err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, errors.E(op, errors.Internal, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	return out, nil
}
