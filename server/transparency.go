package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
	"github.com/sealpost/sealpost/journal"
	"github.com/sealpost/sealpost/legal/gateway"
	"github.com/sealpost/sealpost/legal/policy"
	"github.com/sealpost/sealpost/tlog"
	"github.com/sealpost/sealpost/transparency"
	"golang.org/x/mod/sumdb/note"
)

// This file wires the transparency log: the log itself under
// data_dir/log/tree, signed with the deployment's log key, its ledger (the
// operator's private index) under data_dir/log/index, fed from the legal
// store's event outbox and the event journal, and the warrant canary.
//
// Keys, each made once, mode 0600, under data_dir/keys: log.key (the note
// signer key of checkpoints; its name, the log's origin, is
// "<hostname>/log"), canary.key (the canary's note signer key,
// "<hostname>/canary") and blinding.key (32 random bytes, hex: the root
// of every account secret and entry salt).

// LogDir is the folder of the deployment's transparency log.
func (s *Server) LogDir() string { return filepath.Join(s.cfg.DataDir, "log") }

// LogOrigin is the transparency log's origin: the first line of its
// checkpoints.
func (s *Server) LogOrigin() string { return s.cfg.Hostname + "/log" }

// Transparency is an open transparency log with its ledger.
type Transparency struct {
	Log    *tlog.Log
	Ledger *transparency.Ledger
}

// Close closes the ledger and the log.
func (t *Transparency) Close() error {
	err := t.Ledger.Close()
	if cerr := t.Log.Close(); err == nil {
		err = cerr
	}
	return err
}

// OpenTransparency opens the transparency log and its ledger over the
// gateway's store and the event journal, records a policy change if the
// policy in force differs from the last one recorded, and publishes
// whatever events the log lacks, and renews the warrant canary if due. Only one process may have it open.
func (s *Server) OpenTransparency(ctx context.Context, gw *gateway.Gateway) (*Transparency, error) {
	const op = "server.OpenTransparency"
	keys := filepath.Join(s.cfg.DataDir, "keys")
	if err := durable.PrivateDir(op, keys); err != nil {
		return nil, err
	}
	skey, err := noteKey(filepath.Join(keys, "log.key"), s.LogOrigin())
	if err != nil {
		return nil, errors.E(op, err)
	}
	ckey, err := noteKey(filepath.Join(keys, "canary.key"), s.cfg.Hostname+"/canary")
	if err != nil {
		return nil, errors.E(op, err)
	}
	canary, err := note.NewSigner(ckey)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	bkey, err := blindingKey(filepath.Join(keys, "blinding.key"))
	if err != nil {
		return nil, errors.E(op, err)
	}
	blinder, err := transparency.NewBlinder(bkey)
	if err != nil {
		return nil, errors.E(op, err)
	}
	if err := s.recordPolicy(ctx, gw); err != nil {
		return nil, errors.E(op, err)
	}
	if err := durable.PrivateDir(op, s.LogDir()); err != nil {
		return nil, err
	}
	lg, err := tlog.Open(filepath.Join(s.LogDir(), "tree"), skey, tlog.Options{})
	if err != nil {
		return nil, errors.E(op, err)
	}
	pol := gw.Policy()
	led, err := transparency.OpenLedger(filepath.Join(s.LogDir(), "index"), transparency.LedgerOptions{
		Log:         lg,
		Blinder:     blinder,
		Withholding: transparency.Withholding{Instruments: instrumentNames(pol.Withhold())},
		Sources: map[string]sealpost.EventSource{
			transparency.SourceLegal:   gw.Store(),
			transparency.SourceJournal: journal.NewSource(s.JournalPath()),
		},
		Canary: transparency.CanaryOptions{Signer: canary, Issuer: s.cfg.Hostname, LapseOn: instrumentNames(pol.CanaryLapsesOn())},
		Now:    s.opts.Now,
	})
	if err != nil {
		lg.Close()
		return nil, errors.E(op, err)
	}
	t := &Transparency{Log: lg, Ledger: led}
	if _, err := led.Sync(ctx); err != nil {
		t.Close()
		return nil, errors.E(op, err)
	}
	if _, err := led.RefreshCanary(ctx); err != nil {
		t.Close()
		return nil, errors.E(op, err)
	}
	return t, nil
}

func instrumentNames[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// recordPolicy journals policy.loaded when the policy in force (its
// version and the SHA-256 of its text) is not the last one journalled: so
// every change of policy is in the log.
func (s *Server) recordPolicy(ctx context.Context, gw *gateway.Gateway) error {
	src := policy.DefaultSource()
	if s.cfg.Legal.Policy != "" {
		b, err := os.ReadFile(s.cfg.Legal.Policy)
		if err != nil {
			return errors.E(errors.Invalid, err)
		}
		src = b
	}
	sum := sha256.Sum256(src)
	detail := map[string]string{"version": gw.Policy().Version(), "sha256": hex.EncodeToString(sum[:])}
	evs, err := journal.Events(s.JournalPath())
	if err != nil {
		return err
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == sealpost.EventPolicyLoaded {
			if evs[i].Detail["sha256"] == detail["sha256"] && evs[i].Detail["version"] == detail["version"] {
				return nil
			}
			break
		}
	}
	return s.Record(ctx, sealpost.Event{Kind: sealpost.EventPolicyLoaded, Actor: "admin", Detail: detail})
}

// noteKey loads, or makes once, a note signer key named name.
func noteKey(path, name string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		skey := strings.TrimSpace(string(b))
		if _, err := note.NewSigner(skey); err != nil {
			return "", errors.E(errors.Invalid, errors.Errorf("%s is not a note signer key: %v", path, err))
		}
		if got, _, _ := strings.Cut(strings.TrimPrefix(skey, "PRIVATE+KEY+"), "+"); got != name {
			return "", errors.E(errors.Invalid, errors.Errorf("%s signs as %q, but this deployment is %q (hostname changed?)", path, got, name))
		}
		return skey, nil
	}
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", errors.E(errors.Internal, err)
	}
	if err := durable.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
		return "", err
	}
	return skey, nil
}

// blindingKey loads, or makes once, the deployment's blinding key.
func blindingKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != transparency.KeySize {
			return nil, errors.E(errors.Invalid, errors.Errorf("%s is not a blinding key", path))
		}
		return k, nil
	}
	k := make([]byte, transparency.KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, errors.E(errors.Internal, err)
	}
	if err := durable.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

// startLedger publishes new events into the log every interval, and
// renews the canary, until Close.
func (s *Server) startLedger(t *Transparency, every time.Duration) {
	stop := make(chan struct{})
	s.closers = append(s.closers, func() error { close(stop); return nil })
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			ctx := context.Background()
			if n, err := t.Ledger.Sync(ctx); err != nil {
				s.log.Error("publishing events to the transparency log", "err", err)
			} else if n > 0 {
				s.log.Info("published to the transparency log", "entries", n, "size", t.Log.Size())
			}
			if ok, err := t.Ledger.RefreshCanary(ctx); err != nil {
				s.log.Error("renewing the warrant canary", "err", err)
			} else if ok {
				s.log.Info("warrant canary renewed")
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
}
