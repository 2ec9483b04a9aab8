package imapserver

// Sealpost patch 34: MULTIAPPEND (RFC 3502), for a session that implements
// SessionMultiAppend: APPEND of one or more messages, appended all or none.

import (
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// SessionMultiAppend is an IMAP session which supports MULTIAPPEND (RFC
// 3502). Every APPEND, of one message or more, goes through it instead of
// Session.Append; the server advertises MULTIAPPEND when Options.Caps has
// it.
type SessionMultiAppend interface {
	Session

	// Authenticated state

	// BeginAppend starts an APPEND to mailbox; an error (NO [TRYCREATE]
	// for a mailbox that does not exist) refuses the command before the
	// first literal is read.
	BeginAppend(mailbox string) (AppendBatch, error)
}

// AppendBatch collects the messages of one APPEND. The server calls Add for
// each message, then Commit, or Abort if the command fails (a later
// message's error, a syntax error, the connection's end): after Abort
// nothing of the batch may remain.
type AppendBatch interface {
	// Add reads one message's literal (exactly r.Size() bytes; the server
	// has checked it against the append limit) and keeps it for Commit.
	// An error fails the whole APPEND.
	Add(r imap.LiteralReader, options *imap.AppendOptions) error
	// Commit appends every message added, atomically, and returns the
	// mailbox's UIDVALIDITY and the new UIDs, in order (or nil data for
	// no APPENDUID).
	Commit() (*MultiAppendData, error)
	// Abort discards the messages added.
	Abort()
}

// MultiAppendData is the APPENDUID of a MULTIAPPEND (RFC 4315 3: uid-set
// in the order of the messages).
type MultiAppendData struct {
	UIDValidity uint32
	UIDs        []imap.UID
}

// handleMultiAppend: "APPEND" SP mailbox 1*append-message, append-message
// = SP [flag-list SP] [date-time SP] append-data (RFC 3502 6, RFC 3516 4.4,
// RFC 6855 4).
func (c *Conn) handleMultiAppend(tag string, dec *imapwire.Decoder, session SessionMultiAppend) error {
	var mailbox string
	if !dec.ExpectSP() || !dec.ExpectMailbox(&mailbox) {
		return dec.Err()
	}
	appendLimit := int64(defaultAppendLimit)
	if s, ok := c.session.(SessionAppendLimit); ok {
		appendLimit = int64(s.AppendLimit())
	}
	var batch AppendBatch
	committed := false
	defer func() {
		if batch != nil && !committed {
			batch.Abort()
		}
	}()
	for n := 0; ; n++ {
		if n == 0 && !dec.ExpectSP() {
			return dec.Err()
		} else if n > 0 && !dec.SP() {
			break
		}
		options, utf8, err := readAppendOptions(dec)
		if err != nil {
			return err
		}
		lit, nonSync, err := dec.ExpectLiteralReader()
		if err != nil {
			return err
		}
		// Sealpost patch 34: a refusal after a non-synchronizing
		// literal's announcement reads the literal first (at most
		// appendLimit bytes, which the client was told): its bytes follow
		// regardless and must not be read as commands (RFC 7888 4).
		// Upstream's readCommand then read them as the next command and
		// ended the connection.
		refuse := func(err error) error {
			if nonSync && lit.Size() <= appendLimit {
				c.setReadTimeout(literalReadTimeout)
				if _, cerr := io.Copy(io.Discard, lit); cerr != nil {
					return cerr
				}
				c.setReadTimeout(cmdReadTimeout)
			}
			return err
		}
		if lit.Size() > appendLimit {
			return &imap.Error{
				Type: imap.StatusResponseTypeNo,
				Code: imap.ResponseCodeTooBig,
				Text: fmt.Sprintf("Literals are limited to %v bytes for this command", appendLimit),
			}
		}
		if batch == nil {
			if err := c.checkState(imap.ConnStateAuthenticated); err != nil {
				return refuse(err)
			}
			if batch, err = session.BeginAppend(mailbox); err != nil {
				return refuse(err)
			}
		}
		if err := c.acceptLiteral(lit.Size(), nonSync); err != nil {
			return err
		}
		c.setReadTimeout(literalReadTimeout)
		addErr := batch.Add(lit, options)
		if _, err := io.Copy(io.Discard, lit); err != nil {
			return err
		}
		c.setReadTimeout(cmdReadTimeout)
		if utf8 && !dec.ExpectSpecial(')') {
			return dec.Err()
		}
		if addErr != nil {
			return addErr
		}
	}
	if !dec.ExpectCRLF() {
		return dec.Err()
	}
	data, err := batch.Commit()
	committed = true
	if err != nil {
		return err
	}
	if err := c.poll("APPEND"); err != nil {
		return err
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom(tag).SP().Atom("OK").SP()
	if data != nil && len(data.UIDs) > 0 {
		enc.Special('[').Atom("APPENDUID").SP().Number(data.UIDValidity).SP().Atom(orderedSet(data.UIDs)).Special(']').SP()
	}
	enc.Text("APPEND completed")
	return enc.CRLF()
}

// readAppendOptions reads an append-message's [flag-list SP] [date-time SP]
// and the start of its append-data: "~" before a literal8 (RFC 3516), or
// "UTF8 (~" (RFC 6855 4), reported as utf8, whose ")" follows the literal.
func readAppendOptions(dec *imapwire.Decoder) (*imap.AppendOptions, bool, error) {
	var options imap.AppendOptions
	hasFlagList, err := dec.List(func() error {
		flag, err := internal.ExpectFlag(dec)
		if err != nil {
			return err
		}
		options.Flags = append(options.Flags, flag)
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if hasFlagList && !dec.ExpectSP() {
		return nil, false, dec.Err()
	}
	t, err := internal.DecodeDateTime(dec)
	if err != nil {
		return nil, false, err
	}
	if !t.IsZero() && !dec.ExpectSP() {
		return nil, false, dec.Err()
	}
	options.Time = t
	if dec.Special('~') {
		return &options, false, nil
	}
	var ext string
	if !dec.Atom(&ext) {
		return &options, false, nil
	}
	if !strings.EqualFold(ext, "UTF8") {
		return nil, false, newClientBugError("Unknown APPEND data extension")
	}
	if !dec.ExpectSP() || !dec.ExpectSpecial('(') || !dec.ExpectSpecial('~') {
		return nil, false, dec.Err()
	}
	return &options, true, nil
}
