package tlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// The log is built with golang.org/x/mod/sumdb/tlog; this test checks it
// with github.com/transparency-dev/merkle alone, over HTTP, as an outside
// monitor would: it rebuilds the tree from the entry bundles, compares every
// tile, and checks the log's inclusion and consistency proofs, and proofs it
// assembles itself from the tiles.
func TestIndependentVerifier(t *testing.T) {
	ctx := context.Background()
	l, _ := openTest(t, "", Options{})
	appendN(t, l, 0, 1000, 16)
	old := l.Checkpoint()
	const n = 1<<16 + 300 // a full level-1 tile and partial tiles at levels 0, 1, 2
	appendFast(t, l, 1000, n-1000)

	srv := httptest.NewServer(http.StripPrefix("/log", l.Handler()))
	defer srv.Close()
	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get(srv.URL + "/log/" + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return b
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(get("key"))))
	if err != nil {
		t.Fatal(err)
	}
	cp, _, _, err := log.ParseCheckpoint(get("checkpoint"), testOrigin, v)
	if err != nil {
		t.Fatal(err)
	}
	oldCP, _, _, err := log.ParseCheckpoint(old, testOrigin, v)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != n || oldCP.Size != 1000 {
		t.Fatalf("sizes %d, %d", cp.Size, oldCP.Size)
	}

	// Rebuild the tree from the bundles, keeping the nodes tiles hold.
	h := rfc6962.DefaultHasher
	rf := compact.RangeFactory{Hash: h.HashChildren}
	cr := rf.NewEmptyRange(0)
	nodes := make(map[compact.NodeID][]byte)
	visit := func(id compact.NodeID, hash []byte) {
		if id.Level%8 == 0 {
			nodes[id] = hash
		}
	}
	leaves := make([][]byte, 0, n)
	for b := uint64(0); b*256 < n; b++ {
		w := min(256, n-b*256)
		data := get(testPath("entries", b, w))
		for len(data) > 0 {
			sz := int(binary.BigEndian.Uint16(data))
			leaf := h.HashLeaf(data[2 : 2+sz])
			leaves = append(leaves, leaf)
			if err := cr.Append(leaf, visit); err != nil {
				t.Fatal(err)
			}
			data = data[2+sz:]
		}
		if uint64(len(leaves)) != b*256+w {
			t.Fatalf("after bundle %d: %d leaves", b, len(leaves))
		}
		nodes[compact.NewNodeID(0, uint64(len(leaves)-1))] = leaves[len(leaves)-1]
	}
	root, err := cr.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(root, cp.Hash) {
		t.Fatalf("merkle root %x != checkpoint root %x", root, cp.Hash)
	}

	// Every tile matches the rebuilt tree; keep them for proofs.
	tiles := make(map[[2]uint64][]byte) // level, index -> data
	ntiles := 0
	for lv := uint(0); n>>(8*lv) > 0; lv++ {
		count := uint64(n) >> (8 * lv)
		for ti := uint64(0); ti*256 < count; ti++ {
			w := min(256, count-ti*256)
			data := get(testPath(fmt.Sprint(lv), ti, w))
			if uint64(len(data)) != 32*w {
				t.Fatalf("tile %d/%d: %d bytes", lv, ti, len(data))
			}
			for i := range w {
				id := compact.NewNodeID(8*lv, ti*256+i)
				if want, ok := nodes[id]; !ok || !bytes.Equal(want, data[32*i:32*i+32]) {
					t.Fatalf("tile %d/%d hash %d differs from the rebuilt tree", lv, ti, i)
				}
			}
			tiles[[2]uint64{uint64(lv), ti}] = data
			ntiles++
		}
	}
	if ntiles < 260 {
		t.Fatalf("checked only %d tiles", ntiles)
	}
	// nodeHash computes any perfect subtree's hash from the tiles.
	var nodeHash func(id compact.NodeID) []byte
	nodeHash = func(id compact.NodeID) []byte {
		if id.Level%8 == 0 {
			lv := uint64(id.Level / 8)
			d := tiles[[2]uint64{lv, id.Index / 256}]
			i := id.Index % 256
			if d == nil || uint64(len(d)) < 32*(i+1) {
				t.Fatalf("node %v not in tiles", id)
			}
			return d[32*i : 32*i+32]
		}
		return h.HashChildren(nodeHash(compact.NewNodeID(id.Level-1, 2*id.Index)), nodeHash(compact.NewNodeID(id.Level-1, 2*id.Index+1)))
	}
	fromTiles := func(ns proof.Nodes) [][]byte {
		hs := make([][]byte, len(ns.IDs))
		for i, id := range ns.IDs {
			hs[i] = nodeHash(id)
		}
		p, err := ns.Rehash(hs, h.HashChildren)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	for _, tc := range []struct{ index, size uint64 }{
		{0, 1000}, {999, 1000}, {500, 1000}, {0, n}, {255, n}, {256, n}, {65535, n}, {65536, n}, {n - 1, n}, {12345, n}, {1, 2}, {0, 1},
	} {
		size, rootAt := tc.size, cp.Hash
		switch size {
		case 1000:
			rootAt = oldCP.Hash
		case n:
		default: // a tree size with no checkpoint: its root from merkle
			rootAt = rootOf(t, rf, leaves[:size])
		}
		ours, err := l.InclusionProof(ctx, tc.index, size)
		if err != nil {
			t.Fatal(err)
		}
		op := make([][]byte, len(ours))
		for i := range ours {
			op[i] = ours[i][:]
		}
		if err := proof.VerifyInclusion(h, tc.index, size, leaves[tc.index], op, rootAt); err != nil {
			t.Errorf("inclusion of %d in %d: merkle rejects our proof: %v", tc.index, size, err)
		}
		ns, err := proof.Inclusion(tc.index, size)
		if err != nil {
			t.Fatal(err)
		}
		if theirs := fromTiles(ns); !equalProofs(theirs, op) {
			t.Errorf("inclusion of %d in %d: proof from tiles differs from ours", tc.index, size)
		}
		if len(op) > 0 {
			op[len(op)/2] = leaves[tc.index] // a wrong proof must fail
			if proof.VerifyInclusion(h, tc.index, size, leaves[tc.index], op, rootAt) == nil {
				t.Errorf("inclusion of %d in %d: a wrong proof verified", tc.index, size)
			}
		}
	}

	for _, sizes := range [][2]uint64{{1000, n}, {1, n}, {256, n}, {65536, n}, {1000, 1000}, {n - 1, n}} {
		s1, s2 := sizes[0], sizes[1]
		root1, root2 := rootOf(t, rf, leaves[:s1]), rootOf(t, rf, leaves[:s2])
		ours, err := l.ConsistencyProof(ctx, s1, s2)
		if err != nil {
			t.Fatal(err)
		}
		op := make([][]byte, len(ours))
		for i := range ours {
			op[i] = ours[i][:]
		}
		if err := proof.VerifyConsistency(h, s1, s2, op, root1, root2); err != nil {
			t.Errorf("consistency %d→%d: merkle rejects our proof: %v", s1, s2, err)
		}
		ns, err := proof.Consistency(s1, s2)
		if err != nil {
			t.Fatal(err)
		}
		if theirs := fromTiles(ns); !equalProofs(theirs, op) {
			t.Errorf("consistency %d→%d: proof from tiles differs from ours", s1, s2)
		}
		if s1 == 1000 && s1 != s2 {
			if !bytes.Equal(root1, oldCP.Hash) {
				t.Errorf("root at 1000 differs from the old checkpoint")
			}
			if proof.VerifyConsistency(h, s1, s2, op, leaves[0], cp.Hash) == nil {
				t.Errorf("consistency %d→%d verified against a wrong old root", s1, s2)
			}
		}
	}
	// The log's own auditor agrees.
	if _, err := Verify(ctx, HTTPFetcher(srv.URL+"/log", nil), testVKey, old); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func rootOf(t *testing.T, rf compact.RangeFactory, leaves [][]byte) []byte {
	r := rf.NewEmptyRange(0)
	for _, lf := range leaves {
		if err := r.Append(lf, nil); err != nil {
			t.Fatal(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func equalProofs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// testPath formats a tlog-tiles path independently of Resource.String:
// e.g. ("0", 1234067, 5) → "tile/0/x001/x234/067.p/5".
func testPath(level string, n, w uint64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	if w < 256 {
		s += fmt.Sprintf(".p/%d", w)
	}
	return "tile/" + level + "/" + s
}

// appendFast appends n entries from many goroutines, without the per-entry
// read-back checks of appendN.
func appendFast(t testing.TB, l *Log, first, n int) {
	t.Helper()
	ctx := context.Background()
	const g = 256
	errs := make(chan error, g)
	for w := range g {
		go func() {
			var err error
			for i := w; i < n && err == nil; i += g {
				_, err = l.Append(ctx, testEntry(first+i))
			}
			errs <- err
		}()
	}
	for range g {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
