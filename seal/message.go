package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/sealpost/sealpost/errors"
)

// sessionCipher is the symmetric cipher of every sealed message.
const sessionCipher = packet.CipherAES256

// Recipient is a parsed public key that messages are sealed to. Parse it
// once and reuse it: sealing then costs one public-key operation per
// message. A Recipient is safe for concurrent use.
type Recipient struct {
	fpr      string
	enc      *packet.PublicKey // the encryption (sub)key
	overhead int               // upper bound of the PKESK packet's size
}

// ParseRecipient parses an OpenPGP public key, binary or ASCII-armored, that
// has a valid encryption-capable key: RSA of at least 2048 bits, ECDH,
// X25519 or X448. Input holding several keys or private key material is
// refused (Invalid).
func ParseRecipient(pub []byte) (*Recipient, error) {
	const op = "seal.ParseRecipient"
	el, err := readKeys(pub)
	if err != nil {
		return nil, errors.E(op, err)
	}
	if len(el) != 1 {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("%d public keys given, want 1", len(el)))
	}
	e := el[0]
	k, ok := e.EncryptionKey(time.Now())
	if !ok {
		return nil, errors.E(op, errors.Invalid, errors.Str("no valid encryption key (expired, revoked, or signing only)"))
	}
	r := &Recipient{
		fpr: strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint)),
		enc: k.PublicKey,
	}
	switch k.PublicKey.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSAEncryptOnly:
		bits, err := k.PublicKey.BitLength()
		if err != nil || bits < 2048 {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("RSA key of %d bits; at least 2048 are required", bits))
		}
		r.overhead = int(bits)/8 + 32
	case packet.PubKeyAlgoECDH, packet.PubKeyAlgoX25519, packet.PubKeyAlgoX448:
		// ECDH: ephemeral point (at most 133 bytes for P-521) and the
		// wrapped key; X25519/X448 less.
		r.overhead = 256
	default:
		return nil, errors.E(op, errors.Invalid, errors.Errorf("unsupported encryption algorithm %d", k.PublicKey.PubKeyAlgo))
	}
	return r, nil
}

// Fingerprint returns the primary key's fingerprint in upper-case hex.
func (r *Recipient) Fingerprint() string { return r.fpr }

// SealedSizeHint returns an upper bound of the size of the sealed form of an
// n-byte plaintext, for sizing buffers.
func (r *Recipient) SealedSizeHint(n int) int {
	// SEIPD: tag, version, 18-byte prefix, 22-byte MDC; literal packet: tag,
	// 6-byte header; each of the two packets: one octet per partial-length
	// chunk of at least 512 bytes plus a final length of up to 5 octets.
	return n + r.overhead + 1 + 1 + 18 + 22 + 1 + 6 + 2*(n/512+1+5)
}

// Seal writes plaintext to w as an OpenPGP message to r (RFC 4880 11.3): a
// version 3 public-key encrypted session key packet (5.1) followed by a
// symmetrically encrypted integrity protected data packet (5.13, version 1,
// AES-256 with MDC) holding one binary literal data packet (5.9). It writes
// with a single call to w.
func (r *Recipient) Seal(w io.Writer, plaintext []byte) error {
	const op = "seal.Seal"
	var buf bytes.Buffer
	buf.Grow(r.SealedSizeHint(len(plaintext)))
	if err := r.seal(&buf, plaintext); err != nil {
		return errors.E(op, errors.Internal, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return errors.E(op, errors.Internal, err)
	}
	return nil
}

func (r *Recipient) seal(buf *bytes.Buffer, plaintext []byte) error {
	key := make([]byte, sessionCipher.KeySize())
	defer wipe(key)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return err
	}
	cfg := &packet.Config{DefaultCipher: sessionCipher}
	if err := packet.SerializeEncryptedKeyAEAD(buf, r.enc, sessionCipher, false, key, cfg); err != nil {
		return err
	}
	seipd, err := packet.SerializeSymmetricallyEncrypted(buf, sessionCipher, false, packet.CipherSuite{}, key, cfg)
	if err != nil {
		return err
	}
	lit, err := packet.SerializeLiteral(seipd, true, "", 0)
	if err != nil {
		return err
	}
	if _, err := lit.Write(plaintext); err != nil {
		return err
	}
	// Closing the literal packet closes the SEIPD packet, writing the MDC.
	return lit.Close()
}

// Open decrypts a message sealed to u's key, in either at-rest format (the
// first octet tells): an OpenPGP message costs one public-key operation for
// its session key, then AES; a v2 window message (window.go) costs one
// public-key operation for its window's key W unless u has opened that
// window before, then HKDF and AES-GCM. Besides the plaintext it returns the session
// key wrapped under the mailbox key with binding (the blob ref) as
// associated data, for the caller to cache and pass to OpenCached later.
//
// A message not sealed to u's key is a Sealed error; a malformed or
// tampered one (including a failed MDC check), Invalid.
func (u *Unlocked) Open(sealed []byte, binding []byte) (plaintext, wrappedSessionKey []byte, err error) {
	const op = "seal.Open"
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.mk == nil {
		return nil, nil, errors.E(op, errors.Sealed, errWiped)
	}
	if IsWindowMessage(sealed) {
		plaintext, key, err := u.openWindow(sealed)
		if err != nil {
			return nil, nil, errors.E(op, err)
		}
		defer wipe(key)
		wrapped, err := u.wrapSessionKey(sessionCipher, key, binding)
		if err != nil {
			return nil, nil, errors.E(op, errors.Internal, err)
		}
		return plaintext, wrapped, nil
	}
	br := bytes.NewReader(sealed)
	eks, se, err := readMessage(br)
	if err != nil {
		return nil, nil, errors.E(op, errors.Invalid, err)
	}
	c, key, err := u.sessionKey(eks)
	if err != nil {
		return nil, nil, errors.E(op, err)
	}
	defer wipe(key)
	plaintext, err = decryptData(br, se, c, key)
	if err != nil {
		return nil, nil, errors.E(op, errors.Invalid, err)
	}
	wrapped, err := u.wrapSessionKey(c, key, binding)
	if err != nil {
		return nil, nil, errors.E(op, errors.Internal, err)
	}
	return plaintext, wrapped, nil
}

// OpenCached decrypts a sealed message (either format) with a session key
// that Open returned: AES only, no public-key operation. binding must equal the one
// given to Open. A wrapped key that does not authenticate (another binding,
// another account, tampered) is a Permission error; a malformed wrapped key
// or message, or a failed MDC check, Invalid.
func (u *Unlocked) OpenCached(sealed []byte, wrappedSessionKey []byte, binding []byte) ([]byte, error) {
	const op = "seal.OpenCached"
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.mk == nil {
		return nil, errors.E(op, errors.Sealed, errWiped)
	}
	c, key, err := u.unwrapSessionKey(wrappedSessionKey, binding)
	if err != nil {
		return nil, errors.E(op, err)
	}
	defer wipe(key)
	if IsWindowMessage(sealed) {
		plaintext, err := openWindowCached(sealed, key)
		if err != nil {
			return nil, errors.E(op, err)
		}
		return plaintext, nil
	}
	br := bytes.NewReader(sealed)
	_, se, err := readMessage(br)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	plaintext, ok, err := decryptSEIPDv1(br, se, c, key)
	if !ok {
		plaintext, err = decryptData(br, se, c, key)
	}
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	return plaintext, nil
}

// maxPKESK bounds the session key packets read before the data packet.
const maxPKESK = 64

// readMessage reads the packets of an encrypted message up to its SEIPD
// packet: PKESK packets, then one version 1 SEIPD packet (Marker and
// Padding packets are skipped, RFC 9580 5.8, 5.14). The SEIPD's contents
// stay unread in br.
func readMessage(br *bytes.Reader) ([]*packet.EncryptedKey, *packet.SymmetricallyEncrypted, error) {
	var eks []*packet.EncryptedKey
	for {
		p, err := packet.Read(br)
		if err == io.EOF {
			return nil, nil, errors.Str("no encrypted data packet")
		}
		if err != nil {
			return nil, nil, errors.Errorf("reading packets: %v", err)
		}
		switch p := p.(type) {
		case *packet.EncryptedKey:
			if len(eks) == maxPKESK {
				return nil, nil, errors.Str("too many session key packets")
			}
			eks = append(eks, p)
		case *packet.SymmetricallyEncrypted:
			if !p.IntegrityProtected || p.Version != 1 {
				return nil, nil, errors.Str("data packet is not SEIPD version 1")
			}
			return eks, p, nil
		case *packet.Marker, packet.Padding:
		default:
			return nil, nil, errors.Errorf("unexpected %T before encrypted data", p)
		}
	}
}

// sessionKey decrypts the first PKESK packet addressed to one of u's keys.
func (u *Unlocked) sessionKey(eks []*packet.EncryptedKey) (packet.CipherFunction, []byte, error) {
	addressed := false
	for _, ek := range eks {
		for _, priv := range u.dec {
			if ek.Algo != priv.PubKeyAlgo || (ek.KeyId != 0 && ek.KeyId != priv.KeyId) {
				continue
			}
			addressed = true
			if ek.Decrypt(priv, nil) != nil {
				continue // not for this key after all, or damaged
			}
			if !aesCipher(ek.CipherFunc) || len(ek.Key) != ek.CipherFunc.KeySize() {
				wipe(ek.Key)
				return 0, nil, errors.E(errors.Invalid, errors.Str("session key for an unsupported cipher"))
			}
			return ek.CipherFunc, ek.Key, nil
		}
	}
	if addressed {
		return 0, nil, errors.E(errors.Invalid, errors.Str("session key packet does not decrypt"))
	}
	return 0, nil, errors.E(errors.Sealed, errors.Str("message is not sealed to this key"))
}

func aesCipher(c packet.CipherFunction) bool {
	return c == packet.CipherAES128 || c == packet.CipherAES192 || c == packet.CipherAES256
}

// decryptData decrypts a SEIPD v1 packet, returns its one literal data
// packet's contents, and checks the MDC (RFC 4880 5.13) and that nothing
// follows, in the packet or after it. No plaintext is returned unless the
// MDC holds.
func decryptData(br *bytes.Reader, se *packet.SymmetricallyEncrypted, c packet.CipherFunction, key []byte) ([]byte, error) {
	sizeHint := br.Len() // the plaintext is shorter than what is left
	// go-crypto's MDC reader treats a packet cut short of its declared
	// length like its end; strictReader notices.
	contents := &strictReader{r: se.Contents}
	se.Contents = contents
	rc, err := se.Decrypt(c, key)
	if err != nil {
		return nil, errors.Errorf("decrypting: %v", err)
	}
	p, err := packet.Read(rc)
	if err != nil {
		return nil, errors.Str("decrypted data is not a packet (wrong key or damaged)")
	}
	lit, ok := p.(*packet.LiteralData)
	if !ok {
		return nil, errors.Errorf("decrypted %T, want literal data", p)
	}
	plaintext, err := readAll(lit.Body, sizeHint)
	if err != nil {
		return nil, errors.Str("literal data truncated")
	}
	var one [1]byte
	if n, _ := rc.Read(one[:]); n != 0 {
		return nil, errors.Str("data after the literal packet")
	}
	if err := rc.Close(); err != nil {
		return nil, errors.Str("modification detection code mismatch")
	}
	if contents.err != nil {
		return nil, errors.Str("encrypted data packet truncated")
	}
	if br.Len() != 0 {
		return nil, errors.Str("data after the encrypted packet")
	}
	return plaintext, nil
}

const sessionHeaderLen = 2

// wrapSessionKey: 'K' 1 | nonce | GCM(MK, cipher | key), binding in the
// associated data.
func (u *Unlocked) wrapSessionKey(c packet.CipherFunction, key, binding []byte) ([]byte, error) {
	pt := make([]byte, 0, 1+len(key))
	pt = append(pt, byte(c))
	pt = append(pt, key...)
	defer wipe(pt)
	return aeadSeal(rand.Reader, u.mk, labelSession, []byte{recSession, formatV1}, binding, pt)
}

func (u *Unlocked) unwrapSessionKey(wrapped, binding []byte) (packet.CipherFunction, []byte, error) {
	if err := checkHeader(wrapped, recSession, sessionHeaderLen); err != nil {
		return 0, nil, errors.E(errors.Invalid, err)
	}
	pt, err := aeadOpen(u.mk, labelSession, wrapped[:sessionHeaderLen], binding, wrapped[sessionHeaderLen:])
	if err != nil {
		return 0, nil, errors.E(errors.Permission, errors.Str("session key does not open with this key and binding"))
	}
	if len(pt) < 1 || !aesCipher(packet.CipherFunction(pt[0])) || len(pt)-1 != packet.CipherFunction(pt[0]).KeySize() {
		wipe(pt)
		return 0, nil, errors.E(errors.Invalid, errors.Str("malformed session key"))
	}
	return packet.CipherFunction(pt[0]), pt[1:], nil
}

// strictReader remembers the first error other than io.EOF from r.
type strictReader struct {
	r   io.Reader
	err error
}

func (s *strictReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// readAll is io.ReadAll starting with a buffer of capacity n: if the data
// fits, it is read without reallocation.
func readAll(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, 0, n+1) // +1: room to see EOF without growing
	for {
		m, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}
