// Package column owns the forms in which every Store implementation keeps
// values in its columns, so that all of them behave alike: IMAP flags (what
// a valid flag is, set operations that ignore case (RFC 9051 2.3.2) and
// never keep \Recent, the space-separated text form), times (Unix
// nanoseconds) and mailbox names (the core rule, as an Invalid error).
package column

import (
	"strings"

	"github.com/sealpost/sealpost/errors"

	"github.com/sealpost/sealpost"
)

// recent is never stored: RFC 9051 drops it, and under RFC 3501 it is a
// session property, not message state.
const recent = `\Recent`

// Check rejects what is not an IMAP flag: a flag is an atom, or `\`
// followed by an atom (RFC 9051 9, flag and atom-specials). The check also
// keeps the space-separated storage unambiguous.
func CheckFlag(f sealpost.Flag) error {
	s := string(f)
	if strings.HasPrefix(s, `\`) {
		s = s[1:]
	}
	if s == "" {
		return errors.E(errors.Invalid, errors.Errorf("bad flag %q", f))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return errors.E(errors.Invalid, errors.Errorf("bad flag %q", f))
		}
	}
	return nil
}

// CheckAll checks every flag of a list.
func CheckFlags(flags []sealpost.Flag) error {
	for _, f := range flags {
		if err := CheckFlag(f); err != nil {
			return err
		}
	}
	return nil
}

// Has reports whether flags holds f, ignoring case.
func HasFlag(flags []sealpost.Flag, f sealpost.Flag) bool {
	for _, g := range flags {
		if strings.EqualFold(string(g), string(f)) {
			return true
		}
	}
	return false
}

// Add returns cur with those of add it lacks appended, ignoring case:
// a flag keeps the case it was first set in. \Recent is dropped.
func AddFlags(cur, add []sealpost.Flag) []sealpost.Flag {
	out := make([]sealpost.Flag, 0, len(cur)+len(add))
	for _, list := range [][]sealpost.Flag{cur, add} {
		for _, f := range list {
			if strings.EqualFold(string(f), recent) || HasFlag(out, f) {
				continue
			}
			out = append(out, f)
		}
	}
	return out
}

// Remove returns cur without the flags in del, ignoring case.
func RemoveFlags(cur, del []sealpost.Flag) []sealpost.Flag {
	out := make([]sealpost.Flag, 0, len(cur))
	for _, f := range cur {
		if !HasFlag(del, f) {
			out = append(out, f)
		}
	}
	return out
}

// Apply computes a message's new flags under op.
func ApplyFlags(cur []sealpost.Flag, op sealpost.FlagOp, flags []sealpost.Flag) []sealpost.Flag {
	switch op {
	case sealpost.FlagsAdd:
		return AddFlags(cur, flags)
	case sealpost.FlagsRemove:
		return RemoveFlags(cur, flags)
	default: // FlagsSet: keep the stored case of flags that stay.
		return AddFlags(RemoveFlags(cur, RemoveFlags(cur, flags)), flags)
	}
}

// Same reports whether a and b hold the same flags, ignoring case and
// order.
func SameFlags(a, b []sealpost.Flag) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range a {
		if !HasFlag(b, f) {
			return false
		}
	}
	return true
}

// Encode is the stored form of a flag list: space-separated.
func EncodeFlags(flags []sealpost.Flag) string {
	var b strings.Builder
	for i, f := range flags {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(f))
	}
	return b.String()
}

// Decode parses the stored form; an empty list is nil.
func DecodeFlags(s string) []sealpost.Flag {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, " ")
	out := make([]sealpost.Flag, len(parts))
	for i, p := range parts {
		out[i] = sealpost.Flag(p)
	}
	return out
}
