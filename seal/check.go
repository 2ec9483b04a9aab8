package seal

import (
	"bytes"
	"encoding/binary"

	"github.com/sealpost/sealpost/errors"
)

// CheckSealed checks, without any key, that sealed has the form of a
// message at rest: a format 2 window message's header (its W record and
// salt, and room for at least one GCM tag), or OpenPGP packets up to an
// integrity-protected data packet (RFC 9580 5.13: SEIPD version 1). With
// pgpMIME (an own-key account's mail, stored as the PGP/MIME message it
// was delivered as, RFC 3156 4) it checks for the multipart/encrypted
// header instead. It is what a restore can check of mail it cannot open:
// that the bytes are a sealed message and not zeros or another file's.
// It never decrypts, so it says nothing of the ciphertext's integrity.
func CheckSealed(sealed []byte, pgpMIME bool) error {
	const op = "seal.CheckSealed"
	if pgpMIME {
		hdr := sealed
		if i := bytes.Index(hdr, []byte("\r\n\r\n")); i >= 0 {
			hdr = hdr[:i]
		}
		if !bytes.Contains(bytes.ToLower(hdr), []byte("multipart/encrypted")) {
			return errors.E(op, errors.Invalid, errors.Str("not a PGP/MIME message"))
		}
		return nil
	}
	if IsWindowMessage(sealed) {
		_, _, chunks, err := windowParts(sealed)
		if err == nil && len(chunks) < gcmTag {
			err = errors.Str("message truncated")
		}
		if err != nil {
			return errors.E(op, errors.Invalid, err)
		}
		if binary.BigEndian.Uint16(sealed[2:4]) == 0 {
			return errors.E(op, errors.Invalid, errors.Str("window record empty"))
		}
		return nil
	}
	if _, _, err := readMessage(bytes.NewReader(sealed)); err != nil {
		return errors.E(op, errors.Invalid, err)
	}
	return nil
}
