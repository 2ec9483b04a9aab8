package pack

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/sealpost/sealpost"
)

// The record format, version 1. All integers are big-endian.
//
//	offset  size  field
//	0       4     magic "SPK1"
//	4       16    id: random, repeated in the ref
//	20      4     length n of the data
//	24      n     data
//	24+n    4     CRC-32C (Castagnoli) of id, length and data
const (
	magic      = "SPK1"
	idLen      = 16
	headerLen  = 4 + idLen + 4
	trailerLen = 4
	overhead   = headerLen + trailerLen

	// maxData is the largest blob a record holds: its length is a uint32.
	maxData = math.MaxUint32
	// maxOffset bounds record offsets: a ref holds 48 bits of offset.
	maxOffset = 1 << 48
)

// castagnoli is the CRC-32C table. It is computed once and never written.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// loc is where a record lives, as a ref encodes it.
type loc struct {
	seg uint32 // segment number
	off int64  // offset of the record's first byte (its magic)
	n   uint32 // data length
	id  [idLen]byte
}

// recLen is the size of the whole record on disk.
func (l loc) recLen() int64 { return overhead + int64(l.n) }

// A ref is the lower-case hex of 30 bytes: segment (4), offset (6), data
// length (4) and record id (16), so 60 characters.
const (
	refBytes = 4 + 6 + 4 + idLen
	refLen   = 2 * refBytes
)

// ref encodes l.
func (l loc) ref() sealpost.BlobRef {
	var b [refBytes]byte
	binary.BigEndian.PutUint32(b[0:4], l.seg)
	var off [8]byte
	binary.BigEndian.PutUint64(off[:], uint64(l.off))
	copy(b[4:10], off[2:])
	binary.BigEndian.PutUint32(b[10:14], l.n)
	copy(b[14:], l.id[:])
	return sealpost.BlobRef(hex.EncodeToString(b[:]))
}

// parseRef decodes a ref. It accepts exactly what loc.ref produces: refLen
// lower-case hex digits. Anything else is an error, so no string reaches the
// file system: segment file names are built from the decoded number.
func parseRef(ref sealpost.BlobRef) (loc, error) {
	if len(ref) != refLen {
		return loc{}, fmt.Errorf("malformed blob ref: length %d, want %d", len(ref), refLen)
	}
	for i := 0; i < len(ref); i++ {
		if c := ref[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return loc{}, fmt.Errorf("malformed blob ref: byte %d is not lower-case hex", i)
		}
	}
	var b [refBytes]byte
	if _, err := hex.Decode(b[:], []byte(ref)); err != nil {
		return loc{}, fmt.Errorf("malformed blob ref: %v", err)
	}
	var off [8]byte
	copy(off[2:], b[4:10])
	l := loc{
		seg: binary.BigEndian.Uint32(b[0:4]),
		off: int64(binary.BigEndian.Uint64(off[:])),
		n:   binary.BigEndian.Uint32(b[10:14]),
	}
	copy(l.id[:], b[14:])
	return l, nil
}

// newRecord builds the record for data under a fresh random id. The record
// is a copy: the caller's slice is not retained.
func newRecord(data []byte) ([]byte, [idLen]byte, error) {
	var id [idLen]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, id, err
	}
	rec := make([]byte, overhead+len(data))
	copy(rec, magic)
	copy(rec[4:], id[:])
	binary.BigEndian.PutUint32(rec[4+idLen:], uint32(len(data)))
	copy(rec[headerLen:], data)
	end := headerLen + len(data)
	binary.BigEndian.PutUint32(rec[end:], crc32.Checksum(rec[4:end], castagnoli))
	return rec, id, nil
}

// headerState is what a header read at a ref's offset says about the record
// the ref names.
type headerState int

const (
	headerOK      headerState = iota
	headerAbsent              // no such record: punched, zeroed, or a ref to other bytes
	headerCorrupt             // our record (magic and id match) with a damaged length
)

// checkHeader compares hdr (headerLen bytes read at l.off) with the record
// l names. A ref into the middle of other data matches only by a 2^-128
// chance on the id.
func checkHeader(hdr []byte, l loc) headerState {
	switch {
	case string(hdr[:4]) != magic || !bytes.Equal(hdr[4:4+idLen], l.id[:]):
		return headerAbsent
	case binary.BigEndian.Uint32(hdr[4+idLen:headerLen]) != l.n:
		return headerCorrupt
	}
	return headerOK
}

// checksumOK reports whether rest (the data and trailer read after hdr)
// carries the CRC its trailer claims.
func checksumOK(hdr, rest []byte) bool {
	n := len(rest) - trailerLen
	c := crc32.Update(0, castagnoli, hdr[4:headerLen])
	c = crc32.Update(c, castagnoli, rest[:n])
	return c == binary.BigEndian.Uint32(rest[n:])
}
