package sqlite

import (
	"strings"

	"github.com/sealpost/sealpost"
)

// recent is never stored: RFC 9051 drops it, and under RFC 3501 it is a
// session property, not message state.
const recent = `\Recent`

// checkFlag rejects what is not an IMAP flag: a flag is an atom, or `\`
// followed by an atom (RFC 9051 9, flag and atom-specials). The check also
// keeps the space-separated storage unambiguous.
func checkFlag(f sealpost.Flag) error {
	s := string(f)
	if strings.HasPrefix(s, `\`) {
		s = s[1:]
	}
	if s == "" {
		return invalid("bad flag %q", f)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return invalid("bad flag %q", f)
		}
	}
	return nil
}

// checkFlags checks every flag of a list.
func checkFlags(flags []sealpost.Flag) error {
	for _, f := range flags {
		if err := checkFlag(f); err != nil {
			return err
		}
	}
	return nil
}

// hasFlag reports whether flags holds f, ignoring case.
func hasFlag(flags []sealpost.Flag, f sealpost.Flag) bool {
	for _, g := range flags {
		if strings.EqualFold(string(g), string(f)) {
			return true
		}
	}
	return false
}

// addFlags returns cur with those of add it lacks appended, ignoring case:
// a flag keeps the case it was first set in. \Recent is dropped.
func addFlags(cur, add []sealpost.Flag) []sealpost.Flag {
	out := make([]sealpost.Flag, 0, len(cur)+len(add))
	for _, list := range [][]sealpost.Flag{cur, add} {
		for _, f := range list {
			if strings.EqualFold(string(f), recent) || hasFlag(out, f) {
				continue
			}
			out = append(out, f)
		}
	}
	return out
}

// removeFlags returns cur without the flags in del, ignoring case.
func removeFlags(cur, del []sealpost.Flag) []sealpost.Flag {
	out := make([]sealpost.Flag, 0, len(cur))
	for _, f := range cur {
		if !hasFlag(del, f) {
			out = append(out, f)
		}
	}
	return out
}

// applyFlags computes a message's new flags under op.
func applyFlags(cur []sealpost.Flag, op sealpost.FlagOp, flags []sealpost.Flag) []sealpost.Flag {
	switch op {
	case sealpost.FlagsAdd:
		return addFlags(cur, flags)
	case sealpost.FlagsRemove:
		return removeFlags(cur, flags)
	default: // FlagsSet: keep the stored case of flags that stay.
		return addFlags(removeFlags(cur, removeFlags(cur, flags)), flags)
	}
}

// sameFlags reports whether a and b hold the same flags, ignoring case and
// order.
func sameFlags(a, b []sealpost.Flag) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range a {
		if !hasFlag(b, f) {
			return false
		}
	}
	return true
}

// encodeFlags is the stored form of a flag list: space-separated.
func encodeFlags(flags []sealpost.Flag) string {
	var b strings.Builder
	for i, f := range flags {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(f))
	}
	return b.String()
}

// decodeFlags parses the stored form; an empty list is nil.
func decodeFlags(s string) []sealpost.Flag {
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
