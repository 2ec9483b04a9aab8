package dkim

// Sealpost patch 5: a Verifier fed the body in writes of any size says
// what upstream's VerifyWithOptions said of the whole message. The
// upstream functions below are v0.7.0's, with patches 3 and 4 (the key
// cache and removeSignature), kept as the oracle.

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/subtle"
	"fmt"
	"io"
	"strings"
	"testing"
)

func upstreamVerifyWithOptions(r io.Reader, options *VerifyOptions) ([]*Verification, error) {
	// Read header
	bufr := bufio.NewReader(r)
	h, err := readHeader(bufr)
	if err != nil {
		return nil, err
	}

	// Scan header fields for signatures
	var signatures []*signature
	for i, kv := range h {
		k, v := parseHeaderField(kv)
		if strings.EqualFold(k, headerFieldName) {
			signatures = append(signatures, &signature{i: i, v: v})
		}
	}

	tooManySignatures := false
	if options != nil && options.MaxVerifications > 0 && len(signatures) > options.MaxVerifications {
		tooManySignatures = true
		signatures = signatures[:options.MaxVerifications]
	}

	var verifs []*Verification
	if len(signatures) == 1 {
		// If there is only one signature - just verify it.
		v, err := upstreamVerify(h, bufr, h[signatures[0].i], signatures[0].v, options)
		if err != nil && !IsTempFail(err) && !IsPermFail(err) && !isFail(err) {
			return nil, err
		}
		v.Err = err
		verifs = []*Verification{v}
	} else {
		verifs, err = upstreamParallelVerify(bufr, h, signatures, options)
		if err != nil {
			return nil, err
		}
	}

	if tooManySignatures {
		return verifs, ErrTooManySignatures
	}
	return verifs, nil
}

func upstreamParallelVerify(r io.Reader, h header, signatures []*signature, options *VerifyOptions) ([]*Verification, error) {
	pipeWriters := make([]*io.PipeWriter, len(signatures))
	// We can't pass pipeWriter to io.MultiWriter directly,
	// we need a slice of io.Writer, but we also need *io.PipeWriter
	// to call Close on it.
	writers := make([]io.Writer, len(signatures))
	chans := make([]chan *Verification, len(signatures))

	for i, sig := range signatures {
		// Be careful with loop variables and goroutines.
		i, sig := i, sig

		chans[i] = make(chan *Verification, 1)

		pr, pw := io.Pipe()
		writers[i] = pw
		pipeWriters[i] = pw

		go func() {
			v, err := upstreamVerify(h, pr, h[sig.i], sig.v, options)

			// Make sure we consume the whole reader, otherwise io.Copy on
			// other side can block forever.
			io.Copy(io.Discard, pr)

			v.Err = err
			chans[i] <- v
		}()
	}

	if _, err := io.Copy(io.MultiWriter(writers...), r); err != nil {
		return nil, err
	}
	for _, wr := range pipeWriters {
		wr.Close()
	}

	verifications := make([]*Verification, len(signatures))
	for i, ch := range chans {
		verifications[i] = <-ch
	}

	// Return unexpected failures as a separate error.
	for _, v := range verifications {
		err := v.Err
		if err != nil && !IsTempFail(err) && !IsPermFail(err) && !isFail(err) {
			v.Err = nil
			return verifications, err
		}
	}
	return verifications, nil
}

func upstreamVerify(h header, r io.Reader, sigField, sigValue string, options *VerifyOptions) (*Verification, error) {
	verif := new(Verification)

	params, err := parseHeaderParams(sigValue)
	if err != nil {
		return verif, permFailError("malformed signature tags: " + err.Error())
	}

	if params["v"] != "1" {
		return verif, permFailError("incompatible signature version")
	}

	verif.Domain = stripWhitespace(params["d"])

	for _, tag := range requiredTags {
		if _, ok := params[tag]; !ok {
			return verif, permFailError("signature missing required tag")
		}
	}

	if i, ok := params["i"]; ok {
		verif.Identifier = stripWhitespace(i)
		if !strings.HasSuffix(verif.Identifier, "@"+verif.Domain) && !strings.HasSuffix(verif.Identifier, "."+verif.Domain) {
			return verif, permFailError("domain mismatch")
		}
	} else {
		verif.Identifier = "@" + verif.Domain
	}

	headerKeys := parseTagList(params["h"])
	ok := false
	for _, k := range headerKeys {
		if strings.EqualFold(k, "from") {
			ok = true
			break
		}
	}
	if !ok {
		return verif, permFailError("From field not signed")
	}
	verif.HeaderKeys = headerKeys

	if timeStr, ok := params["t"]; ok {
		t, err := parseTime(timeStr)
		if err != nil {
			return verif, permFailError("malformed time: " + err.Error())
		}
		verif.Time = t
	}
	if expiresStr, ok := params["x"]; ok {
		t, err := parseTime(expiresStr)
		if err != nil {
			return verif, permFailError("malformed expiration time: " + err.Error())
		}
		verif.Expiration = t
		if now().After(t) {
			return verif, permFailError("signature has expired")
		}
	}

	// Query public key
	// TODO: compute hash in parallel
	methods := []string{string(QueryMethodDNSTXT)}
	if methodsStr, ok := params["q"]; ok {
		methods = parseTagList(methodsStr)
	}
	var res *queryResult
	for _, method := range methods {
		if query, ok := queryMethods[QueryMethod(method)]; ok {
			if options != nil {
				res, err = query(verif.Domain, stripWhitespace(params["s"]), options.LookupTXT, options.KeyCache)
			} else {
				res, err = query(verif.Domain, stripWhitespace(params["s"]), nil, nil)
			}
			break
		}
	}
	if err != nil {
		return verif, err
	} else if res == nil {
		return verif, permFailError("unsupported public key query method")
	}

	// Parse algos
	keyAlgo, hashAlgo, ok := strings.Cut(stripWhitespace(params["a"]), "-")
	if !ok {
		return verif, permFailError("malformed algorithm name")
	}

	// Check hash algo
	if res.HashAlgos != nil {
		ok := false
		for _, algo := range res.HashAlgos {
			if algo == hashAlgo {
				ok = true
				break
			}
		}
		if !ok {
			return verif, permFailError("inappropriate hash algorithm")
		}
	}
	var hash crypto.Hash
	switch hashAlgo {
	case "sha1":
		// RFC 8301 section 3.1: rsa-sha1 MUST NOT be used for signing or
		// verifying.
		return verif, permFailError(fmt.Sprintf("hash algorithm too weak: %v", hashAlgo))
	case "sha256":
		hash = crypto.SHA256
	default:
		return verif, permFailError("unsupported hash algorithm")
	}

	// Check key algo
	if res.KeyAlgo != keyAlgo {
		return verif, permFailError("inappropriate key algorithm")
	}

	if res.Services != nil {
		ok := false
		for _, s := range res.Services {
			if s == "email" {
				ok = true
				break
			}
		}
		if !ok {
			return verif, permFailError("inappropriate service")
		}
	}

	headerCan, bodyCan := parseCanonicalization(params["c"])
	if _, ok := canonicalizers[headerCan]; !ok {
		return verif, permFailError("unsupported header canonicalization algorithm")
	}
	if _, ok := canonicalizers[bodyCan]; !ok {
		return verif, permFailError("unsupported body canonicalization algorithm")
	}

	// The body length "l" parameter is insecure, because it allows parts of
	// the message body to not be signed. Reject messages which have it set.
	if _, ok := params["l"]; ok {
		// TODO: technically should be policyError
		return verif, failError("message contains an insecure body length tag")
	}

	// Parse body hash and signature
	bodyHashed, err := decodeBase64String(params["bh"])
	if err != nil {
		return verif, permFailError("malformed body hash: " + err.Error())
	}
	sig, err := decodeBase64String(params["b"])
	if err != nil {
		return verif, permFailError("malformed signature: " + err.Error())
	}

	// Check body hash
	hasher := hash.New()
	wc := canonicalizers[bodyCan].CanonicalizeBody(hasher)
	if _, err := io.Copy(wc, r); err != nil {
		return verif, err
	}
	if err := wc.Close(); err != nil {
		return verif, err
	}
	if subtle.ConstantTimeCompare(hasher.Sum(nil), bodyHashed) != 1 {
		return verif, failError("body hash did not verify")
	}

	// Compute data hash
	hasher.Reset()
	picker := newHeaderPicker(h)
	for _, key := range headerKeys {
		kv := picker.Pick(key)
		if kv == "" {
			// The field MAY contain names of header fields that do not exist
			// when signed; nonexistent header fields do not contribute to the
			// signature computation
			continue
		}

		kv = canonicalizers[headerCan].CanonicalizeHeader(kv)
		if _, err := hasher.Write([]byte(kv)); err != nil {
			return verif, err
		}
	}
	canSigField := removeSignature(sigField)
	canSigField = canonicalizers[headerCan].CanonicalizeHeader(canSigField)
	canSigField = strings.TrimRight(canSigField, "\r\n")
	if _, err := hasher.Write([]byte(canSigField)); err != nil {
		return verif, err
	}
	hashed := hasher.Sum(nil)

	// Check signature
	if err := res.Verifier.Verify(hash, hashed, sig); err != nil {
		return verif, failError("signature did not verify: " + err.Error())
	}

	return verif, nil
}

// describe is what a verification says, for comparison.
func describe(vs []*Verification, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "err=%v n=%d\n", err, len(vs))
	for _, v := range vs {
		fmt.Fprintf(&b, "%q %q %q %v %v %v\n", v.Domain, v.Identifier, v.HeaderKeys, v.Time.Unix(), v.Expiration.Unix(), v.Err)
	}
	return b.String()
}

// streamVerify verifies msg with a Verifier: the header section read
// through a buffer of bufSize bytes (a *bufio.Reader, or a plain reader
// when plain), then the body written chunk bytes at a time.
func streamVerify(msg []byte, plain bool, bufSize, chunk int, o *VerifyOptions) ([]*Verification, error) {
	var r io.Reader = bytes.NewReader(msg)
	if !plain {
		r = bufio.NewReaderSize(r, bufSize)
	}
	v, err := NewVerifier(r, o)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, chunk)
	for {
		n, err := r.Read(buf)
		v.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return v.Close()
}

// fuzzSeeds are messages signed with both test keys, in every
// canonicalization.
func fuzzSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, c := range []Canonicalization{CanonicalizationSimple, CanonicalizationRelaxed} {
		msg := []byte(mailString)
		// The keys query_test.go publishes.
		for _, k := range []struct {
			domain string
			signer crypto.Signer
		}{{"example.com", testPrivateKey}, {"football.example.com", testEd25519PrivateKey}} {
			var b bytes.Buffer
			err := Sign(&b, bytes.NewReader(msg), &SignOptions{Domain: k.domain, Selector: "brisbane", Signer: k.signer,
				HeaderCanonicalization: c, BodyCanonicalization: c})
			if err != nil {
				f.Fatal(err)
			}
			msg = b.Bytes()
		}
		out = append(out, msg)
	}
	return out
}

// FuzzVerifier (Sealpost patch 5): a Verifier, whatever the sizes of the
// reads and writes, says what upstream's VerifyWithOptions says.
func FuzzVerifier(f *testing.F) {
	for _, m := range fuzzSeeds(f) {
		f.Add(m, false, uint16(16), uint16(7))
		f.Add(m, true, uint16(16), uint16(4096))
		f.Add(bytes.Replace(m, []byte("Hi."), []byte("Ho."), 1), false, uint16(64), uint16(1))
	}
	f.Add([]byte("From: a\r\n"), false, uint16(16), uint16(1))
	f.Fuzz(func(t *testing.T, msg []byte, plain bool, bufSize, chunk uint16) {
		if len(msg) > 1<<16 {
			return
		}
		o := &VerifyOptions{MaxVerifications: 3}
		want := describe(upstreamVerifyWithOptions(bytes.NewReader(msg), o))
		if bufSize < 16 {
			bufSize = 16
		}
		if chunk == 0 {
			chunk = 1
		}
		got := describe(streamVerify(msg, plain, int(bufSize), int(chunk), o))
		if got != want {
			t.Errorf("Verifier:\n%s\nupstream:\n%s", got, want)
		}
		// Sealpost patch 8: the same from bytes, cut at chunk.
		cut := int(chunk)
		if cut > len(msg) {
			cut = len(msg)
		}
		v, err := NewVerifierBytes(msg[:cut], o)
		if err == nil {
			v.Write(msg[cut:])
			got = describe(v.Close())
		} else {
			// The header section was not all in msg[:cut]: so says
			// NewVerifier given only that much.
			got = describe(nil, err)
			want = describe(streamVerify(msg[:cut], true, 16, 1, o))
		}
		if got != want {
			t.Errorf("NewVerifierBytes(msg[:%d]):\n%s\nupstream:\n%s", cut, got, want)
		}
	})
}

// FuzzStripWhitespace (Sealpost patch 7): stripWhitespace removes what
// upstream's removed.
func FuzzStripWhitespace(f *testing.F) {
	for _, s := range []string{"", "abc", " a b\r\n\tc ", "a\u00a0b\u0085c\u2003", "\xff a", "x\v\fy"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := stripWhitespace(s), stripUnicodeSpace(s); got != want {
			t.Errorf("stripWhitespace(%q) = %q, upstream %q", s, got, want)
		}
	})
}

// FuzzSplitHeader (Sealpost patch 8): splitHeader cuts what readHeader
// reads, field for field, and says where the body starts.
func FuzzSplitHeader(f *testing.F) {
	for _, s := range []string{"A: b\r\n c\r\n\r\nbody", "A: b\n c\r\n\td\n\nx", "\r\n", "A: b\r\r\n c\r\n\r\n",
		" lead\r\nA: b\r\n\r\n", "A: b", "A: b\r\n", "A: b\r\n \n\r\n", "\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		br := bytes.NewReader(msg)
		bufr := bufio.NewReader(br)
		want, werr := readHeader(bufr)
		got, n, err := splitHeader(msg)
		if fmt.Sprint(err) != fmt.Sprint(werr) {
			t.Fatalf("%q: error %v, readHeader's %v", msg, err, werr)
		}
		if err != nil {
			return
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			t.Errorf("%q: %q, readHeader's %q", msg, got, want)
		}
		if consumed := len(msg) - br.Len() - bufr.Buffered(); n != consumed {
			t.Errorf("%q: body at %d, readHeader's at %d", msg, n, consumed)
		}
	})
}
