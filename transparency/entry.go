// Package transparency turns Sealpost's events (sealpost.Event: every step
// of a lawful demand, every access to a mailbox by anyone but its owner,
// every move, reset and policy change) into the public entries of its
// transparency log (package tlog), and gives each account's owner the means
// to find and check the entries about them.
//
// Entries name no one. An entry about an account carries a blinded subject,
// HMAC-SHA256(account secret, salt), where the account secret is derived
// from the deployment's blinding key and the address (AccountSecret) and is
// shown only to the account's owner once signed in, and the salt is
// per-entry, derived from the same key and the entry's place in its source
// (so it is reproducible after a crash, and unguessable). The public sees
// kinds, counts and timing; an owner tests each entry's subject with their
// secret.
//
// An entry written while a nondisclosure order is in force for its demand
// omits its salt: not even the owner can recognise it. When the order
// lapses and the owner is notified, the notice's entry reveals the salts of
// the entries it had covered (Reveals), so the log alone shows what was
// hidden and when it came out. Entries for instruments the policy withholds
// entirely (national-security requests) are published as a commitment only
// (Withheld): a hash of the salted entry, dated to the day.
//
// Entries are canonical JSON, one object, fields in the order of Entry, so
// that the same event always makes the same bytes.
package transparency

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Version is the entry format's version, the "v" of every entry.
const Version = 1

// Sources of events, an entry's Src.
const (
	SourceLegal   = "legal"   // the legal store's event outbox (legal/store)
	SourceJournal = "journal" // the operator's event journal (journal)
)

// KindWithheld is the Kind of an entry published as a commitment only. It
// is not the kind of any event (it is no sealpost.EventKinds member, and has
// no dot as every event kind has): it stands in for the kind it hides.
const KindWithheld sealpost.EventKind = "withheld"

// An Entry is one record of the transparency log as published.
type Entry struct {
	V   int    `json:"v"`
	Src string `json:"src"` // the source of the event (SourceLegal, SourceJournal)
	Seq int64  `json:"seq"` // the event's sequence number in its source
	// Time is when the event happened, RFC 3339 UTC to the second, or
	// only the day (2006-01-02) for a withheld entry.
	Time string `json:"time"`
	// Kind is the event's kind, or KindWithheld.
	Kind sealpost.EventKind `json:"kind"`
	// Actor is the role that acted: policy, officer, admin, owner,
	// system. Never a person's name.
	Actor string `json:"actor,omitempty"`
	// Subject is the blinded account, hex HMAC-SHA256(secret, salt); empty
	// for an event about no account.
	Subject string `json:"subject,omitempty"`
	// Salt is the hex salt of Subject, absent while a nondisclosure order
	// covers the entry.
	Salt string `json:"salt,omitempty"`
	// Detail holds the event's public facts (PublicDetail).
	Detail map[string]string `json:"detail,omitempty"`
	// Reveals gives the salts of earlier entries whose nondisclosure
	// order has lapsed.
	Reveals []Reveal `json:"reveals,omitempty"`
	// Commit is, for a withheld entry only, the hex SHA-256 commitment to
	// the entry it stands for (Commitment).
	Commit string `json:"commit,omitempty"`
	// Opens opens earlier withheld entries once the order that kept them
	// secret has lapsed.
	Opens []Opening `json:"opens,omitempty"`
}

// An Opening discloses what the withheld entry at Index stood for: the
// full entry (its canonical encoding) and the salt of its commitment, so
// that anyone can check Commitment(Entry, Salt) against the withheld
// entry's Commit.
type Opening struct {
	Index uint64 `json:"index"`
	Salt  string `json:"salt"`
	Entry string `json:"entry"`
}

// Check reports whether o opens the withheld entry w.
func (o Opening) Check(w Entry) bool {
	full, err := Parse([]byte(o.Entry))
	salt, herr := hex.DecodeString(o.Salt)
	return err == nil && herr == nil && w.Kind == KindWithheld && Commitment(full, salt) == w.Commit
}

// A Reveal discloses the salt of the entry at Index.
type Reveal struct {
	Index uint64 `json:"index"`
	Salt  string `json:"salt"`
}

// Marshal returns e's canonical encoding.
func (e Entry) Marshal() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		panic(err) // only strings, ints and maps of strings: cannot fail
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Parse decodes an entry, refusing unknown fields, another version and
// anything but the canonical encoding (so two readers can never disagree on
// what an entry says).
func Parse(data []byte) (Entry, error) {
	const op = "transparency.Parse"
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Entry{}, errors.E(op, errors.Invalid, err)
	}
	if dec.More() {
		return Entry{}, errors.E(op, errors.Invalid, errors.Str("data after the entry"))
	}
	if e.V != Version {
		return Entry{}, errors.E(op, errors.Invalid, errors.Errorf("entry version %d, want %d", e.V, Version))
	}
	if e.Kind == "" || e.Src == "" || e.Time == "" {
		return Entry{}, errors.E(op, errors.Invalid, errors.Str("entry lacks kind, src or time"))
	}
	if _, err := e.When(); err != nil {
		return Entry{}, errors.E(op, errors.Invalid, errors.Errorf("entry time %q", e.Time))
	}
	fields := []struct {
		name, val string
		n         int
	}{{"subject", e.Subject, 32}, {"salt", e.Salt, 16}, {"commit", e.Commit, 32}}
	for _, r := range e.Reveals {
		fields = append(fields, struct {
			name, val string
			n         int
		}{"reveals.salt", r.Salt, 16})
	}
	for _, o := range e.Opens {
		fields = append(fields, struct {
			name, val string
			n         int
		}{"opens.salt", o.Salt, 16})
	}
	for _, f := range fields {
		if f.val != "" && !lowerHex(f.val, f.n) {
			return Entry{}, errors.E(op, errors.Invalid, errors.Errorf("entry %s is not %d bytes in lower-case hex", f.name, f.n))
		}
	}
	if !bytes.Equal(e.Marshal(), data) {
		return Entry{}, errors.E(op, errors.Invalid, errors.Str("entry is not in canonical form"))
	}
	return e, nil
}

// lowerHex reports whether s is n bytes in lower-case hex.
func lowerHex(s string, n int) bool {
	if len(s) != 2*n {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// When returns the entry's time (midnight UTC for a withheld entry's day).
func (e Entry) When() (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, e.Time); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, e.Time)
	if err != nil {
		return time.Time{}, errors.E("transparency.When", errors.Invalid, err)
	}
	return t, nil
}

// A Blinder holds the deployment's blinding key (32 random bytes, kept
// beside the other deployment keys) and derives from it every account
// secret and entry salt.
type Blinder struct{ key []byte }

// KeySize is the size of a blinding key.
const KeySize = 32

// NewBlinder returns a Blinder for key, which must be KeySize bytes.
func NewBlinder(key []byte) (*Blinder, error) {
	if len(key) != KeySize {
		return nil, errors.E("transparency.NewBlinder", errors.Invalid, errors.Errorf("blinding key is %d bytes, want %d", len(key), KeySize))
	}
	return &Blinder{key: slices.Clone(key)}, nil
}

func (b *Blinder) mac(label string, parts ...string) []byte {
	m := hmac.New(sha256.New, b.key)
	m.Write([]byte("sealpost/log/" + label + "/v1"))
	for _, p := range parts {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		m.Write(n[:])
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// AccountSecret returns the secret that recognises addr's entries: what the
// owner is shown once signed in, and nobody else.
func (b *Blinder) AccountSecret(addr string) []byte {
	return b.mac("account-secret", sealpost.NormalizeAddress(addr))
}

// Salt returns the salt of the entry for event seq of src (16 bytes).
func (b *Blinder) Salt(src string, seq int64) []byte {
	return b.mac("salt", src, strconv.FormatInt(seq, 10))[:16]
}

// IndexKey returns the private key under which the operator's index files
// addr's entries (not the address itself, so the index file names no one).
func (b *Blinder) IndexKey(addr string) string {
	return hex.EncodeToString(b.mac("index", sealpost.NormalizeAddress(addr)))
}

// Subject returns the blinded subject for an account secret and a salt.
func Subject(secret, salt []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(salt)
	return hex.EncodeToString(m.Sum(nil))
}

// Mine reports whether e is about the account whose secret is given, using
// e's own salt or, for a covered entry, salt (hex) from a Reveal or from
// the owner's page; "" means e's own.
func Mine(e Entry, secret []byte, salt string) bool {
	if salt == "" {
		salt = e.Salt
	}
	s, err := hex.DecodeString(salt)
	if err != nil || salt == "" || e.Subject == "" {
		return false
	}
	return hmac.Equal([]byte(Subject(secret, s)), []byte(e.Subject))
}

// Commitment returns the commitment a withheld entry publishes for the
// entry full and its salt: hex SHA-256 over a label, the salt and full's
// canonical encoding.
func Commitment(full Entry, salt []byte) string {
	h := sha256.New()
	h.Write([]byte("sealpost/log/withheld/v1\n"))
	h.Write(salt)
	h.Write(full.Marshal())
	return hex.EncodeToString(h.Sum(nil))
}

// publicDetail lists the facts of an event that an entry may publish; any
// other key of an event's detail (an authority's name, an officer's name, a
// note) stays out of the log.
var publicDetail = map[string]bool{
	// demands (legal/store)
	"demand": true, "country": true, "instrument": true, "requesting_country": true,
	"categories": true, "received": true, "nondisclosure_until": true, "decision": true,
	"yields": true, "route": true, "preserve": true, "category_decisions": true,
	"policy_version": true, "state": true, "from": true, "to": true, "approvals": true,
	"targets": true, "documents": true, "manifest_sha256": true, "disclosure": true,
	"notice": true, "due": true,
	// moves and administration (region, journal)
	"from_region": true, "to_region": true, "phase": true, "reason": true,
	// policy changes and the canary
	"version": true, "sha256": true, "statement_sha256": true, "expires": true, "lapsed": true,
	// a residency audit
	"findings": true,
}

// PublicDetail returns the part of an event's detail an entry publishes.
func PublicDetail(d map[string]string) map[string]string {
	var out map[string]string
	for k, v := range d {
		if publicDetail[k] {
			if out == nil {
				out = make(map[string]string)
			}
			out[k] = v
		}
	}
	return out
}

// Role maps an event's actor to the role an entry names: the policy, the
// owner, the administrator and the system by name, anyone else (a legal
// officer, or several) as "officer".
func Role(actor string) string {
	switch actor {
	case "", "policy", "owner", "admin", "system":
		return actor
	}
	return "officer"
}

// Gagged reports whether a nondisclosure order in detail covers an event
// at t: the order runs until the start (UTC) of its nondisclosure_until
// day, when the notices it held back fall due.
func Gagged(detail map[string]string, t time.Time) bool {
	until, ok := detail["nondisclosure_until"]
	if !ok {
		return false
	}
	d, err := time.Parse(time.DateOnly, until)
	if err != nil {
		return true // unreadable: keep covered rather than reveal
	}
	return t.Before(d)
}

// Withholding decides which events are published as a commitment only.
type Withholding struct {
	// Instruments whose demands' events are withheld (the policy's
	// list; e.g. national_security_request).
	Instruments []string
}

// Withheld reports whether an event at t with detail is withheld: its
// instrument is listed, and no nondisclosure order's end has passed (an
// order without an end keeps it withheld).
func (w Withholding) Withheld(detail map[string]string, t time.Time) bool {
	if detail["instrument"] == "" || !slices.Contains(w.Instruments, detail["instrument"]) {
		return false
	}
	_, bounded := detail["nondisclosure_until"]
	return !bounded || Gagged(detail, t)
}

// Listed reports whether events with detail are of an instrument w lists
// (withheld while their order runs).
func (w Withholding) Listed(detail map[string]string) bool {
	return detail["instrument"] != "" && slices.Contains(w.Instruments, detail["instrument"])
}

// Build makes the entry for event e, the seq'th of src. It returns the entry
// as published and, for a withheld one, the full entry it commits to.
// reveals and opens are added to the entry as given.
func (b *Blinder) Build(src string, seq int64, e sealpost.Event, w Withholding, reveals []Reveal, opens ...Opening) (published Entry, full Entry) {
	salt := b.Salt(src, seq)
	full = Entry{
		V: Version, Src: src, Seq: seq,
		Time:   e.Time.UTC().Truncate(time.Second).Format(time.RFC3339),
		Kind:   e.Kind,
		Actor:  Role(e.Actor),
		Detail: PublicDetail(e.Detail),
	}
	if e.Account != "" {
		full.Subject = Subject(b.AccountSecret(e.Account), salt)
		if !Gagged(e.Detail, e.Time) {
			full.Salt = hex.EncodeToString(salt)
		}
	}
	full.Reveals = reveals
	full.Opens = opens
	if !w.Withheld(e.Detail, e.Time) {
		return full, full
	}
	return Entry{
		V: Version, Src: src, Seq: seq,
		Time:   e.Time.UTC().Format(time.DateOnly),
		Kind:   KindWithheld,
		Commit: Commitment(full, salt),
	}, full
}

// DemandOf returns the demand an entry is about, "" if none.
func (e Entry) DemandOf() string { return e.Detail["demand"] }

// String is a one-line summary for logs and the command line.
func (e Entry) String() string {
	var s strings.Builder
	s.WriteString(e.Time + " " + string(e.Kind))
	if d := e.DemandOf(); d != "" {
		s.WriteString(" " + d)
	}
	if len(e.Subject) >= 12 {
		s.WriteString(" subject " + e.Subject[:12])
	}
	return s.String()
}

// Checked is what an owner is shown of the log: the checkpoint the proofs
// are against and the entries about them.
type Checked struct {
	Checkpoint  []byte // signed note
	VerifierKey string // note verifier key
	Entries     []Owned
}

// Owned is one entry about an account, with its inclusion proof.
type Owned struct {
	Index uint64
	Data  []byte // the entry as logged
	Entry Entry  // parsed
	// Salt (hex) recognises the entry as the owner's: its own, or for an
	// entry a lapsed nondisclosure order covered, the revealed one.
	Salt string
	// Proof is the RFC 6962 inclusion proof of Data at Index in the tree
	// of Checkpoint's size, leaf first.
	Proof [][32]byte
}
