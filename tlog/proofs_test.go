package tlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"

	"github.com/sealpost/sealpost/errors"
)

// TestProofsOnRequest fetches inclusion and consistency proofs over HTTP
// from the log's proof/ endpoint and checks them with transparency-dev/
// merkle (ProveInclusion, ProveConsistency), and checks that altered
// proofs, a forked checkpoint and a truncated log are caught.
func TestProofsOnRequest(t *testing.T) {
	ctx := context.Background()
	l, _ := openTest(t, "", Options{})
	for i := 0; i < 300; i++ {
		if _, err := l.Append(ctx, testEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	old := l.Checkpoint()
	for i := 300; i < 777; i++ {
		if _, err := l.Append(ctx, testEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(l.Handler())
	defer srv.Close()
	fetch := HTTPFetcher(srv.URL, nil)
	for _, i := range []uint64{0, 1, 255, 256, 299, 300, 511, 776} {
		p, err := ProveInclusion(ctx, fetch, testVKey, i)
		if err != nil {
			t.Fatalf("ProveInclusion(%d): %v", i, err)
		}
		if !bytes.Equal(p.Entry, testEntry(int(i))) || p.Checkpoint.Size != 777 {
			t.Errorf("ProveInclusion(%d) = %q at size %d", i, p.Entry, p.Checkpoint.Size)
		}
	}
	if _, err := ProveInclusion(ctx, fetch, testVKey, 777); !errors.Is(errors.NotExist, err) {
		t.Errorf("ProveInclusion beyond the log: %v", err)
	}
	latest, err := ProveConsistency(ctx, fetch, testVKey, old)
	if err != nil || !bytes.Equal(latest, l.Checkpoint()) {
		t.Fatalf("ProveConsistency: %v", err)
	}
	if _, err := ProveConsistency(ctx, fetch, testVKey, l.Checkpoint()); err != nil {
		t.Errorf("ProveConsistency from the latest itself: %v", err)
	}

	// A proof with one hash altered fails, whichever hash.
	flip := func(k int) Fetcher {
		return func(ctx context.Context, path string) ([]byte, error) {
			b, err := fetch(ctx, path)
			if err == nil && strings.HasPrefix(path, "proof/") {
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				h, _ := base64.StdEncoding.DecodeString(lines[k%len(lines)])
				h[k%32] ^= 1
				lines[k%len(lines)] = base64.StdEncoding.EncodeToString(h)
				b = []byte(strings.Join(lines, "\n") + "\n")
			}
			return b, err
		}
	}
	for k := 0; k < 12; k++ {
		if _, err := ProveInclusion(ctx, flip(k), testVKey, 300); !errors.Is(errors.Invalid, err) {
			t.Errorf("inclusion proof with hash %d altered: %v", k, err)
		}
		if _, err := ProveConsistency(ctx, flip(k), testVKey, old); !errors.Is(errors.Invalid, err) {
			t.Errorf("consistency proof with hash %d altered: %v", k, err)
		}
	}
	// A checkpoint the log's key signed for the old size with another root.
	signer, _ := note.NewSigner(testSKey)
	var c log.Checkpoint
	c.Unmarshal(old[:bytes.Index(old, []byte("\n\n"))+1])
	c.Hash = bytes.Repeat([]byte{7}, 32)
	forked, _ := note.Sign(&note.Note{Text: string(c.Marshal())}, signer)
	if _, err := ProveConsistency(ctx, fetch, testVKey, forked); err == nil || !strings.Contains(err.Error(), "does not extend") {
		t.Errorf("a fork: %v", err)
	}
	c.Size = 1000
	ahead, _ := note.Sign(&note.Note{Text: string(c.Marshal())}, signer)
	if _, err := ProveConsistency(ctx, fetch, testVKey, ahead); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("a truncated log: %v", err)
	}
	for _, bad := range []string{"proof/inclusion/5", "proof/inclusion/x/9", "proof/inclusion/800/900", "proof/consistency/9/5", "proof/other/1/2"} {
		if _, err := fetch(ctx, bad); !errors.Is(errors.NotExist, err) {
			t.Errorf("GET %s: %v", bad, err)
		}
	}
}
