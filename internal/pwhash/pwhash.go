// Package pwhash owns Sealpost's Argon2id (RFC 9106): the cost parameters
// with their default, test values and the limits a stored record may ask
// for, the one call that runs Argon2id, and the PHC string form
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash) that legal officers' passwords are
// stored in.
//
// It holds no key and knows no mail: package seal builds its account key
// hierarchy on Key, and legal/store keeps officer passwords with Hash and
// Check, without either importing the other (legal/* never imports seal).
package pwhash

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/sealpost/sealpost/errors"
)

// Params are Argon2id cost parameters (RFC 9106 3.1). Every stored record
// keeps the parameters it was made with, so they can be raised later
// without invalidating what is stored.
type Params struct {
	Time      uint32 // passes over memory, t
	MemoryKiB uint32 // memory in KiB, m
	Threads   uint8  // lanes, p
}

var (
	// DefaultParams is RFC 9106 section 4's second recommended option
	// (t=3, m=64 MiB) with 2 lanes instead of 4, matching a 2-core server
	// (more lanes than cores only add latency).
	DefaultParams = Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}
	// TestParams is cheap, for tests only: it offers no protection.
	TestParams = Params{Time: 1, MemoryKiB: 64, Threads: 1}
)

// Limits on parameters, checked before any work is done, so that a forged
// stored record cannot make the server allocate unbounded memory or spin
// without end.
const (
	MaxTime      = 100
	MaxMemoryKiB = 4 << 20 // 4 GiB
)

// Validate reports whether p is usable: at least one pass and one lane,
// the 8 KiB per lane Argon2 requires (RFC 9106 3.1), and within MaxTime and
// MaxMemoryKiB. The error is a plain cause, for the caller to wrap with its
// Op and the Kind that fits (Invalid, as a rule).
func (p Params) Validate() error {
	switch {
	case p.Time < 1 || p.Time > MaxTime:
		return errors.Errorf("argon2 time %d out of range 1..%d", p.Time, MaxTime)
	case p.Threads < 1:
		return errors.Str("argon2 threads must be at least 1")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > MaxMemoryKiB:
		return errors.Errorf("argon2 memory %d KiB out of range %d..%d", p.MemoryKiB, 8*uint32(p.Threads), MaxMemoryKiB)
	}
	return nil
}

// Key runs Argon2id (version 0x13) once over secret and salt with p and
// returns n bytes. p must be valid (Validate): Key does not check it, and
// Argon2 panics on zero lanes.
func Key(secret, salt []byte, p Params, n uint32) []byte {
	return argon2.IDKey(secret, salt, p.Time, p.MemoryKiB, p.Threads, n)
}

// The PHC form Hash writes.
const (
	saltLen = 16
	hashLen = 32
)

var b64 = base64.RawStdEncoding

// Hash returns the Argon2id hash of password under a fresh random salt, in
// the PHC string format: $argon2id$v=19$m=<KiB>,t=<time>,p=<threads>$<salt>$<hash>,
// base64 without padding, a 16-byte salt and a 32-byte hash. Invalid
// parameters are an Invalid error.
func Hash(p Params, password string) (string, error) {
	const op = "pwhash.Hash"
	if err := p.Validate(); err != nil {
		return "", errors.E(op, errors.Invalid, err)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", errors.E(op, errors.Internal, err)
	}
	h := Key([]byte(password), salt, p, hashLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(h)), nil
}

// Check reports whether password matches a PHC-form Argon2id hash, with the
// parameters the hash records (not the current defaults), comparing in
// constant time. A hash it cannot read, or whose parameters are outside the
// limits, is an Invalid error (and no Argon2id is run).
func Check(phc, password string) (bool, error) {
	const op = "pwhash.Check"
	f := strings.Split(phc, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errors.E(op, errors.Invalid, errors.Str("unsupported password hash"))
	}
	var p Params
	var threads uint32
	if n, err := fmt.Sscanf(f[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &threads); n != 3 || err != nil || threads > 255 {
		return false, errors.E(op, errors.Invalid, errors.Errorf("bad password hash parameters %q", f[3]))
	}
	p.Threads = uint8(threads)
	if err := p.Validate(); err != nil {
		return false, errors.E(op, errors.Invalid, err)
	}
	salt, err := b64.DecodeString(f[4])
	if err != nil || len(salt) < 8 {
		return false, errors.E(op, errors.Invalid, errors.Str("bad password hash salt"))
	}
	want, err := b64.DecodeString(f[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errors.E(op, errors.Invalid, errors.Str("bad password hash"))
	}
	got := Key([]byte(password), salt, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
