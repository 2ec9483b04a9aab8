package junk

import (
	"math/rand/v2"
	"testing"
)

// TestTable runs random inserts, updates and deletes on a table and on a
// Go map side by side and checks they always agree. The keys are drawn
// from a small set whose low bits mostly coincide, so probe runs are long,
// wrap around the end of the slots and are cut by deletions; hash 0 is
// among them.
func TestTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []uint64{0}
	for i := range 300 {
		// Low bits from a few values: many keys share a home slot.
		keys = append(keys, rng.Uint64()<<12|uint64(i%5)|uint64(rng.IntN(2))<<11)
	}
	var tb table
	ref := map[uint64]counts{}
	check := func(step int) {
		t.Helper()
		if tb.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, tb.len(), len(ref))
		}
		if 2*tb.n > len(tb.slots) {
			t.Fatalf("step %d: %d entries in %d slots", step, tb.n, len(tb.slots))
		}
		for _, k := range keys {
			c, ok := tb.get(k)
			if rc, rok := ref[k]; c != rc || ok != rok {
				t.Fatalf("step %d: key %x: %v %v, want %v %v", step, k, c, ok, rc, rok)
			}
		}
		n := 0
		for h, c := range tb.all {
			if ref[h] != c {
				t.Fatalf("step %d: all yields %x %v, want %v", step, h, c, ref[h])
			}
			n++
		}
		if n != len(ref) {
			t.Fatalf("step %d: all yields %d entries, want %d", step, n, len(ref))
		}
	}
	for step := range 20000 {
		k := keys[rng.IntN(len(keys))]
		switch op := rng.IntN(10); {
		case op < 6:
			c, added := tb.upsert(k)
			if _, had := ref[k]; added == had {
				t.Fatalf("step %d: upsert %x: added %v, had %v", step, k, added, had)
			}
			c.ham++
			c.spam += uint32(op)
			ref[k] = *c
		default:
			tb.del(k)
			delete(ref, k)
		}
		if step%97 == 0 || step > 19900 {
			check(step)
		}
	}
	check(-1)
	tb.clear()
	clear(ref)
	check(-2)
}

// TestTableReserve: a table sized for n entries holds them without growing.
func TestTableReserve(t *testing.T) {
	tb := newTable(1000)
	slots := len(tb.slots)
	if slots != 2048 {
		t.Errorf("room for 1000: %d slots, want 2048", slots)
	}
	for i := range 1000 {
		tb.upsert(uint64(i)*0x9e3779b97f4a7c15 + 1)
	}
	if len(tb.slots) != slots || tb.len() != 1000 {
		t.Errorf("after 1000 inserts: %d slots, %d entries", len(tb.slots), tb.len())
	}
}

// TestTouch checks that touch reads each hash's home slot: the sum of
// what is there.
func TestTouch(t *testing.T) {
	var tb table
	if got := tb.touch([]uint64{1, 2}); got != 0 {
		t.Fatalf("empty table: touch = %d", got)
	}
	tb.reserve(4) // 8 slots
	for _, h := range []uint64{9, 2, 3} {
		tb.upsert(h)
	}
	// 9 is at slot 1, 2 at 2, 3 at 3; 17 and 25 are at home 1 too,
	// absent; 4 is at home 4, empty.
	if got, want := tb.touch([]uint64{17, 2, 4, 25, 3}), uint64(9+2+0+9+3); got != want {
		t.Fatalf("touch = %d, want %d", got, want)
	}
}
