package imapserver

import (
	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"

	"github.com/sealpost/sealpost/postbox"
)

var _ goimap.SessionMultiAppend = (*session)(nil)

// Bounds on one APPEND of several messages (RFC 3502): its messages wait in
// seal.Temp files (encrypted, unnamed) until the command ends, so their
// number and total size are bounded; each is also bounded by AppendLimit.
const (
	maxAppendMessages = 1000
	maxAppendBytes    = 1 << 30
)

// BeginAppend starts an APPEND (of one message, or several: MULTIAPPEND,
// RFC 3502). The mailbox is looked up first, so that a client sending
// synchronizing literals learns of a missing one (NO [TRYCREATE]) before it
// sends any.
func (s *session) BeginAppend(name string) (goimap.AppendBatch, error) {
	name = canonName(name)
	if _, err := s.ps.Mailbox(s.ctx, name); err != nil {
		return nil, s.fail("append", err, true)
	}
	return &appendBatch{s: s, name: name}, nil
}

// appendBatch holds an APPEND's messages until the command ends.
type appendBatch struct {
	s        *session
	name     string
	items    []postbox.AppendItem
	releases []func() // of the messages waiting (seal.Temp files)
	bytes    int64
}

// Add reads one message into a seal.Temp (appendMessage: one holding NUL
// octets has its binary parts encoded).
func (b *appendBatch) Add(r imap.LiteralReader, options *imap.AppendOptions) error {
	if len(b.items) >= maxAppendMessages || b.bytes+r.Size() > maxAppendBytes {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit,
			Text: "Too many messages in one APPEND"}
	}
	flags, err := storeFlags(options.Flags)
	if err != nil {
		return err
	}
	msg, release, err := b.s.appendMessage(r)
	if err != nil {
		return err
	}
	b.releases = append(b.releases, release)
	b.bytes += r.Size()
	b.items = append(b.items, postbox.AppendItem{Msg: msg, Flags: flags, Date: options.Time})
	return nil
}

// Commit files every message or none (postbox.AppendMany), and returns
// their APPENDUID (RFC 4315).
func (b *appendBatch) Commit() (*goimap.MultiAppendData, error) {
	defer b.Abort()
	info, msgs, err := b.s.ps.AppendMany(b.s.ctx, b.name, b.items)
	if err != nil {
		return nil, b.s.fail("append", err, true)
	}
	data := &goimap.MultiAppendData{UIDValidity: info.UIDValidity}
	for _, m := range msgs {
		data.UIDs = append(data.UIDs, imap.UID(m.UID))
	}
	return data, nil
}

// Abort discards the waiting messages.
func (b *appendBatch) Abort() {
	for _, release := range b.releases {
		release()
	}
	b.releases, b.items = nil, nil
}
