package dkimsign

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/sealpost/sealpost/errors"
)

// signers are a domain's opened signing keys, and the state.json they
// were read from.
type signers struct {
	state os.FileInfo
	keys  []key
}

type key struct {
	selector string
	signer   crypto.Signer
}

// oversigned are the header fields RFC 5322 3.6 and RFC 2045 allow at most
// once. Each is signed one time more than it occurs (RFC 6376 5.4.2): the
// signature then breaks if anyone adds one, e.g. a second From or a
// Reply-To in a replayed message. Mail that has them rewritten in transit
// (a mailing list changing From for DMARC) is re-signed by whoever does it.
var oversigned = []string{
	"From", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
}

// alsoSigned are signed as often as they occur, and may be added later:
// a mailing list adds its List-* fields and Sender. RFC 8058 3 requires
// List-Unsubscribe and List-Unsubscribe-Post to be signed when present.
var alsoSigned = []string{
	"Sender", "List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Subscribe",
	"List-Post", "List-Owner", "List-Archive", "Autocrypt",
}

// Sign signs msg, a whole message as it will be sent (CRLF line endings),
// with each of the domain's signing keys, and returns the DKIM-Signature
// header fields to prepend to it: an ed25519-sha256 signature, then an
// rsa-sha256 one, both with relaxed/relaxed canonicalization. d= is
// domain: pass the domain of the message's From address, so that the
// signature aligns with it for DMARC (RFC 7489 3.1.1).
//
// The first Sign of a domain opens its private keys (the opener given to
// Open); they stay in memory, and later calls only check with one stat
// that no other process has rotated them. Errors: NotExist if the domain
// has no keys, Invalid if msg has no From field, Unavailable (or the
// opener's kind) if the keys cannot be opened. Sign is safe for concurrent
// use.
func (k *Keys) Sign(domain string, msg []byte) ([]byte, error) {
	const op = "dkimsign.Sign"
	name, err := DomainName(domain)
	if err != nil {
		return nil, errors.E(op, err)
	}
	s, err := k.signers(name)
	if err != nil {
		return nil, errors.E(op, err)
	}
	headers, err := headerKeys(msg)
	if err != nil {
		return nil, errors.E(op, err)
	}
	var out bytes.Buffer
	for _, key := range s.keys {
		signer, err := dkim.NewSigner(&dkim.SignOptions{
			Domain:                 name,
			Selector:               key.selector,
			Signer:                 key.signer,
			Hash:                   crypto.SHA256,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed,
			BodyCanonicalization:   dkim.CanonicalizationRelaxed,
			HeaderKeys:             headers,
		})
		if err != nil {
			return nil, errors.E(op, errors.Internal, err)
		}
		if _, err := signer.Write(msg); err != nil {
			signer.Close()
			return nil, errors.E(op, errors.Invalid, err)
		}
		if err := signer.Close(); err != nil {
			return nil, errors.E(op, errors.Invalid, err)
		}
		out.WriteString(signer.Signature())
	}
	return out.Bytes(), nil
}

// headerKeys is the h= list for msg: each field of oversigned one time
// more than msg has it, each of alsoSigned as often as msg has it.
func headerKeys(msg []byte) ([]string, error) {
	count := map[string]int{}
	for rest := msg; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // the end of the header (RFC 5322 2.1)
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // a folded line goes on the field before
		}
		if name, _, ok := bytes.Cut(line, []byte(":")); ok {
			count[strings.ToLower(string(bytes.TrimRight(name, " \t")))]++
		}
	}
	if count["from"] == 0 {
		return nil, errors.E(errors.Invalid, errors.Str("the message has no From field"))
	}
	var keys []string
	for _, h := range oversigned {
		for range count[strings.ToLower(h)] + 1 {
			keys = append(keys, h)
		}
	}
	for _, h := range alsoSigned {
		for range count[strings.ToLower(h)] {
			keys = append(keys, h)
		}
	}
	return keys, nil
}

// signers returns the domain's opened keys: from memory while its
// state.json is the one they were read from, else read and opened anew.
func (k *Keys) signers(name string) (*signers, error) {
	fi, err := os.Stat(filepath.Join(k.dir, name, "state.json"))
	if os.IsNotExist(err) {
		return nil, noKeys(name)
	}
	if err != nil {
		return nil, errors.E(errors.Internal, err)
	}
	k.cacheMu.RLock()
	s := k.cache[name]
	k.cacheMu.RUnlock()
	if s != nil && sameFile(s.state, fi) {
		return s, nil
	}
	if k.open == nil {
		return nil, errors.E(errors.Unavailable, errors.Str("this process cannot open DKIM keys"))
	}
	unlock, err := k.lock("dkimsign.Sign")
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, fi, err := readState(k.dir, name)
	if err != nil {
		return nil, err
	}
	k.cacheMu.RLock()
	s = k.cache[name]
	k.cacheMu.RUnlock()
	if s != nil && sameFile(s.state, fi) {
		return s, nil // another call opened them while this one waited
	}
	s = &signers{state: fi}
	for _, sel := range st.Active {
		signer, err := k.openKey(name, sel)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, key{selector: sel, signer: signer})
	}
	k.cacheMu.Lock()
	k.cache[name] = s
	k.cacheMu.Unlock()
	return s, nil
}

// openKey opens a sealed private key and checks that it is the key of the
// record published beside it.
func (k *Keys) openKey(name, sel string) (crypto.Signer, error) {
	ddir := filepath.Join(k.dir, name)
	sealed, err := os.ReadFile(filepath.Join(ddir, sel+".sealed"))
	if err != nil {
		return nil, errors.E(errors.Internal, err)
	}
	der, err := k.open(sealed)
	if err != nil {
		return nil, errors.E(errors.Errorf("opening the DKIM key %s of %s: %w", sel, name, err))
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, errors.E(errors.Internal, errors.Errorf("the DKIM key %s of %s: %w", sel, name, err))
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, errors.E(errors.Internal, errors.Errorf("the DKIM key %s of %s is a %T", sel, name, priv))
	}
	want, err := os.ReadFile(filepath.Join(ddir, sel+".txt"))
	if err != nil {
		return nil, errors.E(errors.Internal, err)
	}
	if got, err := recordValue(signer.Public()); err != nil || got != string(want) {
		return nil, errors.E(errors.Internal, errors.Errorf("the DKIM key %s of %s does not match its record %s.txt", sel, name, sel))
	}
	return signer, nil
}

// sameFile reports whether two stats are of one version of a file: a
// change replaces state.json by rename, so the inode changes (the time
// guards against the number being reused).
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}
