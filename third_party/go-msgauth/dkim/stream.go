package dkim

// Sealpost patch 5: verification with the body written as it arrives.
//
// Upstream's VerifyWithOptions read the body once per signature, through
// an io.Pipe and a goroutine each, and every reader paid for its own
// canonicalization and hash. A Verifier reads the header section first,
// then takes the body through Write, canonicalizing and hashing it once for
// each distinct (body canonicalization, hash algorithm) that a signature
// asks for: a mail server can hash the body while it receives it, and two
// signatures of the same kind (an RSA and an Ed25519 signature, say) share
// one hash. Key lookups and signature checks happen in Close, in the same
// order and with the same outcomes as upstream's verify.

import (
	"bufio"
	"bytes"
	"crypto"
	"fmt"
	"hash"
	"io"
	"strings"
)

// bodyHashKey names one body hash: what c= says of the body and the hash
// algorithm of a=.
type bodyHashKey struct {
	can  Canonicalization
	hash crypto.Hash
}

// bodyHasher is one body hash under way.
type bodyHasher struct {
	key bodyHashKey
	h   hash.Hash
	wc  io.WriteCloser
	sum []byte
}

// A Verifier checks the DKIM signatures of one message whose body is
// written to it. It is not safe for concurrent use.
type Verifier struct {
	h          header
	sigs       []*signature
	tooMany    bool
	hashers    []*bodyHasher
	options    *VerifyOptions
	closed     bool
	verifs     []*Verification
	closeError error
}

// NewVerifier reads the header section of a message from r, up to and
// including the empty line that ends it, and parses its DKIM-Signature
// fields. The caller then writes the body to the Verifier and calls Close.
// If r is a *bufio.Reader, the body is what remains to be read from it;
// otherwise NewVerifier reads r through a buffer of its own, writes what
// that buffer read past the header section as the start of the body, and
// the body is what remains to be read from r.
func NewVerifier(r io.Reader, options *VerifyOptions) (*Verifier, error) {
	bufr, ok := r.(*bufio.Reader)
	if !ok {
		bufr = bufio.NewReader(r)
	}
	h, err := readHeader(bufr)
	if err != nil {
		return nil, err
	}
	v := newVerifier(h, options)
	if !ok {
		// What bufio read past the header section is body.
		if n := bufr.Buffered(); n > 0 {
			rest, _ := bufr.Peek(n)
			v.Write(rest)
		}
	}
	return v, nil
}

// NewVerifierBytes is NewVerifier reading from msg, a message's header
// section and possibly the start of its body (Sealpost patch 8: the
// header section is cut from msg where it is, without a bufio.Reader and
// net/textproto, as readHeader would cut it).
func NewVerifierBytes(msg []byte, options *VerifyOptions) (*Verifier, error) {
	h, n, err := splitHeader(msg)
	if err != nil {
		return nil, err
	}
	v := newVerifier(h, options)
	if n < len(msg) {
		v.Write(msg[n:])
	}
	return v, nil
}

// splitHeader returns what readHeader returns for a reader of msg, and
// how many bytes of msg the header section took. readHeader's lines are
// net/textproto's: up to LF, without the LF and one CR before it; data
// that ends before an empty line is an error.
func splitHeader(msg []byte) (header, int, error) {
	var h header
	// The field under way is msg[start:i] as it is while each of its
	// lines ends in CRLF (raw), which readHeader would give back as it
	// was; otherwise it is built line by line in h's last entry.
	start, raw := -1, false
	end := func(i int) {
		if start >= 0 && raw {
			h = append(h, string(msg[start:i]))
		}
		start = -1
	}
	for i := 0; ; {
		j := bytes.IndexByte(msg[i:], '\n')
		if j < 0 {
			end(i)
			return h, 0, fmt.Errorf("failed to read header: %v", io.EOF)
		}
		lineStart := i
		l := msg[i : i+j]
		i += j + 1
		crlfEnded := len(l) > 0 && l[len(l)-1] == '\r'
		if crlfEnded {
			l = l[:len(l)-1]
		}
		switch {
		case len(l) == 0:
			end(lineStart)
			return h, i, nil
		case (start >= 0 || len(h) > 0) && (l[0] == ' ' || l[0] == '\t'):
			// This is a continuation line
			if start >= 0 && raw && crlfEnded {
				continue
			}
			if start >= 0 {
				// The field so far, as it was, then this line.
				h = append(h, string(msg[start:lineStart]))
				start = -1
			}
			h[len(h)-1] += string(l) + crlf
		default:
			end(lineStart)
			if crlfEnded {
				start, raw = lineStart, true
			} else {
				h = append(h, string(l)+crlf)
			}
		}
	}
}

// newVerifier prepares the checks of the signatures in h.
func newVerifier(h header, options *VerifyOptions) *Verifier {
	v := &Verifier{h: h, options: options}
	for i, kv := range h {
		k, val := parseHeaderField(kv)
		if strings.EqualFold(k, headerFieldName) {
			v.sigs = append(v.sigs, &signature{i: i, v: val})
		}
	}
	if options != nil && options.MaxVerifications > 0 && len(v.sigs) > options.MaxVerifications {
		v.tooMany = true
		v.sigs = v.sigs[:options.MaxVerifications]
	}
	for _, sig := range v.sigs {
		sig.params, sig.err = parseHeaderParams(sig.v)
		if key, ok := neededBodyHash(sig); ok && v.hasher(key) == nil {
			hh := key.hash.New()
			v.hashers = append(v.hashers, &bodyHasher{key: key, h: hh, wc: canonicalizers[key.can].CanonicalizeBody(hh)})
		}
	}
	return v
}

// neededBodyHash returns the body hash verify would compare the
// signature's bh= with, if it could get that far: none for a signature
// whose tags, algorithm or canonicalization it refuses before.
func neededBodyHash(sig *signature) (bodyHashKey, bool) {
	if sig.err != nil {
		return bodyHashKey{}, false
	}
	if _, ok := sig.params["l"]; ok {
		return bodyHashKey{}, false
	}
	_, hashAlgo, ok := strings.Cut(stripWhitespace(sig.params["a"]), "-")
	if !ok || hashAlgo != "sha256" {
		return bodyHashKey{}, false
	}
	_, bodyCan := parseCanonicalization(sig.params["c"])
	if _, ok := canonicalizers[bodyCan]; !ok {
		return bodyHashKey{}, false
	}
	return bodyHashKey{bodyCan, crypto.SHA256}, true
}

func (v *Verifier) hasher(key bodyHashKey) *bodyHasher {
	for _, b := range v.hashers {
		if b.key == key {
			return b
		}
	}
	return nil
}

// Signatures returns how many signatures Close will check.
func (v *Verifier) Signatures() int { return len(v.sigs) }

// Write hashes the next part of the body. It never fails.
func (v *Verifier) Write(p []byte) (int, error) {
	for _, b := range v.hashers {
		b.wc.Write(p) // canonicalizers over a hash.Hash never fail
	}
	return len(p), nil
}

// Close ends the body and checks each signature: one Verification per
// signature, and ErrTooManySignatures (with the verifications of the first
// MaxVerifications) if there were more.
func (v *Verifier) Close() ([]*Verification, error) {
	if v.closed {
		return v.verifs, v.closeError
	}
	v.closed = true
	for _, b := range v.hashers {
		if err := b.wc.Close(); err != nil {
			v.closeError = err
			return nil, err
		}
		b.sum = b.h.Sum(nil)
	}
	sum := func(key bodyHashKey) []byte {
		if b := v.hasher(key); b != nil {
			return b.sum
		}
		return nil
	}
	verifs := make([]*Verification, len(v.sigs))
	if len(v.sigs) == 1 {
		// One signature: no goroutine.
		vf, err := verify(v.h, v.sigs[0], sum, v.options)
		vf.Err = err
		verifs[0] = vf
	} else {
		// Several: their keys are looked up at the same time, as
		// upstream's parallelVerify did.
		done := make(chan struct{}, len(v.sigs))
		for i, sig := range v.sigs {
			i, sig := i, sig
			go func() {
				defer func() { done <- struct{}{} }()
				vf, err := verify(v.h, sig, sum, v.options)
				vf.Err = err
				verifs[i] = vf
			}()
		}
		for range v.sigs {
			<-done
		}
	}
	// Return unexpected failures as a separate error.
	for _, vf := range verifs {
		err := vf.Err
		if err != nil && !IsTempFail(err) && !IsPermFail(err) && !isFail(err) {
			v.closeError = err
			return nil, err
		}
	}
	v.verifs = verifs
	if v.tooMany {
		v.closeError = ErrTooManySignatures
	}
	return verifs, v.closeError
}
