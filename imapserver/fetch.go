package imapserver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// maxInFlight bounds the bytes of decrypted messages held ahead of the
// response writer by the FETCH and SEARCH pipelines. A larger message is
// still read, alone.
const maxInFlight = 16 << 20

// rendered is what a FETCH needs of one message's content, prepared by a
// pipeline worker so that the writer only writes.
type rendered struct {
	raw        []byte // the message as served
	env        *imap.Envelope
	structure  imap.BodyStructure
	sections   [][]byte // per options.BodySection
	binaries   [][]byte // per options.BinarySection
	binaryErrs []error
	binSizes   []uint32 // per options.BinarySectionSize
	err        error
	preview    string // PREVIEW (RFC 8970)
}

// Fetch implements FETCH and UID FETCH (RFC 9051 6.4.5). Metadata items
// are answered from postbox metadata; items that need the content decrypt
// each message once, in a pipeline of Options.Workers goroutines ahead of
// the writer, and parse it only if an item needs its structure: BODY[] and
// RFC822 are the decrypted bytes as they are.
func (s *session) Fetch(w *goimap.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	sel := s.sel
	if sel == nil {
		return noSelected
	}
	targets := s.resolve(numSet)
	if options.ModSeq { // CHANGEDSINCE, VANISHED (condstore.go)
		var err error
		if targets, err = s.changedSince(w, numSet, options, targets); err != nil {
			return err
		}
	}
	if len(targets) == 0 {
		return nil
	}

	// A BODY[] without .PEEK sets \Seen (RFC 9051 6.4.5), and the FETCH
	// response then includes the new FLAGS.
	var seen map[sealpost.UID][]sealpost.Flag
	if !sel.readOnly && setsSeen(options) {
		var uids []sealpost.UID
		for _, t := range targets {
			if !sealpost.HasFlag(t.msg.Flags, sealpost.FlagSeen) {
				uids = append(uids, t.msg.UID)
			}
		}
		if len(uids) > 0 {
			updated, err := sel.mbox.SetFlags(s.ctx, uids, sealpost.FlagsAdd, []sealpost.Flag{sealpost.FlagSeen}, sel.watch)
			if err != nil {
				return s.fail("fetch", err, false)
			}
			seen = make(map[sealpost.UID][]sealpost.Flag, len(updated))
			for _, m := range updated {
				seen[m.UID] = m.Flags
			}
			newModSeqs(targets, updated)
		}
	}

	write := func(t target, r *rendered) error {
		return s.writeFetch(w, t, options, r, seen)
	}
	if !needsContent(options) {
		for _, t := range targets {
			if err := write(t, nil); err != nil {
				return err
			}
		}
		return nil
	}

	parse := needsParse(options)
	var failed error
	err := s.pipeline(targets, func(ctx context.Context, t target) any {
		return s.render(ctx, t.msg, options, parse)
	}, func(i int, v any) error {
		r, ok := v.(*rendered)
		if !ok {
			r = &rendered{err: v.(error)}
		}
		if r.err != nil {
			if failed == nil {
				failed = r.err
			}
			return nil // skip this message, answer the others
		}
		for _, e := range r.binaryErrs {
			if e != nil && failed == nil {
				failed = e
			}
		}
		return write(targets[i], r)
	})
	if err != nil {
		return err
	}
	if failed != nil {
		return s.fetchFailed(failed)
	}
	return nil
}

// fetchFailed is the tagged NO after the messages that could be read were
// returned (RFC 9051 6.4.5 allows partial results).
func (s *session) fetchFailed(err error) error {
	if err == errUnknownCTE {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnknownCTE,
			Text: "Unknown Content-Transfer-Encoding"}
	}
	resp := &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeServerBug,
		Text: "Some messages could not be read"}
	level := slog.LevelError
	switch errors.KindOf(err) {
	case errors.Unavailable:
		resp.Code, level = imap.ResponseCodeUnavailable, slog.LevelWarn
	case errors.NotExist:
		// Expunged by another session while this FETCH ran (RFC 2180 4.1).
		resp.Code, resp.Text, level = "EXPUNGEISSUED", "Some messages were expunged", slog.LevelInfo
	}
	if s.ctx.Err() == nil {
		s.log.Log(context.Background(), level, "fetch failed", "err", err)
	}
	return resp
}

func setsSeen(options *imap.FetchOptions) bool {
	for _, bs := range options.BodySection {
		if !bs.Peek {
			return true
		}
	}
	for _, bs := range options.BinarySection {
		if !bs.Peek {
			return true
		}
	}
	return false
}

func needsContent(options *imap.FetchOptions) bool {
	return options.Envelope || options.Preview || options.BodyStructure != nil || len(options.BodySection) > 0 ||
		len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0
}

// needsParse reports whether an item needs the message's structure; BODY[]
// and BINARY[] alone do not.
func needsParse(options *imap.FetchOptions) bool {
	if options.Envelope || options.Preview || options.BodyStructure != nil || len(options.BinarySectionSize) > 0 {
		return true
	}
	for _, bs := range options.BodySection {
		if len(bs.Part) > 0 || bs.Specifier != imap.PartSpecifierNone {
			return true
		}
	}
	for _, bs := range options.BinarySection {
		if len(bs.Part) > 0 {
			return true
		}
	}
	return false
}

// render decrypts and prepares one message; it runs in a pipeline worker.
func (s *session) render(ctx context.Context, msg sealpost.Message, options *imap.FetchOptions, parse bool) *rendered {
	raw, err := s.body(ctx, msg)
	if err != nil {
		return &rendered{err: err}
	}
	r := &rendered{raw: raw}
	var root *entity
	if parse {
		root = parseMessage(raw)
	}
	if options.Envelope {
		r.env = root.envelope()
	}
	if options.BodyStructure != nil {
		r.structure = root.structure()
	}
	if options.Preview {
		r.preview = preview(root) // preview.go (RFC 8970)
	}
	r.sections = make([][]byte, len(options.BodySection))
	for i, sec := range options.BodySection {
		b := raw
		if len(sec.Part) > 0 || sec.Specifier != imap.PartSpecifierNone {
			b, _ = root.section(sec)
		}
		r.sections[i] = partial(b, sec.Partial)
	}
	r.binaries = make([][]byte, len(options.BinarySection))
	r.binaryErrs = make([]error, len(options.BinarySection))
	for i, sec := range options.BinarySection {
		b := raw
		if len(sec.Part) > 0 {
			b, r.binaryErrs[i] = root.binary(sec.Part)
		}
		r.binaries[i] = partial(b, sec.Partial)
	}
	r.binSizes = make([]uint32, len(options.BinarySectionSize))
	for i, sec := range options.BinarySectionSize {
		b, _ := root.binary(sec.Part)
		r.binSizes[i] = uint32(len(b))
	}
	return r
}

// binary returns a section decoded from its content transfer encoding for
// FETCH BINARY (RFC 3516 / RFC 9051 6.4.5); multiparts and messages are
// returned as they are.
func (e *entity) binary(path []int) ([]byte, error) {
	if len(path) == 0 {
		return e.raw[e.start:e.end], nil
	}
	t := e.resolve(path)
	if t == nil {
		return nil, nil
	}
	if len(t.children) > 0 || t.msg != nil {
		return t.body(), nil
	}
	cte, _ := t.get("Content-Transfer-Encoding")
	return decodeCTE(cte, t.body())
}

// writeFetch writes one FETCH response; r is nil when no content is needed.
func (s *session) writeFetch(w *goimap.FetchWriter, t target, options *imap.FetchOptions, r *rendered, seen map[sealpost.UID][]sealpost.Flag) error {
	rw := w.CreateMessage(t.seq)
	if options.UID {
		rw.WriteUID(imap.UID(t.msg.UID))
	}
	if flags, changed := seen[t.msg.UID]; options.Flags || changed {
		if !changed {
			flags = t.msg.Flags
		}
		rw.WriteFlags(s.sel.view.flags(t.msg.UID, flags))
		s.sel.tracker.Supersede(imap.UID(t.msg.UID), t.msg.ModSeq)
	}
	_, changed := seen[t.msg.UID]
	writeModSeq(w, rw, t, options, changed) // RFC 7162 3.1.4 (condstore.go)
	if options.InternalDate {
		rw.WriteInternalDate(t.msg.InternalDate)
	}
	if options.SaveDate {
		rw.WriteSaveDate(t.msg.SaveDate) // RFC 8514 3
	}
	if options.RFC822Size {
		if r != nil {
			rw.WriteRFC822Size(int64(len(r.raw)))
		} else {
			rw.WriteRFC822Size(s.size(s.ctx, t.msg))
		}
	}
	if r == nil {
		return rw.Close()
	}
	if options.Envelope {
		rw.WriteEnvelope(r.env)
	}
	if options.BodyStructure != nil {
		rw.WriteBodyStructure(r.structure)
	}
	if options.Preview {
		rw.WritePreview(r.preview, true)
	}
	var err error
	for i, sec := range options.BodySection {
		if err = writeLiteral(rw.WriteBodySection(sec, int64(len(r.sections[i]))), r.sections[i]); err != nil {
			break
		}
	}
	for i, sec := range options.BinarySection {
		if err != nil || r.binaryErrs[i] != nil {
			continue
		}
		err = writeLiteral(binaryWriter(rw, sec, r.binaries[i]), r.binaries[i])
	}
	if err == nil {
		for i, sec := range options.BinarySectionSize {
			rw.WriteBinarySectionSize(sec, r.binSizes[i])
		}
	}
	// Close always: it releases the connection's encoder.
	if cerr := rw.Close(); err == nil {
		err = cerr
	}
	return err
}

func writeLiteral(wc interface {
	Write([]byte) (int, error)
	Close() error
}, b []byte) error {
	_, err := wc.Write(b)
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	return err
}

// pipeline runs work on every target's message in Options.Workers
// goroutines, at most maxInFlight bytes ahead, and calls emit with the
// results in target order from the calling goroutine. It stops at emit's
// first error, or when the connection ends, and returns only after every
// worker has stopped. A panic in work is recovered: that message's result
// is then an error.
func (s *session) pipeline(targets []target, work func(context.Context, target) any, emit func(int, any) error) error {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	results := make([]chan any, len(targets))
	for i := range results {
		results[i] = make(chan any, 1)
	}
	jobs := make(chan int)
	b := newBudget(ctx, maxInFlight)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		for i, t := range targets {
			if !b.acquire(t.msg.Size) {
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range min(s.srv.opts.Workers, len(targets)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] <- s.safeWork(ctx, targets[i], work)
			}
		}()
	}
	var err error
	for i := range targets {
		var v any
		select {
		case v = <-results[i]:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err == nil {
			err = emit(i, v)
		}
		if err != nil {
			break
		}
		b.release(targets[i].msg.Size)
	}
	cancel()
	wg.Wait()
	return err
}

// safeWork runs work, turning a panic into an Internal error, which is
// that message's result: one bad message must not take the server down.
func (s *session) safeWork(ctx context.Context, t target, work func(context.Context, target) any) (v any) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in worker", "message", t.msg.ID, "panic", p, "stack", string(debug.Stack()))
			v = errors.E("imapserver.worker", errors.Internal, errors.Errorf("panic: %v", p))
		}
	}()
	return work(ctx, t)
}

// budget is a weighted semaphore over bytes in flight, woken when its
// context ends.
type budget struct {
	ctx  context.Context
	mu   sync.Mutex
	cond *sync.Cond
	used int64
	max  int64
}

func newBudget(ctx context.Context, max int64) *budget {
	b := &budget{ctx: ctx, max: max}
	b.cond = sync.NewCond(&b.mu)
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	return b
}

// acquire takes n bytes, waiting while others hold too many; false if the
// context ended.
func (b *budget) acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.used > 0 && b.used+n > b.max && b.ctx.Err() == nil {
		b.cond.Wait()
	}
	if b.ctx.Err() != nil {
		return false
	}
	b.used += n
	return true
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.cond.Broadcast()
	b.mu.Unlock()
}

// binaryWriter starts a BINARY response item: a literal8 only for content
// with a NUL octet, a plain literal otherwise (RFC 9051 7.5.2 and RFC 3516
// 4.2: the server SHOULD return data without NUL as a string).
func binaryWriter(rw *goimap.FetchResponseWriter, sec *imap.FetchItemBinarySection, b []byte) io.WriteCloser {
	if bytes.IndexByte(b, 0) >= 0 {
		return rw.WriteBinarySection(sec, int64(len(b)))
	}
	return rw.WriteBinarySectionString(sec, int64(len(b)))
}
