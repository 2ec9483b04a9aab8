package junk

// table maps token hashes to counts: an open-addressing hash table with
// linear probing, each slot holding a hash and its counts side by side, so
// that a lookup in a model of 200,000 tokens costs one cache miss, where a
// Go map cost several (issue 14: scoring a 10 KiB message under 2 ms).
//
// The keys are keyed-hash outputs (SipHash-2-4 or HMAC-SHA256, see Key),
// uniform and unknown to senders (who do not have the account's Key), so
// a slot index is just the hash's low bits, and no message can be built
// to make probe runs long. The hash 0 marks an empty slot; a token whose
// hash is 0 (chance 2^-64) has its counts kept beside the slots. The
// slots are at most half full: capacity is a power of two, at least twice
// the entries; deleting shifts the probe run back (no tombstones), so
// lookups stay short after any mix of changes.
// The zero table is empty and ready.
type table struct {
	slots   []slot // len is 0 or a power of two
	n       int    // entries in slots
	hasZero bool   // whether hash 0 is present
	zero    counts // hash 0's counts
}

type slot struct {
	h uint64 // 0: empty
	c counts
}

// newTable returns an empty table with room for n entries.
func newTable(n int) table {
	var t table
	t.reserve(n)
	return t
}

// len returns the number of entries.
func (t *table) len() int {
	if t.hasZero {
		return t.n + 1
	}
	return t.n
}

// get returns h's counts, and whether h is present.
func (t *table) get(h uint64) (counts, bool) {
	if c := t.find(h); c != nil {
		return *c, true
	}
	return counts{}, false
}

// find returns a pointer to h's counts, or nil if h is absent. The pointer
// is valid until the table next grows.
func (t *table) find(h uint64) *counts {
	if h == 0 {
		if t.hasZero {
			return &t.zero
		}
		return nil
	}
	if len(t.slots) == 0 {
		return nil
	}
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t.slots[i].h {
		case h:
			return &t.slots[i].c
		case 0:
			return nil
		}
	}
}

// touch reads the home slot of each of hs, and returns a number made of
// what it read (for the caller to keep, so that the reads are not
// optimized away). The reads do not depend on one another, so the CPU
// overlaps their cache misses, where lookups, each of which branches on
// what it read, would take them one after another: in a large table most
// of a message's tokens miss the cache, and after touch the lookups find
// their slots in it.
func (t *table) touch(hs []uint64) uint64 {
	if len(t.slots) == 0 {
		return 0
	}
	mask := uint64(len(t.slots) - 1)
	var x uint64
	for _, h := range hs {
		x += t.slots[h&mask].h
	}
	return x
}

// upsert returns a pointer to h's counts, adding h with zero counts if it
// is absent (added reports that). The pointer is valid until the table
// next grows.
func (t *table) upsert(h uint64) (c *counts, added bool) {
	if h == 0 {
		added = !t.hasZero
		t.hasZero = true
		return &t.zero, added
	}
	t.reserve(t.n + 1)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch t.slots[i].h {
		case h:
			return &t.slots[i].c, false
		case 0:
			t.slots[i].h = h
			t.n++
			return &t.slots[i].c, true
		}
	}
}

// del removes h, if present.
func (t *table) del(h uint64) {
	if h == 0 {
		t.hasZero, t.zero = false, counts{}
		return
	}
	if len(t.slots) == 0 {
		return
	}
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i].h != h {
		if t.slots[i].h == 0 {
			return
		}
		i = (i + 1) & mask
	}
	// Backward shift: every later entry of the run whose home slot is not
	// after the hole (cyclically, between the hole and itself) moves into
	// the hole, which then moves to where it was.
	for j := (i + 1) & mask; t.slots[j].h != 0; j = (j + 1) & mask {
		home := t.slots[j].h & mask
		if (j-home)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = slot{}
	t.n--
}

// reserve grows the slots, if need be, to hold n entries at most half
// full.
func (t *table) reserve(n int) {
	if 2*n <= len(t.slots) {
		return
	}
	size := 8
	for size < 2*n {
		size *= 2
	}
	old := t.slots
	t.slots, t.n = make([]slot, size), 0
	mask := uint64(size - 1)
	for _, s := range old {
		if s.h == 0 {
			continue
		}
		i := s.h & mask
		for t.slots[i].h != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
		t.n++
	}
}

// clear empties the table, keeping its slots for reuse.
func (t *table) clear() {
	clear(t.slots)
	t.n, t.hasZero, t.zero = 0, false, counts{}
}

// all calls yield for each entry, in slot order (hash 0 first), until it
// returns false. The table must not change meanwhile.
func (t *table) all(yield func(uint64, counts) bool) {
	if t.hasZero && !yield(0, t.zero) {
		return
	}
	for _, s := range t.slots {
		if s.h != 0 && !yield(s.h, s.c) {
			return
		}
	}
}
