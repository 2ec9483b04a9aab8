package sealpost

import (
	"strings"
	"unicode/utf8"

	"github.com/sealpost/sealpost/errors"
)

// Inbox is the one mailbox name matched case-insensitively (RFC 9051 5.1).
const Inbox = "INBOX"

// CanonicalMailboxName returns the stored form of a mailbox name: any case
// of "INBOX" becomes "INBOX"; other names are case-sensitive and kept.
func CanonicalMailboxName(name string) string {
	if strings.EqualFold(name, Inbox) {
		return Inbox
	}
	return name
}

// CheckMailboxName rejects names no IMAP client could use: empty, too long,
// not UTF-8, control characters (NUL among them), the LIST wildcards
// (RFC 9051 6.3.9), and empty hierarchy levels ("/a", "a/", "a//b"), "/"
// being the delimiter. Every Store and the postbox apply the same rule.
// The error is Invalid.
func CheckMailboxName(name string) error {
	const op = "sealpost.CheckMailboxName"
	if name == "" || len(name) > 1024 || !utf8.ValidString(name) {
		return errors.E(op, errors.Invalid, errors.Errorf("bad mailbox name %q", name))
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '*' || r == '%' {
			return errors.E(op, errors.Invalid, errors.Errorf("bad mailbox name %q", name))
		}
	}
	if strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
		return errors.E(op, errors.Invalid, errors.Errorf("bad mailbox name %q: empty hierarchy level", name))
	}
	return nil
}

// Check reports what makes a queued message unstorable: no recipients, no
// blob, a negative size or attempt count, an empty recipient, or an address
// holding CR or LF (RFC 5321 4.1.2: none ever does). The error is Invalid.
func (m *QueuedMessage) Check() error {
	const op = "sealpost.QueuedMessage.Check"
	if len(m.Recipients) == 0 || m.Blob == "" || m.Size < 0 || m.Attempts < 0 {
		return errors.E(op, errors.Invalid, errors.Str("queued message needs recipients, a blob and a size"))
	}
	for _, r := range append([]string{m.From}, m.Recipients...) {
		if strings.ContainsAny(r, "\r\n") {
			return errors.E(op, errors.Invalid, errors.Errorf("bad address %q", r))
		}
	}
	for _, r := range m.Recipients {
		if r == "" {
			return errors.E(op, errors.Invalid, errors.Str("empty recipient"))
		}
	}
	return nil
}
