package junk

import (
	"cmp"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// The serialized model (MarshalBinary), all integers unsigned varints
// unless said otherwise:
//
//	"SPJK" | format byte | tokenizer version byte | [hash id byte] |
//	ham | spam | last training, Unix seconds (signed varint; 0: never) |
//	n | n × (hash delta | ham count | spam count) | CRC-32C (4 bytes, big-endian)
//
// Format 2 has the hash id byte, naming the keyed function that made the
// token hashes (hashIDHMAC or hashIDSipHash); format 1 has none, and its
// hashes are HMAC-SHA256 (every model written before SipHash). A model
// whose hash is HMAC-SHA256 is still written as format 1, byte for byte
// as before, so that a release from before format 2 reads it; a SipHash
// model is written as format 2.
//
// Hashes are sorted ascending; each is stored as its difference from the
// previous one (the first from 0), so a full model of random 64-bit
// hashes costs about 7 bytes a hash plus its counts. Nothing else is
// stored: no token text, no key, no message identifiers.
const (
	magic = "SPJK"
	// format1 is the format without a hash id (HMAC-SHA256 hashes);
	// format2 has one.
	format1 = 1
	format2 = 2
	// tokenizerVersion changes whenever Tokenize's output for a message
	// changes, since a model's hashes are only meaningful to the tokenizer
	// that made them; UnmarshalBinary refuses other versions.
	tokenizerVersion = 1
	// maxDecodeTokens bounds what a corrupt or hostile serialized model
	// can make UnmarshalBinary allocate.
	maxDecodeTokens = 4 * DefaultCap
)

// The hash id byte of format 2.
const (
	hashIDHMAC    = 1 // HMAC-SHA256(Key, token), first 64 bits
	hashIDSipHash = 2 // SipHash-2-4 under sipKey(Key)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary encodes the model's counts compactly.
func (m *Model) MarshalBinary() ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	entries := make([]slot, 0, m.tokens.len())
	for h, c := range m.tokens.all {
		entries = append(entries, slot{h, c})
	}
	slices.SortFunc(entries, func(a, b slot) int { return cmp.Compare(a.h, b.h) })
	b := make([]byte, 0, 32+len(entries)*10)
	b = append(b, magic...)
	if m.hash == hashHMAC {
		b = append(b, format1, tokenizerVersion)
	} else {
		b = append(b, format2, tokenizerVersion, hashIDSipHash)
	}
	b = binary.AppendUvarint(b, uint64(m.ham))
	b = binary.AppendUvarint(b, uint64(m.spam))
	var secs int64
	if !m.trained.IsZero() {
		secs = m.trained.Unix()
	}
	b = binary.AppendVarint(b, secs)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	var prev uint64
	for _, s := range entries {
		b = binary.AppendUvarint(b, s.h-prev)
		b = binary.AppendUvarint(b, uint64(s.c.ham))
		b = binary.AppendUvarint(b, uint64(s.c.spam))
		prev = s.h
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// UnmarshalBinary replaces the model's counts, and its token hash, with
// those encoded in data, which it checks (errors.Invalid when it is
// corrupt, of another format or of another tokenizer version). Format 1
// data gives a model that goes on hashing tokens with HMAC-SHA256, in
// Score and in Train, so that no training is lost. Cap and Policy are
// left as they are.
func (m *Model) UnmarshalBinary(data []byte) error {
	const op = "junk.UnmarshalBinary"
	bad := func(why string) error { return errors.E(op, errors.Invalid, errors.Str(why)) }
	if len(data) < len(magic)+2+4 || string(data[:len(magic)]) != magic {
		return bad("not a junk model")
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return bad("checksum mismatch")
	}
	var kind tokenHash
	rest := body[6:]
	switch body[4] {
	case format1:
		kind = hashHMAC
	case format2:
		if len(rest) == 0 {
			return bad("bad header")
		}
		switch rest[0] {
		case hashIDHMAC:
			kind = hashHMAC
		case hashIDSipHash:
			kind = hashSipHash
		default:
			return bad("unknown token hash")
		}
		rest = rest[1:]
	default:
		return bad("unknown format version")
	}
	if body[5] != tokenizerVersion {
		return bad("made by another tokenizer version")
	}
	d := decoder{b: rest}
	ham, spam := d.uvarint(), d.uvarint()
	secs := d.varint()
	n := d.uvarint()
	if d.err || ham > 1<<40 || spam > 1<<40 {
		return bad("bad header")
	}
	// Each token takes at least 3 bytes.
	if n > maxDecodeTokens || n > uint64(len(d.b))/3 {
		return bad("too many tokens")
	}
	tokens := newTable(int(n))
	var h uint64
	for i := uint64(0); i < n; i++ {
		delta, hc, sc := d.uvarint(), d.uvarint(), d.uvarint()
		if d.err || (i > 0 && delta == 0) || h+delta < h || hc > 1<<32-1 || sc > 1<<32-1 || hc+sc == 0 {
			return bad("bad token entry")
		}
		h += delta
		c, _ := tokens.upsert(h)
		*c = counts{ham: uint32(hc), spam: uint32(sc)}
	}
	if len(d.b) != 0 {
		return bad("trailing data")
	}
	var trained time.Time
	if secs != 0 {
		trained = time.Unix(secs, 0).UTC()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hash, m.ham, m.spam, m.trained, m.tokens = kind, int(ham), int(spam), trained, tokens
	return nil
}

// decoder reads varints, remembering the first failure.
type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}
