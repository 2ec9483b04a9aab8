package column

import (
	"time"

	"github.com/sealpost/sealpost"
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
