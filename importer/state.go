package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/durable"
	"github.com/sealpost/sealpost/postbox"
)

// State is what an import has copied from one source into one account.
// It holds metadata only (folder names, UIDs, offsets, Maildir file names,
// the hash of the last mbox message): never a message's text.
type State struct {
	Folders map[string]FolderState `json:"folders"`
}

// FolderState is what has been copied from one source folder.
type FolderState struct {
	// Validity is the IMAP folder's UIDVALIDITY (RFC 9051 2.3.1.1): the
	// UIDs below are meaningful only under it.
	Validity uint32 `json:"validity,omitempty"`
	// Pos is the highest Item.Pos copied (or skipped): the last UID, or
	// the mbox offset past the last message.
	Pos uint64 `json:"pos,omitempty"`
	// Start and Check identify the mbox message that ends at Pos.
	Start uint64 `json:"start,omitempty"`
	Check string `json:"check,omitempty"`
	// Names are the Maildir unique names copied, sorted.
	Names []string `json:"names,omitempty"`
	// Messages counts the messages copied.
	Messages int64 `json:"messages"`
}

// Has reports whether the Maildir message name was copied.
func (fs FolderState) Has(name string) bool {
	_, ok := slices.BinarySearch(fs.Names, name)
	return ok
}

// after returns the state once items are copied.
func (fs FolderState) after(items []Item) FolderState {
	fs.Names = slices.Clone(fs.Names)
	for _, it := range items {
		if it.Pos > fs.Pos {
			fs.Pos, fs.Start, fs.Check = it.Pos, it.Start, it.Check
		}
		if it.Name != "" {
			fs.Names = append(fs.Names, it.Name)
		}
		if it.Skip == "" {
			fs.Messages++
		}
	}
	slices.Sort(fs.Names)
	fs.Names = slices.Compact(fs.Names)
	return fs
}

// stateFile is the resume state as written: the state, and the batch
// being filed, if any.
//
// A batch is filed in three steps: its messages are sealed into durable
// blobs; the state file records the batch as pending (its mailbox, that
// mailbox's UIDNEXT before, its blobs, the folder state once filed); the
// store files it (one transaction, all or none); the state file records
// the new folder state and no pending batch. After a crash, Open finds a
// pending batch and asks the store whether the mailbox holds, at or past
// that UIDNEXT, a message whose blob is the batch's first: a blob ref
// names one blob written once, so the answer is exact. If so the batch
// was filed and its folder state is taken; if not its blobs are deleted.
// Either way nothing is filed twice and nothing is skipped.
type stateFile struct {
	State
	Pending *pending `json:"pending,omitempty"`
}

type pending struct {
	Folder  string             `json:"folder"`
	Mailbox sealpost.MailboxID `json:"mailbox"`
	UIDNext sealpost.UID       `json:"uid_next"`
	Blobs   []sealpost.BlobRef `json:"blobs"`
	After   FolderState        `json:"after"`
}

// Local is the Sink over a region's postbox in this process: the process
// that holds the region's storage (the server, or a command run while it
// is stopped). Its state file is under the data folder, one per account
// and source, named by a hash of both; a lock on it keeps two imports of
// one source into one account from running at once (the second waits).
type Local struct {
	svc    *postbox.Service
	addr   string
	acct   sealpost.AccountID
	path   string
	unlock func()

	mu sync.Mutex
	st stateFile
}

var _ Sink = (*Local)(nil)

// StateDir is where the import states of a data folder are kept.
func StateDir(dataDir string) string { return filepath.Join(dataDir, "import") }

// OpenLocal opens (creating) the import state of source into the account
// addr under dir, and settles a batch a crash left pending.
func OpenLocal(ctx context.Context, svc *postbox.Service, dir, addr, source string) (*Local, error) {
	const op = "importer.OpenLocal"
	addr = sealpost.NormalizeAddress(addr)
	acct, err := svc.LookupAccount(ctx, addr)
	if err != nil {
		return nil, errors.E(op, err)
	}
	if err := durable.PrivateDir(op, dir); err != nil {
		return nil, err
	}
	h := sha256.Sum256([]byte(addr + "\x00" + source))
	path := filepath.Join(dir, hex.EncodeToString(h[:16])+".json")
	unlock, err := durable.Lock(path + ".lock")
	if err != nil {
		return nil, errors.E(op, errors.Internal, err)
	}
	l := &Local{svc: svc, addr: addr, acct: acct.ID, path: path, unlock: unlock}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &l.st); err != nil {
			unlock()
			return nil, errors.E(op, errors.Internal, errors.Errorf("import state %s: %v", path, err))
		}
	case !os.IsNotExist(err):
		unlock()
		return nil, errors.E(op, errors.Internal, err)
	}
	if l.st.Folders == nil {
		l.st.Folders = make(map[string]FolderState)
	}
	if err := l.settle(ctx); err != nil {
		unlock()
		return nil, errors.E(op, err)
	}
	return l, nil
}

// settle decides a pending batch (see stateFile).
func (l *Local) settle(ctx context.Context) error {
	p := l.st.Pending
	if p == nil {
		return nil
	}
	filed := false
	// The mailbox must still be the account's (listing them also shows
	// the region's guard that it is).
	boxes, err := l.svc.Store().Mailboxes(ctx, l.acct)
	if err != nil {
		return err
	}
	if len(p.Blobs) > 0 && slices.ContainsFunc(boxes, func(m sealpost.Mailbox) bool { return m.ID == p.Mailbox }) {
		msgs, err := l.svc.Store().Messages(ctx, p.Mailbox, max(p.UIDNext, 1)-1)
		if err != nil && !errors.Is(errors.NotExist, err) {
			return err
		}
		for _, m := range msgs {
			if m.Blob == p.Blobs[0] {
				filed = true
				break
			}
		}
	}
	if filed {
		l.st.Folders[p.Folder] = p.After
	} else {
		for _, ref := range p.Blobs {
			l.svc.Blobs().Delete(ctx, ref)
		}
	}
	l.st.Pending = nil
	return l.write()
}

func (l *Local) write() error {
	b, err := json.Marshal(l.st)
	if err != nil {
		return errors.E("importer.state", errors.Internal, err)
	}
	if err := durable.WriteFile(l.path, b, 0o600); err != nil {
		return errors.E("importer.state", errors.Unavailable, err)
	}
	return nil
}

// State returns a copy of the state.
func (l *Local) State(ctx context.Context) (State, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := State{Folders: make(map[string]FolderState, len(l.st.Folders))}
	for k, v := range l.st.Folders {
		st.Folders[k] = v
	}
	return st, nil
}

// MaxMessageSize is the postbox's.
func (l *Local) MaxMessageSize() int64 { return l.svc.MaxMessageSize() }

// Put files a batch (see Sink and stateFile).
func (l *Local) Put(ctx context.Context, folder string, validity uint32, dest Dest, items []Item) error {
	const op = "importer.Put"
	l.mu.Lock()
	defer l.mu.Unlock()
	fs := l.st.Folders[folder]
	if fs.Validity != validity {
		fs = FolderState{Validity: validity}
	}
	after := fs.after(items)
	var batch []postbox.ImportItem
	for _, it := range items {
		if it.Skip == "" {
			batch = append(batch, postbox.ImportItem{Msg: postbox.Bytes(it.Body), Flags: it.Flags, Date: it.Date})
		}
	}
	if len(batch) == 0 {
		l.st.Folders[folder] = after
		return l.write()
	}
	_, err := l.svc.Import(ctx, postbox.ImportBatch{
		Address: l.addr, Mailbox: dest.Mailbox, Use: dest.Use, Items: batch,
		Prepared: func(mbox sealpost.Mailbox, blobs []sealpost.BlobRef) error {
			l.st.Pending = &pending{Folder: folder, Mailbox: mbox.ID, UIDNext: mbox.UIDNext, Blobs: blobs, After: after}
			return l.write()
		},
	})
	if err != nil {
		// Whether the store filed the batch is decided as after a
		// crash: by asking it (a failed commit filed nothing).
		if l.st.Pending != nil {
			l.settle(ctx)
		}
		return errors.E(op, err)
	}
	l.st.Folders[folder] = after
	l.st.Pending = nil
	return l.write()
}

// Close releases the state's lock.
func (l *Local) Close() error {
	l.unlock()
	return nil
}
