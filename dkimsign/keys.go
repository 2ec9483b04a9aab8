// Package dkimsign owns the DKIM keys of the hosted domains and signing
// with them (RFC 6376; Ed25519 by RFC 8463): each domain has an Ed25519
// key (ed25519-sha256) and an RSA 2048 key (rsa-sha256), and every message
// is signed with both, so verifiers that do not know Ed25519 yet check the
// RSA signature and the others either.
//
// Private keys never touch disk in the clear: they are sealed to the
// deployment key (a sealpost.Sealer) when made and opened, through the
// opener the caller gives, once per process, when a domain first signs.
// Making and rotating keys needs only the public sealer; signing needs the
// opener.
//
// On disk, under the directory given to Open (dirs 0700, files 0600, each
// written atomically and fsynced with internal/durable):
//
//	<domain>/state.json        the selectors that sign, those still published after a rotation, every selector ever made
//	<domain>/<selector>.sealed PKCS #8 DER of the private key, sealed to the deployment key
//	<domain>/<selector>.txt    the DKIM TXT record value ("v=DKIM1; k=...; p=..."): public
//
// <domain> is in lower case with A-labels (RFC 5891). Selectors are
// "sp" + the year and month the pair was made + "e" (Ed25519) or "r"
// (RSA), and a sequence number from the second pair made in one month:
// sp202612e, sp202612r, then sp202612e2, sp202612r2. A selector is never
// reused for another key.
package dkimsign

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/idna"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
)

// The key algorithms (the k= tag of the DKIM record), in the order a
// domain's keys sign.
const (
	Ed25519 = "ed25519"
	RSA     = "rsa"
)

// rsaBits is the size of new RSA keys: RFC 8301 3.2 requires at least
// 1024 and recommends 2048; larger keys do not fit one DNS string and
// some providers' TXT records.
const rsaBits = 2048

// Keys holds the DKIM keys of every hosted domain. It is safe for
// concurrent use; several processes may share its directory (a command
// that rotates a domain's keys while the server runs), and Sign picks up
// the change on its next call.
type Keys struct {
	dir    string
	sealer sealpost.Sealer
	open   func(sealed []byte) ([]byte, error)

	mu sync.Mutex // serializes making, rotating, retiring and loading keys

	cacheMu sync.RWMutex
	cache   map[string]*signers // by domain: the opened private keys
}

// Open returns the DKIM keys filed under dir (created if missing). sealer
// seals new private keys; open opens a sealed one and may be nil when this
// process does not sign (Sign then fails with errors.Unavailable).
// Nothing is opened until a domain first signs.
func Open(dir string, sealer sealpost.Sealer, open func(sealed []byte) ([]byte, error)) (*Keys, error) {
	const op = "dkimsign.Open"
	if sealer == nil {
		return nil, errors.E(op, errors.Invalid, errors.Str("no sealer"))
	}
	if err := durable.PrivateDir(op, dir); err != nil {
		return nil, err
	}
	return &Keys{dir: dir, sealer: sealer, open: open, cache: map[string]*signers{}}, nil
}

// lock takes the Keys' mutex and the lock on its directory that other
// processes sharing it take too.
func (k *Keys) lock(op string) (unlock func(), err error) {
	k.mu.Lock()
	release, err := durable.Lock(filepath.Join(k.dir, ".lock"))
	if err != nil {
		k.mu.Unlock()
		return nil, errors.E(op, errors.Internal, err)
	}
	return func() { release(); k.mu.Unlock() }, nil
}

// Record is one DKIM key record to publish at Selector._domainkey.DOMAIN.
type Record struct {
	Selector  string
	Algorithm string // Ed25519 or RSA
	Value     string // the TXT value: "v=DKIM1; k=ed25519; p=..."
	// Retiring is when the key stopped signing, after a rotation: zero for
	// the keys that sign now. A retiring key stays published (so that mail
	// it signed still verifies) until Retire.
	Retiring time.Time
}

// state is a domain's state.json.
type state struct {
	Active   []string   `json:"active"` // the selectors that sign, Ed25519 first
	Retiring []retiring `json:"retiring,omitempty"`
	Used     []string   `json:"used"` // every selector ever made, never reused
}

type retiring struct {
	Selector string    `json:"selector"`
	Since    time.Time `json:"since"`
}

// DomainName returns domain as its keys are filed and its mail signed
// (d=): lower case, A-labels (RFC 5891), no trailing dot. Invalid if it
// is not a host name.
func DomainName(domain string) (string, error) {
	name, err := idna.Lookup.ToASCII(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), "."))
	if err != nil || name == "" || len(name) > 253 || !strings.Contains(name, ".") {
		return "", errors.E("dkimsign.DomainName", errors.Invalid, errors.Errorf("%q is not a domain name", domain))
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			strings.ContainsFunc(label, func(r rune) bool { return !(r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
			return "", errors.E("dkimsign.DomainName", errors.Invalid, errors.Errorf("%q is not a domain name", domain))
		}
	}
	return name, nil
}

// Ensure makes the domain's keys if it has none; if it has, it does
// nothing. Making keys needs only the sealer.
func (k *Keys) Ensure(domain string) error {
	return k.update("dkimsign.Ensure", domain, func(ddir string, st *state) (bool, error) {
		if len(st.Active) > 0 {
			return false, nil
		}
		if err := durable.PrivateDir("dkimsign.Ensure", ddir); err != nil {
			return false, err
		}
		return true, k.newPair(ddir, st)
	})
}

// Rotate makes a new key pair the domain's signing keys and returns their
// selectors. The old private keys are deleted; their public keys stay in
// Records, marked retiring, until Retire, so that mail they signed still
// verifies while in transit and for a while after (docs/DECISIONS.md).
// The new records must be published before the next message leaves.
func (k *Keys) Rotate(domain string) ([]string, error) {
	var active []string
	err := k.update("dkimsign.Rotate", domain, func(ddir string, st *state) (bool, error) {
		old := st.Active
		if len(old) == 0 {
			return false, noKeys(filepath.Base(ddir))
		}
		if err := k.newPair(ddir, st); err != nil {
			return false, err
		}
		since := time.Now().UTC()
		for _, sel := range old {
			st.Retiring = append(st.Retiring, retiring{Selector: sel, Since: since})
		}
		active = slices.Clone(st.Active)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return active, nil
}

// Retire stops publishing the domain's retiring keys (those Rotate
// replaced) and returns their selectors. Run it once mail they signed can
// no longer be in transit: a week after the rotation is ample (the queue
// gives up after five days).
func (k *Keys) Retire(domain string) ([]string, error) {
	var gone []string
	err := k.update("dkimsign.Retire", domain, func(ddir string, st *state) (bool, error) {
		if len(st.Active) == 0 {
			return false, noKeys(filepath.Base(ddir))
		}
		for _, r := range st.Retiring {
			gone = append(gone, r.Selector)
		}
		st.Retiring = nil
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return gone, nil
}

// update changes a domain's state under the lock: f gets the state (with
// no active keys if the domain has none) and the domain's directory, may
// change the state and write files there, and says whether to commit.
func (k *Keys) update(op, domain string, f func(ddir string, st *state) (commit bool, err error)) error {
	name, err := DomainName(domain)
	if err != nil {
		return errors.E(op, err)
	}
	unlock, err := k.lock(op)
	if err != nil {
		return err
	}
	defer unlock()
	st, _, err := readState(k.dir, name)
	if errors.Is(errors.NotExist, err) {
		st, err = &state{}, nil
	}
	if err != nil {
		return errors.E(op, err)
	}
	ddir := filepath.Join(k.dir, name)
	commit, err := f(ddir, st)
	if err != nil {
		return errors.E(op, err)
	}
	if !commit {
		return nil
	}
	return k.commit(op, ddir, st)
}

// noKeys is the error for a domain without keys.
func noKeys(name string) error {
	return errors.E(errors.NotExist, errors.Errorf("no DKIM keys for %s", name))
}

// Records returns the domain's DKIM records to publish: the signing keys,
// then the retiring ones.
func (k *Keys) Records(domain string) ([]Record, error) { return Records(k.dir, domain) }

// Records reads the DKIM records of a domain from a directory of keys
// (what Open was given) without opening anything: it needs neither the
// sealer nor the deployment key, nor a running server. NotExist if the
// domain has no keys.
func Records(dir, domain string) ([]Record, error) {
	const op = "dkimsign.Records"
	name, err := DomainName(domain)
	if err != nil {
		return nil, errors.E(op, err)
	}
	st, _, err := readState(dir, name)
	if err != nil {
		return nil, errors.E(op, err)
	}
	ddir := filepath.Join(dir, name)
	var out []Record
	add := func(sel string, since time.Time) error {
		v, err := os.ReadFile(filepath.Join(ddir, sel+".txt"))
		if err != nil {
			return errors.E(op, errors.Internal, err)
		}
		r := Record{Selector: sel, Value: string(v), Retiring: since}
		switch {
		case strings.Contains(r.Value, "; k=ed25519;"):
			r.Algorithm = Ed25519
		case strings.Contains(r.Value, "; k=rsa;"):
			r.Algorithm = RSA
		default:
			return errors.E(op, errors.Internal, errors.Errorf("%s.txt is not a DKIM key record", sel))
		}
		out = append(out, r)
		return nil
	}
	for _, sel := range st.Active {
		if err := add(sel, time.Time{}); err != nil {
			return nil, err
		}
	}
	for _, r := range st.Retiring {
		if err := add(r.Selector, r.Since); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// newPair makes an Ed25519 and an RSA key, writes their sealed private
// halves and their records into ddir, and makes them st's active keys
// (st is not written).
func (k *Keys) newPair(ddir string, st *state) error {
	month := "sp" + time.Now().UTC().Format("200601")
	seq := ""
	for n := 2; slices.Contains(st.Used, month+"e"+seq) || slices.Contains(st.Used, month+"r"+seq); n++ {
		seq = strconv.Itoa(n)
	}
	var active []string
	for _, alg := range []string{Ed25519, RSA} {
		sel := month + alg[:1] + seq // "e" or "r"
		if err := k.newKey(ddir, sel, alg); err != nil {
			return err
		}
		active = append(active, sel)
	}
	st.Active = active
	st.Used = append(st.Used, active...)
	return nil
}

// newKey makes one key and writes its two files. The private key exists
// in the clear only in this process's memory, and is cleared after
// sealing.
func (k *Keys) newKey(ddir, sel, alg string) error {
	var priv crypto.Signer
	switch alg {
	case Ed25519:
		_, p, err := ed25519.GenerateKey(nil)
		if err != nil {
			return errors.E(errors.Internal, err)
		}
		priv = p
	default:
		p, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			return errors.E(errors.Internal, err)
		}
		priv = p
	}
	value, err := recordValue(priv.Public())
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	var sealed bytes.Buffer
	err = k.sealer.Seal(&sealed, der)
	clear(der)
	if err != nil {
		return errors.E(errors.Internal, err)
	}
	if err := durable.WriteFile(filepath.Join(ddir, sel+".sealed"), sealed.Bytes(), 0o600); err != nil {
		return errors.E(errors.Internal, err)
	}
	if err := durable.WriteFile(filepath.Join(ddir, sel+".txt"), []byte(value), 0o600); err != nil {
		return errors.E(errors.Internal, err)
	}
	return nil
}

// recordValue is the DKIM TXT record of a public key (RFC 6376 3.6.1): for
// RSA, p= is the DER SubjectPublicKeyInfo; for Ed25519, the raw 32-byte
// key (RFC 8463 4.2).
func recordValue(pub crypto.PublicKey) (string, error) {
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", errors.E(errors.Internal, err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	}
	return "", errors.E(errors.Internal, errors.Errorf("unsupported key type %T", pub))
}

// commit writes st as the domain's state (the step that makes a change
// take effect), then deletes the files it no longer names: the private
// keys of retiring keys, the records of retired ones, and what a crash
// left behind.
func (k *Keys) commit(op, ddir string, st *state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return errors.E(op, errors.Internal, err)
	}
	if err := durable.WriteFile(filepath.Join(ddir, "state.json"), append(b, '\n'), 0o600); err != nil {
		return errors.E(op, errors.Internal, err)
	}
	entries, err := os.ReadDir(ddir)
	if err != nil {
		return errors.E(op, errors.Internal, err)
	}
	published := slices.Clone(st.Active)
	for _, r := range st.Retiring {
		published = append(published, r.Selector)
	}
	for _, e := range entries {
		sel, ext, _ := strings.Cut(e.Name(), ".")
		keep := e.Name() == "state.json" ||
			ext == "sealed" && slices.Contains(st.Active, sel) ||
			ext == "txt" && slices.Contains(published, sel)
		if !keep {
			if err := os.Remove(filepath.Join(ddir, e.Name())); err != nil {
				return errors.E(op, errors.Internal, err)
			}
		}
	}
	return nil
}

// readState reads a domain's state.json and returns it with the file's
// identity (to notice a later change). NotExist if the domain has no keys.
func readState(dir, name string) (*state, os.FileInfo, error) {
	const op = "dkimsign.readState"
	f, err := os.Open(filepath.Join(dir, name, "state.json"))
	if os.IsNotExist(err) {
		return nil, nil, errors.E(op, noKeys(name))
	}
	if err != nil {
		return nil, nil, errors.E(op, errors.Internal, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, errors.E(op, errors.Internal, err)
	}
	var st state
	if err := json.NewDecoder(f).Decode(&st); err != nil {
		return nil, nil, errors.E(op, errors.Internal, errors.Errorf("%s/state.json: %w", name, err))
	}
	if len(st.Active) != 2 {
		return nil, nil, errors.E(op, errors.Internal, errors.Errorf("%s/state.json names %d signing keys, not 2", name, len(st.Active)))
	}
	return &st, fi, nil
}
