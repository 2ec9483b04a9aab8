package tlog

import (
	"math/bits"
	"strconv"
	"strings"

	"github.com/sealpost/sealpost/errors"
)

// The resources a log serves, relative to its prefix (C2SP tlog-tiles,
// "Resources"), plus the verifier key.
const (
	PathCheckpoint = "checkpoint" // the latest signed checkpoint
	PathKey        = "key"        // the note verifier key, text
)

// A ResourceKind tells which kind of resource a Resource names.
type ResourceKind uint8

// The kinds of resource.
const (
	KindCheckpoint ResourceKind = iota + 1 // checkpoint
	KindKey                                // key
	KindTile                               // tile/<L>/<N>[.p/<W>]: Merkle tree hashes
	KindEntries                            // tile/entries/<N>[.p/<W>]: an entry bundle
)

// A Resource names one resource of a log: the checkpoint, the key, a Merkle
// tile or an entry bundle. Its String is the path tlog-tiles gives it.
type Resource struct {
	Kind ResourceKind
	// Level is a tile's level, 0 ≤ Level ≤ 63: the tile holds hashes of
	// the tree's nodes at height 8·Level. Zero for entry bundles.
	Level uint8
	// Index is the tile's or bundle's index N within its level.
	Index uint64
	// Width is the number of hashes or entries in a partial tile or
	// bundle, 1..255, or 0 for a full one (256).
	Width int
}

// TileResource names the Merkle tile at level, index, of width w (0 or
// TileWidth for a full tile).
func TileResource(level uint8, index uint64, w int) Resource {
	if w == TileWidth {
		w = 0
	}
	return Resource{Kind: KindTile, Level: level, Index: index, Width: w}
}

// EntriesResource names the entry bundle at index, of width w (0 or
// TileWidth for a full bundle).
func EntriesResource(index uint64, w int) Resource {
	if w == TileWidth {
		w = 0
	}
	return Resource{Kind: KindEntries, Index: index, Width: w}
}

// W returns the number of hashes or entries the resource holds (1..256).
func (r Resource) W() int {
	if r.Width == 0 {
		return TileWidth
	}
	return r.Width
}

// String returns r's path (without a leading slash), e.g. "tile/1/x001/234.p/7".
func (r Resource) String() string {
	switch r.Kind {
	case KindCheckpoint:
		return PathCheckpoint
	case KindKey:
		return PathKey
	case KindTile:
		return "tile/" + strconv.Itoa(int(r.Level)) + "/" + formatIndex(r.Index, r.Width)
	case KindEntries:
		return "tile/entries/" + formatIndex(r.Index, r.Width)
	}
	return "invalid"
}

// formatIndex encodes N as tlog-tiles requires: groups of three decimal
// digits, every group but the last prefixed with "x", then ".p/<W>" for a
// partial tile.
func formatIndex(n uint64, w int) string {
	var groups []string
	for {
		g := strconv.FormatUint(n%1000, 10)
		g = strings.Repeat("0", 3-len(g)) + g
		groups = append(groups, g)
		n /= 1000
		if n == 0 {
			break
		}
	}
	var b strings.Builder
	for i := len(groups) - 1; i > 0; i-- {
		b.WriteString("x")
		b.WriteString(groups[i])
		b.WriteString("/")
	}
	b.WriteString(groups[0])
	if w > 0 && w < TileWidth {
		b.WriteString(".p/")
		b.WriteString(strconv.Itoa(w))
	}
	return b.String()
}

// ParseResource parses a resource path relative to the log's prefix, with
// or without a leading slash. It accepts only the canonical encoding
// tlog-tiles specifies: no leading zeros in L or W, three-digit groups with
// no superfluous leading "x000" group, 1 ≤ W ≤ 255, L ≤ 63.
func ParseResource(path string) (Resource, error) {
	const op = "tlog.ParseResource"
	bad := func(why string) (Resource, error) {
		return Resource{}, errors.E(op, errors.Invalid, errors.Errorf("%q: %s", path, why))
	}
	p := strings.TrimPrefix(path, "/")
	switch p {
	case PathCheckpoint:
		return Resource{Kind: KindCheckpoint}, nil
	case PathKey:
		return Resource{Kind: KindKey}, nil
	}
	rest, ok := strings.CutPrefix(p, "tile/")
	if !ok {
		return bad("unknown resource")
	}
	var r Resource
	kind, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("missing tile index")
	}
	if kind == "entries" {
		r.Kind = KindEntries
	} else {
		l, err := strconv.ParseUint(kind, 10, 8)
		if err != nil || l > 63 || strconv.FormatUint(l, 10) != kind {
			return bad("bad tile level")
		}
		r.Kind, r.Level = KindTile, uint8(l)
	}
	if idx, w, ok := strings.Cut(rest, ".p/"); ok {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 || n >= TileWidth || strconv.Itoa(n) != w {
			return bad("bad partial width")
		}
		r.Width, rest = n, idx
	}
	groups := strings.Split(rest, "/")
	if len(groups) > 7 { // 2^64 has 20 digits
		return bad("tile index too large")
	}
	for i, g := range groups {
		if i < len(groups)-1 {
			var ok bool
			if g, ok = strings.CutPrefix(g, "x"); !ok {
				return bad("bad tile index")
			}
		}
		if len(g) != 3 || g[0] < '0' || g[0] > '9' || g[1] < '0' || g[1] > '9' || g[2] < '0' || g[2] > '9' {
			return bad("bad tile index")
		}
		d := uint64(g[0]-'0')*100 + uint64(g[1]-'0')*10 + uint64(g[2]-'0')
		hi, lo := bits.Mul64(r.Index, 1000)
		lo, carry := bits.Add64(lo, d, 0)
		if hi != 0 || carry != 0 {
			return bad("tile index too large")
		}
		r.Index = lo
	}
	if len(groups) > 1 && groups[0] == "x000" {
		return bad("non-canonical tile index")
	}
	return r, nil
}
