package sieve

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"sync"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// MaxMemoryEntries bounds a Memory; past it the oldest entries go.
const MaxMemoryEntries = 10000

// memoryVersion is the first byte of a marshalled Memory.
const memoryVersion = 1

// entrySize is one marshalled entry: the key's 16 bytes, the time's 8.
const entrySize = 16 + 8

// Memory remembers which senders got a vacation reply, and when (RFC 5230
// 4.1: one reply per sender and handle per period). Entries are keyed by
// an HMAC-SHA256 of the sender and the handle under the caller's key, so
// that neither the memory nor its marshalled form holds an address. It is
// safe for concurrent use.
type Memory struct {
	key [32]byte

	mu      sync.Mutex
	entries map[[16]byte]int64 // when the last reply was sent, Unix seconds
}

// NewMemory returns an empty Memory keyed by key, which the caller keeps
// per account and secret.
func NewMemory(key [32]byte) *Memory {
	return &Memory{key: key, entries: make(map[[16]byte]int64)}
}

func (m *Memory) id(sender, handle string) [16]byte {
	mac := hmac.New(sha256.New, m.key[:])
	mac.Write([]byte(strings.ToLower(strings.Trim(strings.TrimSpace(sender), "<>"))))
	mac.Write([]byte{0})
	mac.Write([]byte(handle))
	var id [16]byte
	copy(id[:], mac.Sum(nil))
	return id
}

// Due reports whether sender may get a reply for handle at now: none was
// recorded within period before now.
func (m *Memory) Due(sender, handle string, period time.Duration, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	last, ok := m.entries[m.id(sender, handle)]
	return !ok || now.Sub(time.Unix(last, 0)) >= period
}

// Record notes that sender got a reply for handle at now. It prunes
// entries older than MaxVacationPeriod and, past MaxMemoryEntries, the
// oldest.
func (m *Memory) Record(sender, handle string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[m.id(sender, handle)] = now.Unix()
	if len(m.entries) > MaxMemoryEntries {
		m.prune(now)
	}
}

// Prune drops the entries older than MaxVacationPeriod: no period is
// longer, so they can no longer stop a reply.
func (m *Memory) Prune(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prune(now)
}

func (m *Memory) prune(now time.Time) {
	cutoff := now.Add(-MaxVacationPeriod).Unix()
	var oldest [16]byte
	for len(m.entries) > 0 {
		first := true
		for id, t := range m.entries {
			if t < cutoff {
				delete(m.entries, id)
				continue
			}
			if first || t < m.entries[oldest] {
				oldest, first = id, false
			}
		}
		if len(m.entries) <= MaxMemoryEntries {
			return
		}
		delete(m.entries, oldest)
	}
}

// Len is the number of entries.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

// MarshalBinary encodes the memory: a version byte, a count, then each
// entry's keyed hash and time. It holds no address.
func (m *Memory) MarshalBinary() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := make([]byte, 0, 1+4+len(m.entries)*entrySize)
	b = append(b, memoryVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.entries)))
	for id, t := range m.entries {
		b = append(b, id[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(t))
	}
	return b, nil
}

// UnmarshalBinary replaces the memory's entries with those of b, which
// MarshalBinary made with the same key.
func (m *Memory) UnmarshalBinary(b []byte) error {
	const op = "sieve.Memory.UnmarshalBinary"
	if len(b) < 5 || b[0] != memoryVersion {
		return errors.E(op, errors.Invalid, errors.Str("not a vacation memory"))
	}
	n := binary.BigEndian.Uint32(b[1:5])
	rest := b[5:]
	if n > MaxMemoryEntries || uint64(len(rest)) != uint64(n)*entrySize {
		return errors.E(op, errors.Invalid, errors.Str("vacation memory has a wrong length"))
	}
	entries := make(map[[16]byte]int64, n)
	for ; len(rest) > 0; rest = rest[entrySize:] {
		var id [16]byte
		copy(id[:], rest[:16])
		entries[id] = int64(binary.BigEndian.Uint64(rest[16:entrySize]))
	}
	m.mu.Lock()
	m.entries = entries
	m.mu.Unlock()
	return nil
}
