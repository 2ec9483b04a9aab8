package tlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sealpost/sealpost/errors"
)

// Proofs on request. Beside the tiles (from which anyone can compute any
// proof), the log's Handler answers
//
//	GET proof/inclusion/<index>/<size>    RFC 6962 audit path of an entry
//	GET proof/consistency/<old>/<new>     RFC 6962 consistency proof
//
// as text, one base64 hash per line (the form C2SP tlog-proof uses), for
// a tree no larger than the latest checkpoint's. ProveInclusion and
// ProveConsistency are the client side: they check what they fetch with
// github.com/transparency-dev/merkle, not with the x/mod code that builds
// the log.

// serveProof answers a proof/… request.
func (l *Log) serveProof(w http.ResponseWriter, req *http.Request) {
	parts := strings.Split(strings.TrimPrefix(req.URL.Path, "/"), "/")
	if len(parts) != 4 {
		http.NotFound(w, req)
		return
	}
	a, err1 := strconv.ParseUint(parts[2], 10, 64)
	b, err2 := strconv.ParseUint(parts[3], 10, 64)
	if err1 != nil || err2 != nil {
		http.NotFound(w, req)
		return
	}
	var hashes []tlog.Hash
	var err error
	switch parts[1] {
	case "inclusion":
		hashes, err = l.InclusionProof(req.Context(), a, b)
	case "consistency":
		hashes, err = l.ConsistencyProof(req.Context(), a, b)
	default:
		http.NotFound(w, req)
		return
	}
	if err != nil {
		http.Error(w, "no such proof: "+err.Error(), http.StatusNotFound)
		return
	}
	var out bytes.Buffer
	for _, h := range hashes {
		out.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(out.Bytes())
}

func parseHashes(data []byte) ([][]byte, error) {
	var out [][]byte
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		h, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(h) != tlog.HashSize {
			return nil, errors.Errorf("bad hash line %q", line)
		}
		out = append(out, h)
	}
	return out, nil
}

// latest fetches and checks the latest checkpoint.
func latest(ctx context.Context, fetch Fetcher, verifierKey string) (*log.Checkpoint, []byte, error) {
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return nil, nil, errors.E(errors.Invalid, errors.Errorf("bad verifier key: %v", err))
	}
	raw, err := fetch(ctx, PathCheckpoint)
	if err != nil {
		return nil, nil, err
	}
	cp, _, _, err := log.ParseCheckpoint(raw, v.Name(), v)
	if err != nil {
		return nil, nil, errors.E(errors.Invalid, &VerifyError{Resource: PathCheckpoint, Entry: -1, Reason: err.Error()})
	}
	return cp, raw, nil
}

// ProveInclusion fetches the latest checkpoint (checked with verifierKey),
// the entry at index and its inclusion proof from the log's proof/
// endpoint, and checks that the entry is in the checkpoint's tree.
func ProveInclusion(ctx context.Context, fetch Fetcher, verifierKey string, index uint64) (*ProvenEntry, error) {
	const op = "tlog.ProveInclusion"
	cp, _, err := latest(ctx, fetch, verifierKey)
	if err != nil {
		return nil, errors.E(op, err)
	}
	if index >= cp.Size {
		return nil, errors.E(op, errors.NotExist, errors.Errorf("entry %d is beyond the log's %d entries", index, cp.Size))
	}
	n := index / TileWidth
	w := int(min(TileWidth, cp.Size-n*TileWidth))
	res := EntriesResource(n, w)
	data, err := fetch(ctx, res.String())
	if err != nil {
		return nil, errors.E(op, err)
	}
	entries, err := splitBundle(data)
	if err != nil || len(entries) != w {
		return nil, errors.E(op, errors.Invalid, &VerifyError{Resource: res.String(), Entry: int64(index), Reason: "malformed entry bundle"})
	}
	entry := entries[index%TileWidth]
	path := fmt.Sprintf("proof/inclusion/%d/%d", index, cp.Size)
	raw, err := fetch(ctx, path)
	if err != nil {
		return nil, errors.E(op, err)
	}
	hashes, err := parseHashes(raw)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, &VerifyError{Resource: path, Entry: int64(index), Reason: err.Error()})
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, rfc6962.DefaultHasher.HashLeaf(entry), hashes, cp.Hash); err != nil {
		return nil, errors.E(op, errors.Invalid, &VerifyError{Resource: path, Entry: int64(index), Reason: "entry not in the signed tree: " + err.Error()})
	}
	return &ProvenEntry{Index: index, Entry: entry, Checkpoint: cp}, nil
}

// ProveConsistency fetches the latest checkpoint and the consistency proof
// from trusted (a checkpoint held from before) to it, and checks that the
// latest tree extends the trusted one. It returns the latest checkpoint.
func ProveConsistency(ctx context.Context, fetch Fetcher, verifierKey string, trusted []byte) ([]byte, error) {
	const op = "tlog.ProveConsistency"
	v, err := note.NewVerifier(strings.TrimSpace(verifierKey))
	if err != nil {
		return nil, errors.E(op, errors.Invalid, errors.Errorf("bad verifier key: %v", err))
	}
	old, _, _, err := log.ParseCheckpoint(trusted, v.Name(), v)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, &VerifyError{Resource: "trusted checkpoint", Entry: -1, Reason: err.Error()})
	}
	cp, raw, err := latest(ctx, fetch, verifierKey)
	if err != nil {
		return nil, errors.E(op, err)
	}
	if cp.Size < old.Size {
		return nil, errors.E(op, errors.Invalid, &VerifyError{Resource: PathCheckpoint, Entry: -1,
			Reason: fmt.Sprintf("log truncated: latest checkpoint commits to %d entries, the trusted one to %d", cp.Size, old.Size)})
	}
	var hashes [][]byte
	path := fmt.Sprintf("proof/consistency/%d/%d", old.Size, cp.Size)
	if old.Size > 0 && old.Size < cp.Size {
		data, err := fetch(ctx, path)
		if err != nil {
			return nil, errors.E(op, err)
		}
		if hashes, err = parseHashes(data); err != nil {
			return nil, errors.E(op, errors.Invalid, &VerifyError{Resource: path, Entry: -1, Reason: err.Error()})
		}
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, cp.Size, hashes, old.Hash, cp.Hash); err != nil {
		reason := "the latest tree does not extend the trusted one (history rewritten, or the log forked): " + err.Error()
		if old.Size == cp.Size {
			reason = fmt.Sprintf("log forked: two checkpoints signed for size %d with different roots", cp.Size)
		}
		return nil, errors.E(op, errors.Invalid, &VerifyError{Resource: path, Entry: -1, Reason: reason})
	}
	return raw, nil
}
