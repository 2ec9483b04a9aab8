package sieve

import "strings"

// MaxFlags is the most flags one action gives a message; further ones are
// dropped.
const MaxFlags = 32

// maxFlagLen is the longest flag kept.
const maxFlagLen = 64

// systemFlags are IMAP's system flags a script may set (RFC 9051 2.3.2;
// \Recent is the server's), by their lower-case form: the library folds
// flags to lower case (they compare case-insensitively).
var systemFlags = map[string]string{
	`\seen`: `\Seen`, `\answered`: `\Answered`, `\flagged`: `\Flagged`,
	`\deleted`: `\Deleted`, `\draft`: `\Draft`,
}

// wellKnownKeywords restores the usual spelling of registered keywords
// (RFC 5788's registry) that the library folded.
var wellKnownKeywords = map[string]string{
	"$forwarded": "$Forwarded", "$mdnsent": "$MDNSent", "$junk": "$Junk",
	"$notjunk": "$NotJunk", "$phishing": "$Phishing", "$important": "$Important",
	"$submitpending": "$SubmitPending", "$submitted": "$Submitted",
}

// imapFlags turns the library's flags into IMAP flags: system flags and
// registered keywords in their usual spelling, other keywords as they
// are, dropping what is not a valid IMAP flag (RFC 9051 9: flag-keyword is
// an atom; no other backslash flags).
func imapFlags(flags []string) []string {
	var out []string
	for _, f := range flags {
		if len(out) == MaxFlags {
			break
		}
		if sys, ok := systemFlags[strings.ToLower(f)]; ok {
			out = append(out, sys)
			continue
		}
		if kw, ok := wellKnownKeywords[strings.ToLower(f)]; ok {
			out = append(out, kw)
			continue
		}
		if validKeyword(f) {
			out = append(out, f)
		}
	}
	return out
}

// validKeyword reports whether f is an IMAP atom (RFC 9051 9: atom-char
// excludes atom-specials) of at most maxFlagLen bytes.
func validKeyword(f string) bool {
	if f == "" || len(f) > maxFlagLen {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}
