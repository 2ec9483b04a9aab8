package region

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/seal"
)

// End is one side of a move: a region's (guarded) store and blob store.
type End struct {
	Region sealpost.RegionID
	Store  sealpost.Store
	Blobs  sealpost.BlobStore
}

// Mover moves one account's mailbox from one region to another, sealed as it
// is: it needs no key and opens nothing. The caller has checked that the
// owner asked (their password). A move is recorded in the directory and
// runs in phases, each safe to interrupt and to run again:
//
//  1. copy: the account's image (settings, keys, mailboxes, messages with
//     their UIDs, sealed objects such as Sieve scripts) and every blob it
//     references are copied to the destination, then read back and
//     compared, blob by blob by SHA-256. The mailbox is frozen meanwhile
//     (both regions answer "try later").
//  2. switch: one directory transaction makes the destination the home.
//  3. cleanup: the source's copy is deleted; then the move is forgotten.
//
// If the process dies, running the move again resumes from the recorded
// phase. A copy cut short leaves at most blobs in the destination that no
// account references; the resumed move finds them (their SHA-256 matches a
// source blob: sealing is randomised, so no other blob can) and deletes
// them before copying again. The same holds for source blobs left by an
// interrupted cleanup. UIDVALIDITY and UIDs are kept, so IMAP clients keep
// their caches.
type Mover struct {
	Dir      sealpost.Directory
	From, To End
	// Recorder receives the move's events (requested, completed).
	Recorder sealpost.Recorder
	// Settle is how long to wait after recording the move before copying,
	// so that servers running beside the mover stop writing to the
	// mailbox (their guards re-check within guard.Recheck). Zero when no server
	// runs (the command-line move on a stopped deployment).
	Settle time.Duration
	Logger *slog.Logger
	// Meter, if set, counts the blobs the copy phase copies.
	Meter Meter
	// crash, for tests, is called at named points and may kill the process.
	crash func(point string)
}

// SetCrashHook installs a function called at each named point of a move
// (for crash tests: it may end the process there).
func (m *Mover) SetCrashHook(f func(point string)) { m.crash = f }

func (m *Mover) at(point string) {
	if m.crash != nil {
		m.crash(point)
	}
}

// Move moves addr from m.From to m.To, or resumes an interrupted move.
func (m *Mover) Move(ctx context.Context, addr string) error {
	const op = "region.Move"
	if m.Logger == nil {
		m.Logger = mlog.Discard()
	}
	addr = sealpost.NormalizeAddress(addr)
	mv, err := m.current(ctx, addr)
	if err != nil {
		return errors.E(op, err)
	}
	if mv == nil {
		home, err := m.Dir.Home(ctx, addr)
		if err != nil {
			return errors.E(op, err)
		}
		if home == m.To.Region {
			return errors.E(op, errors.Exist, errors.Errorf("%s already lives in region %s", addr, home))
		}
		if home != m.From.Region {
			return errors.E(op, errors.WrongRegion, errors.Errorf("%s lives in region %s, not %s", addr, home, m.From.Region))
		}
		if err := m.Dir.StartMove(ctx, sealpost.Move{Address: addr, From: m.From.Region, To: m.To.Region}); err != nil {
			return errors.E(op, err)
		}
		m.record(ctx, sealpost.EventMailboxMoveRequested, addr)
		m.at("started")
		if m.Settle > 0 {
			select {
			case <-time.After(m.Settle):
			case <-ctx.Done():
				return errors.E(op, errors.Unavailable, ctx.Err())
			}
		}
		mv = &sealpost.Move{Address: addr, From: m.From.Region, To: m.To.Region, Phase: sealpost.MoveCopy}
	} else if mv.From != m.From.Region || mv.To != m.To.Region {
		return errors.E(op, errors.Exist, errors.Errorf("an unfinished move of %s goes from %s to %s", addr, mv.From, mv.To))
	}
	if mv.Phase == sealpost.MoveCopy {
		if err := m.copy(ctx, addr); err != nil {
			return errors.E(op, err)
		}
		m.at("copied")
		if err := m.Dir.SwitchMove(ctx, addr); err != nil {
			return errors.E(op, err)
		}
		m.at("switched")
	}
	if err := m.cleanup(ctx, addr); err != nil {
		return errors.E(op, err)
	}
	m.at("cleaned")
	if err := m.Dir.FinishMove(ctx, addr); err != nil {
		return errors.E(op, err)
	}
	m.record(ctx, sealpost.EventMailboxMoveCompleted, addr)
	m.Logger.Info("mailbox moved", "from_region", m.From.Region, "to_region", m.To.Region)
	return nil
}

func (m *Mover) current(ctx context.Context, addr string) (*sealpost.Move, error) {
	moves, err := m.Dir.Moves(ctx)
	if err != nil {
		return nil, err
	}
	for _, mv := range moves {
		if mv.Address == addr {
			return &mv, nil
		}
	}
	return nil, nil
}

func (m *Mover) record(ctx context.Context, kind sealpost.EventKind, addr string) {
	if m.Recorder == nil {
		return
	}
	err := m.Recorder.Record(ctx, sealpost.Event{
		Time: time.Now().UTC(), Kind: kind, Account: addr, Actor: "owner",
		Detail: map[string]string{"from": string(m.From.Region), "to": string(m.To.Region)},
	})
	if err != nil {
		m.Logger.Error("recording move event", "kind", kind, "err", err)
	}
}

// copy runs the copy phase: it ends with a verified copy in the destination.
func (m *Mover) copy(ctx context.Context, addr string) error {
	src, err := m.From.Store.ExportAccount(ctx, addr)
	if err != nil {
		return err
	}
	srcSums, err := sums(ctx, m.From.Blobs, imageBlobs(src))
	if err != nil {
		return err
	}
	// A complete copy from an earlier attempt (ImportAccount is atomic)
	// is kept if it verifies, else removed and made again.
	if dst, err := m.To.Store.ExportAccount(ctx, addr); err == nil {
		if verr := m.verify(ctx, src, srcSums, dst); verr == nil {
			return nil
		} else {
			m.Logger.Warn("discarding a bad copy from an interrupted move", "err", verr)
		}
		refs, err := m.To.Store.DeleteAccount(ctx, dst.Account.ID)
		if err != nil {
			return err
		}
		for _, ref := range refs {
			m.To.Blobs.Delete(ctx, ref)
		}
	} else if !errors.Is(errors.NotExist, err) {
		return err
	}
	if err := sweep(ctx, m.To, srcSums); err != nil {
		return err
	}
	m.at("swept")

	// Copy each distinct blob once (copies within the account share blobs).
	newRef := make(map[sealpost.BlobRef]sealpost.BlobRef)
	refs := imageBlobs(src)
	if m.Meter != nil {
		m.Meter.SetTotal(int64(len(refs)))
	}
	for i, ref := range refs {
		data, err := readAll(ctx, m.From.Blobs, ref)
		if err != nil {
			return err
		}
		nref, err := m.To.Blobs.Put(ctx, data)
		if err != nil {
			return err
		}
		newRef[ref] = nref
		if m.Meter != nil {
			m.Meter.Add(1, int64(len(data)))
		}
		if i == 0 {
			m.at("first-blob")
		}
	}
	m.at("blobs-copied")
	// The image goes as exported; only message blobs are re-pointed. Its
	// objects (filter.go) hold no blob refs: they travel inside it.
	img := src
	img.Mailboxes = make([]sealpost.MailboxImage, len(src.Mailboxes))
	for i, mb := range src.Mailboxes {
		msgs := make([]sealpost.Message, len(mb.Messages))
		for j, msg := range mb.Messages {
			msg.Blob = newRef[msg.Blob]
			msgs[j] = msg
		}
		img.Mailboxes[i] = sealpost.MailboxImage{Mailbox: mb.Mailbox, Messages: msgs}
	}
	if _, err := m.To.Store.ImportAccount(ctx, img); err != nil {
		return err
	}
	m.at("imported")
	dst, err := m.To.Store.ExportAccount(ctx, addr)
	if err != nil {
		return err
	}
	return m.verify(ctx, src, srcSums, dst)
}

// cleanup deletes the source's copy, and any source blob an interrupted
// cleanup left behind.
func (m *Mover) cleanup(ctx context.Context, addr string) error {
	dst, err := m.To.Store.ExportAccount(ctx, addr)
	if err != nil {
		return err
	}
	dstSums, err := sums(ctx, m.To.Blobs, imageBlobs(dst))
	if err != nil {
		return err
	}
	src, err := m.From.Store.ExportAccount(ctx, addr)
	switch {
	case err == nil:
		refs, err := m.From.Store.DeleteAccount(ctx, src.Account.ID)
		if err != nil {
			return err
		}
		m.at("source-deleted")
		for _, ref := range refs {
			if err := m.From.Blobs.Delete(ctx, ref); err != nil {
				return err
			}
		}
	case errors.Is(errors.NotExist, err):
	default:
		return err
	}
	return sweep(ctx, m.From, dstSums)
}

// verify compares a copy with its source: same account and settings, keys,
// mailboxes, messages (all but IDs and blob refs) and objects, and every
// blob's SHA-256.
func (m *Mover) verify(ctx context.Context, src sealpost.AccountImage, srcSums map[sealpost.BlobRef][32]byte, dst sealpost.AccountImage) error {
	const op = "region.verify"
	bad := func(format string, args ...any) error {
		return errors.E(op, errors.Internal, errors.Errorf("copy differs: "+format, args...))
	}
	a, b := src.Account, dst.Account
	if a.Address != b.Address || !a.Created.Equal(b.Created) || a.OwnKey != b.OwnKey || !bytes.Equal(a.PasswordVerifier, b.PasswordVerifier) ||
		a.Settings != b.Settings || a.Quota != b.Quota {
		return bad("account")
	}
	if len(src.Objects) != len(dst.Objects) {
		return bad("%d objects, want %d", len(dst.Objects), len(src.Objects))
	}
	for i, o := range src.Objects {
		d := dst.Objects[i]
		if o.Kind != d.Kind || o.Name != d.Name || o.Active != d.Active || !bytes.Equal(o.Data, d.Data) || !o.Updated.Equal(d.Updated) {
			return bad("%s object %q", o.Kind, o.Name)
		}
	}
	if len(src.Keys) != len(dst.Keys) {
		return bad("%d keys, want %d", len(dst.Keys), len(src.Keys))
	}
	keyMap := map[sealpost.KeyID]sealpost.KeyID{0: 0}
	for i, k := range src.Keys {
		d := dst.Keys[i]
		if !bytes.Equal(k.PublicKey, d.PublicKey) || !bytes.Equal(k.WrappedByPassword, d.WrappedByPassword) ||
			!bytes.Equal(k.WrappedByRecovery, d.WrappedByRecovery) || k.Active != d.Active || !k.Created.Equal(d.Created) {
			return bad("key %d", i)
		}
		keyMap[k.ID] = d.ID
	}
	if len(src.Mailboxes) != len(dst.Mailboxes) {
		return bad("%d mailboxes, want %d", len(dst.Mailboxes), len(src.Mailboxes))
	}
	dstRefs := make(map[sealpost.BlobRef]bool)
	for i, smb := range src.Mailboxes {
		dmb := dst.Mailboxes[i]
		x, y := smb.Mailbox, dmb.Mailbox
		if x.Name != y.Name || x.Use != y.Use || x.Subscribed != y.Subscribed || x.UIDValidity != y.UIDValidity ||
			x.UIDNext != y.UIDNext || x.HighestModSeq != y.HighestModSeq || len(smb.Messages) != len(dmb.Messages) {
			return bad("mailbox %q", x.Name)
		}
		for j, sm := range smb.Messages {
			dm := dmb.Messages[j]
			if sm.UID != dm.UID || sm.ModSeq != dm.ModSeq || sm.Size != dm.Size || !sm.InternalDate.Equal(dm.InternalDate) ||
				!slices.Equal(sm.Flags, dm.Flags) || !bytes.Equal(sm.SessionKey, dm.SessionKey) || keyMap[sm.Key] != dm.Key {
				return bad("message %d in %q", sm.UID, x.Name)
			}
			dstRefs[dm.Blob] = true
		}
	}
	dstSums, err := sums(ctx, m.To.Blobs, slices.Collect(maps.Keys(dstRefs)))
	if err != nil {
		return err
	}
	for i, smb := range src.Mailboxes {
		for j, sm := range smb.Messages {
			if srcSums[sm.Blob] != dstSums[dst.Mailboxes[i].Messages[j].Blob] {
				return bad("blob of message %d in %q", sm.UID, smb.Mailbox.Name)
			}
		}
	}
	return nil
}

// sweep deletes blobs of end that no account there references and whose
// SHA-256 is among sums: leftovers of an interrupted copy or cleanup.
func sweep(ctx context.Context, end End, sums map[sealpost.BlobRef][32]byte) error {
	want := make(map[[32]byte]bool, len(sums))
	for _, s := range sums {
		want[s] = true
	}
	if len(want) == 0 {
		return nil
	}
	inv, err := end.Store.Inventory(ctx)
	if err != nil {
		return err
	}
	var stray []sealpost.BlobRef
	err = end.Blobs.List(ctx, func(ref sealpost.BlobRef) error {
		if _, ok := inv.Blobs[ref]; !ok {
			stray = append(stray, ref)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, ref := range stray {
		data, err := readAll(ctx, end.Blobs, ref)
		if errors.Is(errors.NotExist, err) {
			continue
		}
		if err != nil {
			return err
		}
		if want[sha256.Sum256(data)] {
			if err := end.Blobs.Delete(ctx, ref); err != nil {
				return err
			}
		}
	}
	return nil
}

// imageBlobs lists the distinct blobs an image references, in order.
func imageBlobs(img sealpost.AccountImage) []sealpost.BlobRef {
	seen := map[sealpost.BlobRef]bool{}
	var out []sealpost.BlobRef
	for _, mb := range img.Mailboxes {
		for _, msg := range mb.Messages {
			if !seen[msg.Blob] {
				seen[msg.Blob] = true
				out = append(out, msg.Blob)
			}
		}
	}
	return out
}

func sums(ctx context.Context, blobs sealpost.BlobStore, refs []sealpost.BlobRef) (map[sealpost.BlobRef][32]byte, error) {
	out := make(map[sealpost.BlobRef][32]byte, len(refs))
	for _, ref := range refs {
		data, err := readAll(ctx, blobs, ref)
		if err != nil {
			return nil, errors.E("region.sums", errors.Errorf("blob %s: %w", ref, err))
		}
		out[ref] = sha256.Sum256(data)
	}
	return out, nil
}

func readAll(ctx context.Context, blobs sealpost.BlobStore, ref sealpost.BlobRef) ([]byte, error) {
	rc, err := blobs.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, errors.E("region.readAll", errors.Internal, fmt.Errorf("blob %s: %w", ref, err))
	}
	return data, nil
}

// CheckOwner checks that password is addr's, against the account as stored
// in end (either side of a move, so an interrupted move can be resumed by
// its owner after the switch). A wrong password and an unknown address are
// the same Permission error.
func CheckOwner(ctx context.Context, store sealpost.RegionStore, addr, password string) error {
	const op = "region.CheckOwner"
	img, err := store.ExportAccount(ctx, addr)
	if errors.Is(errors.NotExist, err) {
		return errors.E(op, errors.Permission)
	}
	if err != nil {
		return errors.E(op, err)
	}
	secret, err := seal.CheckPassword(img.Account.PasswordVerifier, password)
	if err != nil {
		return errors.E(op, errors.Permission)
	}
	secret.Wipe()
	return nil
}
