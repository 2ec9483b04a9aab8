package tlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sealpost/sealpost/errors"
)

// A Fetcher returns the log resource at path, a Resource's String such as
// "checkpoint" or "tile/entries/x001/234.p/7". A resource that does not
// exist should be reported as errors.NotExist.
type Fetcher func(ctx context.Context, path string) ([]byte, error)

// maxResource bounds what a fetcher reads: a full entry bundle is at most
// 256·(2+65535) bytes.
const maxResource = TileWidth*(2+MaxEntrySize) + 1

// HTTPFetcher fetches resources from base (e.g. "https://mail.example/log"),
// with client, or http.DefaultClient if nil.
func HTTPFetcher(base string, client *http.Client) Fetcher {
	if client == nil {
		client = http.DefaultClient
	}
	base = strings.TrimSuffix(base, "/")
	return func(ctx context.Context, path string) ([]byte, error) {
		const op = "tlog.HTTPFetcher"
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/"+path, nil)
		if err != nil {
			return nil, errors.E(op, errors.Invalid, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, errors.E(op, errors.Unavailable, err)
		}
		defer resp.Body.Close()
		return readResponse(op, resp.StatusCode, resp.Body)
	}
}

// HandlerFetcher fetches resources from h in process, as if over HTTP; h is
// a log's Handler, or anything serving the same paths.
func HandlerFetcher(h http.Handler) Fetcher {
	return func(ctx context.Context, path string) ([]byte, error) {
		const op = "tlog.HandlerFetcher"
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/"+path, nil)
		if err != nil {
			return nil, errors.E(op, errors.Invalid, err)
		}
		var w memResponse
		h.ServeHTTP(&w, req)
		if w.code == 0 {
			w.code = http.StatusOK
		}
		return readResponse(op, w.code, &w.body)
	}
}

// memResponse is an http.ResponseWriter that keeps the response in memory.
type memResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *memResponse) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

func (w *memResponse) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *memResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func readResponse(op string, code int, body io.Reader) ([]byte, error) {
	switch {
	case code == http.StatusNotFound:
		return nil, errors.E(op, errors.NotExist, errors.Str("not found"))
	case code != http.StatusOK:
		return nil, errors.E(op, errors.Unavailable, errors.Errorf("HTTP status %d", code))
	}
	data, err := io.ReadAll(io.LimitReader(body, maxResource))
	if err != nil {
		return nil, errors.E(op, errors.Unavailable, err)
	}
	if len(data) == maxResource {
		return nil, errors.E(op, errors.TooLarge, errors.Str("resource too large"))
	}
	return data, nil
}

// A VerifyError says where a log failed verification. Verify returns it
// wrapped in an *errors.Error; use errors.As to get it.
type VerifyError struct {
	// Resource is the path of the resource at fault: "checkpoint", the
	// trusted checkpoint ("trusted checkpoint"), a tile or entry bundle.
	Resource string
	// Entry is the index of the entry at fault, or -1 if the fault is not
	// one entry's.
	Entry int64
	// Reason says what is wrong.
	Reason string
}

func (e *VerifyError) Error() string {
	if e.Entry >= 0 {
		return fmt.Sprintf("entry %d (%s): %s", e.Entry, e.Resource, e.Reason)
	}
	return e.Resource + ": " + e.Reason
}

// Verify audits a log served through fetch, the engine of `sealpost log
// verify`. It fetches the latest checkpoint and checks its signature with
// verifierKey (note text form) and its origin (the key's name); then it
// fetches every entry bundle and every tile the checkpoint commits to,
// rehashes every entry, checks every tile against the entries and the
// entries against the checkpoint's root. If trusted (a checkpoint the caller
// holds, e.g. from the last run) is not nil, it also checks that the latest
// checkpoint extends it: its entries recompute to the trusted root at the
// trusted size, which is what an RFC 6962 consistency proof shows, and a
// smaller or different tree at the same size (truncation, a fork) fails.
//
// It returns the latest checkpoint, to be trusted next time. A log that
// fails gets an errors.Invalid error wrapping a *VerifyError that names the
// checkpoint, tile, bundle or entry at fault; a resource that cannot be
// fetched gets errors.Unavailable (or errors.Invalid if the log says it does
// not exist).
func Verify(ctx context.Context, fetch Fetcher, verifierKey string, trusted []byte) (latest []byte, err error) {
	return VerifyEach(ctx, fetch, verifierKey, trusted, nil)
}

// VerifyEach is Verify that also calls each, if not nil, with every entry in
// order once its hash has been checked against its tile. Only when
// VerifyEach returns nil has the whole log, and so every entry each saw,
// been checked against the signed checkpoint. An error from each stops the
// audit and is returned.
func VerifyEach(ctx context.Context, fetch Fetcher, verifierKey string, trusted []byte, each func(index uint64, entry []byte) error) (latest []byte, err error) {
	const op = "tlog.Verify"
	fail := func(res string, entry int64, format string, args ...any) error {
		return errors.E(op, errors.Invalid, &VerifyError{Resource: res, Entry: entry, Reason: fmt.Sprintf(format, args...)})
	}
	get := func(r Resource, entry int64) ([]byte, error) {
		data, err := fetch(ctx, r.String())
		if err == nil {
			return data, nil
		}
		kind := errors.Unavailable
		if errors.Is(errors.NotExist, err) {
			kind = errors.Invalid
		}
		return nil, errors.E(op, kind, &VerifyError{Resource: r.String(), Entry: entry, Reason: "fetch: " + err.Error()})
	}

	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("bad verifier key: %v", err))
	}
	origin := v.Name()
	var tcp *log.Checkpoint
	if trusted != nil {
		if tcp, _, _, err = log.ParseCheckpoint(trusted, origin, v); err != nil {
			return nil, fail("trusted checkpoint", -1, "%v", err)
		}
		if len(tcp.Hash) != tlog.HashSize {
			return nil, fail("trusted checkpoint", -1, "root hash is not %d bytes", tlog.HashSize)
		}
	}
	raw, err := get(Resource{Kind: KindCheckpoint}, -1)
	if err != nil {
		return nil, err
	}
	cp, _, _, err := log.ParseCheckpoint(raw, origin, v)
	if err != nil {
		return nil, fail(PathCheckpoint, -1, "%v", err)
	}
	if len(cp.Hash) != tlog.HashSize {
		return nil, fail(PathCheckpoint, -1, "root hash is not %d bytes", tlog.HashSize)
	}
	if tcp != nil {
		switch {
		case cp.Size < tcp.Size:
			return nil, fail(PathCheckpoint, -1, "log truncated: latest checkpoint commits to %d entries, the trusted one to %d", cp.Size, tcp.Size)
		case cp.Size == tcp.Size && !bytes.Equal(cp.Hash, tcp.Hash):
			return nil, fail(PathCheckpoint, -1, "log forked: two checkpoints signed for size %d with different roots", cp.Size)
		}
	}

	w := &walker{get: get, fail: fail}
	checkTrusted := func() error {
		if tcp != nil && w.tree.size == tcp.Size {
			if r := w.tree.root(); !bytes.Equal(r[:], tcp.Hash) {
				return fail("trusted checkpoint", -1, "the first %d entries do not hash to the trusted root: history was rewritten or the log forked", tcp.Size)
			}
		}
		return nil
	}
	if err := checkTrusted(); err != nil {
		return nil, err
	}

	// Entry bundles and level-0 tiles, fetched ahead in order.
	nb := (cp.Size + TileWidth - 1) / TileWidth
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan chan fetched, 16)
	go func() {
		defer close(results)
		for n := range nb {
			c := make(chan fetched, 1)
			select {
			case results <- c:
			case <-fctx.Done():
				return
			}
			wd := int(min(TileWidth, cp.Size-n*TileWidth))
			go func() {
				var f fetched
				f.bundle, f.err = get(EntriesResource(n, wd), int64(n*TileWidth))
				if f.err == nil {
					f.tile, f.err = get(TileResource(0, n, wd), int64(n*TileWidth))
				}
				c <- f
			}()
		}
	}()
	for n := uint64(0); n < nb; n++ {
		var f fetched
		select {
		case c, ok := <-results:
			if !ok {
				return nil, errors.E(op, errors.Unavailable, ctx.Err())
			}
			f = <-c
		case <-ctx.Done():
			return nil, errors.E(op, errors.Unavailable, ctx.Err())
		}
		if f.err != nil {
			return nil, f.err
		}
		wd := int(min(TileWidth, cp.Size-n*TileWidth))
		bres, tres := EntriesResource(n, wd).String(), TileResource(0, n, wd).String()
		if len(f.tile) != wd*tlog.HashSize {
			return nil, fail(tres, -1, "tile holds %d bytes, want %d", len(f.tile), wd*tlog.HashSize)
		}
		entries, perr := splitBundle(f.bundle)
		hashes := make([]tlog.Hash, 0, wd)
		for i := 0; i < wd && i < len(entries); i++ {
			h := tlog.RecordHash(entries[i])
			if !bytes.Equal(h[:], f.tile[i*tlog.HashSize:(i+1)*tlog.HashSize]) {
				return nil, fail(bres, int64(n*TileWidth)+int64(i), "entry does not match its hash in %s (altered, dropped or reordered)", tres)
			}
			hashes = append(hashes, h)
		}
		if each != nil && len(entries) == wd && perr == nil {
			for i, e := range entries {
				if err := each(n*TileWidth+uint64(i), e); err != nil {
					return nil, err
				}
			}
		}
		switch {
		case len(entries) < wd:
			reason := "missing: the bundle holds %d entries, want %d"
			if perr != nil {
				reason = "torn: the bundle holds %d whole entries, want %d"
			}
			return nil, fail(bres, int64(n*TileWidth)+int64(len(entries)), reason, len(entries), wd)
		case len(entries) > wd || perr != nil:
			return nil, fail(bres, int64(n*TileWidth)+int64(wd), "the bundle holds data beyond its %d entries", wd)
		}
		for _, h := range hashes {
			w.tree.push(h, w.emit)
			if w.err != nil {
				return nil, w.err
			}
			if err := checkTrusted(); err != nil {
				return nil, err
			}
		}
	}
	// The right-edge partial tiles above level 0.
	for lv := 1; lv < maxLevels; lv++ {
		if len(w.rows[lv]) > 0 {
			if err := w.checkTile(lv); err != nil {
				return nil, err
			}
		}
	}
	root := w.tree.root()
	if cp.Size == 0 {
		root = tlog.Hash(sha256.Sum256(nil))
	}
	if !bytes.Equal(root[:], cp.Hash) {
		return nil, fail(PathCheckpoint, -1, "root hash does not match the log's %d entries: entries or checkpoint altered", cp.Size)
	}
	return raw, nil
}

type fetched struct {
	bundle, tile []byte
	err          error
}

// walker checks the tiles above level 0 as a treeBuilder completes them.
type walker struct {
	tree treeBuilder
	rows [maxLevels][]byte // the current row of each level, as tile data
	next [maxLevels]uint64 // the index of each level's current tile
	get  func(Resource, int64) ([]byte, error)
	fail func(string, int64, string, ...any) error
	err  error
}

func (w *walker) emit(slot int, h tlog.Hash) {
	if slot%tileSlots != 0 {
		return
	}
	level := slot / tileSlots
	w.rows[level] = append(w.rows[level], h[:]...)
	if len(w.rows[level]) == TileWidth*tlog.HashSize {
		if level > 0 && w.err == nil {
			w.err = w.checkTile(level)
		}
		w.rows[level] = w.rows[level][:0]
		w.next[level]++
	}
}

// checkTile fetches the tile of the current row at level and compares it.
func (w *walker) checkTile(level int) error {
	want := w.rows[level]
	r := TileResource(uint8(level), w.next[level], len(want)/tlog.HashSize)
	got, err := w.get(r, -1)
	if err != nil {
		return err
	}
	if len(got) != len(want) {
		return w.fail(r.String(), -1, "tile holds %d bytes, want %d", len(got), len(want))
	}
	for i := 0; i < len(want); i += tlog.HashSize {
		if !bytes.Equal(got[i:i+tlog.HashSize], want[i:i+tlog.HashSize]) {
			j := w.next[level]*TileWidth + uint64(i/tlog.HashSize)
			shift := uint(TileHeight * level)
			return w.fail(r.String(), -1, "hash %d (over entries %d..%d) does not match the entries", i/tlog.HashSize, j<<shift, (j+1)<<shift-1)
		}
	}
	return nil
}
