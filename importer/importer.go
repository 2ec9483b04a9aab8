// Package importer brings an account's mail from elsewhere into Sealpost:
// from an IMAP server (imap.go), an mbox file (mbox.go) or a Maildir
// (maildir.go), folder by folder, keeping flags, keywords and internal
// dates, each message sealed to the owner's public key as it arrives
// (postbox.Service.Import: no password, no filters).
//
// An import is resumable and incremental: what has been copied is recorded
// per source folder (IMAP UIDVALIDITY and the last UID, an mbox offset, a
// Maildir's unique names) by the side that files the mail (state.go), in a
// way a crash at any point can neither duplicate nor skip a message. The
// side that files is Local, in this process over the region's postbox, or
// the running server's, reached through its control socket (server
// package), which runs a Local of its own.
package importer

import (
	"context"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/progress"
)

// Item is one message read from a source, or a message the source could
// not give (Skip set), whose place is recorded all the same.
type Item struct {
	// Pos orders a folder's messages for resuming: the IMAP UID, or for
	// mbox the offset just past the message; 0 for Maildir, whose
	// messages are known by Name.
	Pos uint64 `json:"pos,omitempty"`
	// Name is a Maildir message's unique name (the file name before its
	// info suffix).
	Name string `json:"name,omitempty"`
	// Start is where an mbox message begins and Check the SHA-256 of its
	// bytes (hex, 32 digits): on resuming, the message before the saved
	// offset must still be there unchanged.
	Start uint64 `json:"start,omitempty"`
	Check string `json:"check,omitempty"`

	Flags []sealpost.Flag `json:"flags,omitempty"`
	Date  time.Time       `json:"date"`
	Body  []byte          `json:"body,omitempty"`
	// Skip is why the message is not copied (too large, unreadable); it
	// is counted in the summary, and its place recorded.
	Skip string `json:"skip,omitempty"`
}

// Folder is a source folder as listed.
type Folder struct {
	Name  string   // as the source names it
	Delim string   // its hierarchy delimiter ("" for none)
	Attrs []string // LIST attributes (RFC 9051 7.3.1, RFC 6154), as given
}

// Source is where mail comes from.
type Source interface {
	// Kind names the source's protocol for the summary ("imap", "mbox",
	// "maildir") and ID says which source it is, for the resume state
	// (the state keeps only a hash of it).
	Kind() string
	ID() string
	// Folders lists the folders to copy.
	Folders(ctx context.Context) ([]Folder, error)
	// Count returns how many messages f holds, or -1 when the source
	// cannot tell without reading them (mbox): for the progress meter.
	Count(ctx context.Context, f Folder) (int64, error)
	// Read sends the messages of req.Folder not yet copied to out, in
	// order (see Request), or returns an error.
	Read(ctx context.Context, req Request, out chan<- Item) error
	Close() error
}

// Request is what Source.Read is asked to read.
type Request struct {
	Folder Folder
	// Validity is called once, before any message is sent, with the
	// folder's UIDVALIDITY (0 when the source has none), and returns the
	// state to go on from: the recorded one, or none if the UIDVALIDITY
	// changed (every message is then new).
	Validity func(uint32) FolderState
	// MaxSize bounds a message's text: a larger one is sent with Skip
	// set and without its text, never held in memory whole.
	MaxSize int64
}

// Sink is what files the mail and keeps the resume state: Local, or a
// running server's (server.ImportClient).
type Sink interface {
	// State returns what was copied from the source so far.
	State(ctx context.Context) (State, error)
	// Put files the messages of items not skipped into the account's
	// mailbox dest (created if missing, see postbox.ImportBatch) and
	// records folder's new state in the same step as far as a crash can
	// tell (state.go). validity is the source folder's UIDVALIDITY: a
	// change from the recorded one starts the folder's record over.
	Put(ctx context.Context, folder string, validity uint32, dest Dest, items []Item) error
	// MaxMessageSize is the largest message the sink files.
	MaxMessageSize() int64
	Close() error
}

// Dest is where a source folder's mail goes in the account.
type Dest struct {
	Mailbox string              `json:"mailbox"`
	Use     sealpost.SpecialUse `json:"use,omitempty"`
}

// Options adjusts Run.
type Options struct {
	// AllMail copies Gmail's "All Mail" (and the other virtual folders
	// Folders skips): every message there is also in another folder, so
	// copying it duplicates them.
	AllMail bool
	// Progress receives the meter (nil: none).
	Progress *progress.Meter
	// BatchMessages and BatchBytes bound a batch filed at once (0: 256
	// messages, 8 MiB).
	BatchMessages int
	BatchBytes    int64
}

// Summary is what Run did.
type Summary struct {
	Folders  int
	Messages int64
	Bytes    int64
	Skipped  map[string]int64 // reason → count
	Reset    []string         // folders copied again: their UIDVALIDITY changed
	Elapsed  time.Duration
}

// Rate is messages per second.
func (s Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Messages) / s.Elapsed.Seconds()
}

// batch is a run of items of one folder filed together.
type batch struct {
	items    []Item
	bytes    int64
	validity uint32
}

// Run copies every folder of src into sink, skipping what the sink's state
// says was copied. Reading a folder and filing it overlap: while a batch
// is filed the next is read.
func Run(ctx context.Context, src Source, sink Sink, opts Options) (Summary, error) {
	const op = "importer.Run"
	start := time.Now()
	sum := Summary{Skipped: make(map[string]int64)}
	if opts.BatchMessages <= 0 {
		opts.BatchMessages = 256
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 8 << 20
	}
	st, err := sink.State(ctx)
	if err != nil {
		return sum, errors.E(op, err)
	}
	folders, err := src.Folders(ctx)
	if err != nil {
		return sum, errors.E(op, err)
	}
	type job struct {
		f    Folder
		dest Dest
	}
	var jobs []job
	var total int64
	for _, f := range folders {
		dest, skip := Map(f, opts.AllMail)
		if skip != "" {
			sum.Skipped["folder: "+skip]++
			continue
		}
		jobs = append(jobs, job{f, dest})
		if n, err := src.Count(ctx, f); err == nil && total >= 0 && n >= 0 {
			// What is left, if the folder's record still holds (a
			// message removed at the source makes this an estimate).
			total += max(0, n-st.Folders[f.Name].Messages)
		} else {
			total = -1
		}
	}
	if opts.Progress != nil && total >= 0 {
		opts.Progress.SetTotal(total)
	}
	for _, j := range jobs {
		f, dest := j.f, j.dest
		sum.Folders++
		if err := copyFolder(ctx, src, sink, f, dest, st.Folders[f.Name], opts, &sum); err != nil {
			sum.Elapsed = time.Since(start)
			return sum, errors.E(op, err)
		}
	}
	sum.Elapsed = time.Since(start)
	return sum, nil
}

func copyFolder(ctx context.Context, src Source, sink Sink, f Folder, dest Dest, fs FolderState, opts Options, sum *Summary) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Few items wait: each may be as large as MaxSize.
	items := make(chan Item, 4)
	batches := make(chan batch, 2)
	readErr := make(chan error, 1)
	var validity uint32
	reset := func(v uint32) FolderState {
		validity = v
		if fs.Validity != 0 && fs.Validity != v {
			sum.Reset = append(sum.Reset, f.Name)
			return FolderState{Validity: v}
		}
		return fs
	}
	go func() {
		defer close(items)
		readErr <- src.Read(ctx, Request{Folder: f, Validity: reset, MaxSize: sink.MaxMessageSize()}, items)
	}()
	// The batcher: cut the items into batches of bounded count and size.
	go func() {
		defer close(batches)
		var b batch
		max := sink.MaxMessageSize()
		for it := range items {
			if it.Skip == "" && int64(len(it.Body)) > max {
				it.Body, it.Skip = nil, "larger than the message size limit"
			}
			b.items = append(b.items, it)
			b.bytes += int64(len(it.Body))
			if len(b.items) >= opts.BatchMessages || b.bytes >= opts.BatchBytes {
				b.validity = validity
				select {
				case batches <- b:
				case <-ctx.Done():
					return
				}
				b = batch{}
			}
		}
		if len(b.items) > 0 {
			b.validity = validity
			select {
			case batches <- b:
			case <-ctx.Done():
			}
		}
	}()
	for b := range batches {
		if err := sink.Put(ctx, f.Name, b.validity, dest, b.items); err != nil {
			cancel()
			for range batches {
			}
			return err
		}
		var n, bytes int64
		for _, it := range b.items {
			if it.Skip != "" {
				sum.Skipped[it.Skip]++
				continue
			}
			n++
			bytes += int64(len(it.Body))
		}
		sum.Messages += n
		sum.Bytes += bytes
		if opts.Progress != nil {
			opts.Progress.Add(int64(len(b.items)), bytes)
		}
	}
	return <-readErr
}
