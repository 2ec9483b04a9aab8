package column

import (
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Nanos encodes a time for storage: Unix nanoseconds, 0 for the zero time.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromNanos decodes a stored time, in UTC.
func FromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// ValidTime reports whether t can be stored as Unix nanoseconds.
func ValidTime(t time.Time) bool {
	return t.IsZero() || t.Year() > 1677 && t.Year() < 2262
}

// Now is the current time as it will read back from storage.
func Now() time.Time { return FromNanos(time.Now().UnixNano()) }

// NewMessage is the message a Store inserts for nm, before it has an ID,
// UID or MODSEQ: flags normalised, the internal date as it will read back
// (now, if nm has none).
func NewMessage(nm sealpost.NewMessage) sealpost.Message {
	m := sealpost.Message{
		Mailbox:      nm.Mailbox,
		Flags:        AddFlags(nil, nm.Flags),
		InternalDate: FromNanos(Nanos(nm.InternalDate)),
		Size:         nm.Size,
		Blob:         nm.Blob,
		Key:          nm.Key,
		SessionKey:   nm.SessionKey,
	}
	if m.InternalDate.IsZero() {
		m.InternalDate = Now()
	}
	return m
}

// Queued is m as Enqueue stores it: checked (QueuedMessage.Check), its
// times within range, a zero Queued set to now and a zero NextTry to
// Queued. The error is Invalid.
func Queued(m sealpost.QueuedMessage) (sealpost.QueuedMessage, error) {
	if err := m.Check(); err != nil {
		return m, err
	}
	if !ValidTime(m.Queued) || !ValidTime(m.NextTry) {
		return m, errors.E(errors.Invalid, errors.Str("time out of range"))
	}
	if m.Queued.IsZero() {
		m.Queued = Now()
	}
	if m.NextTry.IsZero() {
		m.NextTry = m.Queued
	}
	return m, nil
}

// QueuedAll is Queued of each message.
func QueuedAll(msgs []sealpost.QueuedMessage) ([]sealpost.QueuedMessage, error) {
	out := make([]sealpost.QueuedMessage, len(msgs))
	for i, m := range msgs {
		var err error
		if out[i], err = Queued(m); err != nil {
			return nil, errors.E(errors.Invalid, errors.Errorf("message %d: %w", i, err))
		}
	}
	return out, nil
}

// CheckUpdate checks the fields UpdateQueued stores. The error is Invalid.
func CheckUpdate(m sealpost.QueuedMessage) error {
	if err := m.Check(); err != nil {
		return err
	}
	if !ValidTime(m.NextTry) || m.NextTry.IsZero() {
		return errors.E(errors.Invalid, errors.Str("next try time missing or out of range"))
	}
	return nil
}

// ScannedQueued completes a queued message read from a row: its
// recipients, blob and times in their stored forms.
func ScannedQueued(m sealpost.QueuedMessage, rcpts, blob string, queued, next int64) sealpost.QueuedMessage {
	m.Recipients = SplitRecipients(rcpts)
	m.Blob = sealpost.BlobRef(blob)
	m.Queued = FromNanos(queued)
	m.NextTry = FromNanos(next)
	return m
}

// Recipients are stored one per line: an address never holds CR or LF
// (RFC 5321 4.1.2, and QueuedMessage.Check).
const recipientSep = "\n"

// JoinRecipients is the stored form of a queued message's recipients.
func JoinRecipients(rcpts []string) string { return strings.Join(rcpts, recipientSep) }

// SplitRecipients reads what JoinRecipients stored.
func SplitRecipients(s string) []string { return strings.Split(s, recipientSep) }
