// Package srs owns the Sender Rewriting Scheme (Shevek, "Sender Rewriting
// Scheme", 2004; the scheme libsrs2 and Postfix's postsrsd implement) for
// mail Sealpost re-sends on behalf of someone else (a Sieve redirect): the
// envelope sender bob@example.com becomes
//
//	SRS0=HHHH=TT=example.com=bob@demo.example
//
// an address of our own domain, so that the next server's SPF check (RFC
// 7208) is made against our domain and passes, and a bounce sent to it
// comes back to our MX, which checks it here (Reverse) and forwards it to
// bob@example.com with a null sender.
//
// The fields:
//
//   - TT is the day of the rewriting: days since the Unix epoch modulo 1024,
//     two characters of base32 (RFC 4648 alphabet, high five bits first),
//     as libsrs2 writes it. Reverse accepts an address up to MaxAge days
//     old (and one day in the future, for clocks of nodes that disagree
//     around midnight), counting across the modulo's wrap.
//   - HHHH is the first four base32 characters (20 bits) of
//     HMAC-SHA256(key, lower(TT "=" domain "=" local)). The input is
//     lowercased (ASCII), as libsrs2 does, and the hash compared
//     case-insensitively in constant time, because mail systems on the way
//     may change the case of a local part. libsrs2 uses HMAC-SHA1 and
//     base64 and joins the fields with nothing, so that characters could
//     move between the domain and the local part under the same hash
//     (example.com + abc, example.coma + bc); '=' cannot occur in a domain,
//     so our join is unambiguous. Our addresses are read only by ourselves,
//     never by another implementation. Twenty bits make a forger guess
//     about a million times per address, at the MX's recipient tarpit
//     pace, and a success buys only a bounce relayed to one address, with
//     a null sender.
//   - The original local part (unquoted) is the last field, so it may
//     itself hold '=', '+' or anything else; the original domain is the
//     one before it.
//
// An original that is already an SRS address of another forwarder is
// rewritten with libsrs2's guarded scheme rather than nested, so that the
// address does not grow at every hop: SRS0=HHHH=TT=orig=user@fwd1 becomes
// SRS1=HHHH=fwd1==HHHH=TT=orig=user@ours (the hash over fwd1 and the rest),
// and an SRS1 address keeps its first forwarder and gets our hash. Reverse
// of an SRS1 address gives back the SRS0 address at the first forwarder,
// which checks its own timestamp: SRS1 carries none. An original in the
// rewriting domain itself (one of our own SRS addresses, or any address of
// ours) is left as it is: SPF already passes for it and its bounces come
// to us.
//
// RFC 5321 4.5.3.1.1 limits a local part to 64 octets; an SRS local part is
// the original's plus at least 13 octets and the original domain, so it
// often exceeds that. libsrs2 and postsrsd do the same and mail systems
// accept such addresses; so do we (only the whole path's 256 octets of RFC
// 5321 4.5.3.1.3 is enforced: Forward refuses a longer result). A local
// part that is not a dot-string is carried, and given back, as a quoted
// string (RFC 5321 4.1.2).
//
// The null sender (a bounce) is never rewritten: Forward returns "" for it,
// and a redirected bounce keeps the null sender (RFC 5321 4.5.5).
//
// The package is pure: no I/O, the time passed in. It imports only errors.
package srs

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"strings"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// Key is the secret of the hash. Every node that may receive a bounce for
// an address another node rewrote must hold the same key. A zero Key is
// refused: it would mean no secret was configured.
type Key [32]byte

// MaxAge is how many days a rewritten address stays valid: libsrs2's
// default, longer than any retry schedule of a mail server (Postfix
// bounces after 5 days).
const MaxAge = 21

// maxPath is the longest address we write: RFC 5321 4.5.3.1.3's 256
// octets of a path less its angle brackets.
const maxPath = 254

const (
	tag0     = "SRS0"
	tag1     = "SRS1"
	sep      = "="
	hashLen  = 4
	daySecs  = 24 * 60 * 60
	ttSlots  = 1024 // two base32 characters
	alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Forward returns the address to use as the envelope sender when mail from
// orig is re-sent by a user of domain (one of our hosted domains). It
// returns "" for the null sender "", and orig itself for an address in
// domain. An address without '@', with an empty part, with a malformed
// domain or quoted string, or whose rewriting would exceed 254 octets, is
// Invalid.
func Forward(k Key, orig, domain string, now time.Time) (string, error) {
	const op = "srs.Forward"
	if orig == "" {
		return "", nil
	}
	if k == (Key{}) {
		return "", errors.E(op, errors.Invalid, errors.Str("no key"))
	}
	if !validDomain(domain) {
		return "", errors.E(op, errors.Invalid, errors.Str("bad rewriting domain"))
	}
	local, odomain, err := split(orig)
	if err != nil {
		return "", errors.E(op, errors.Invalid, err)
	}
	if strings.EqualFold(odomain, domain) {
		return orig, nil
	}
	var out string
	switch tag, rest := srsTag(local); tag {
	case tag0:
		// Guarded: SRS1=HHHH=fwd1==HHHH=TT=orig=user (rest keeps
		// SRS0's separator).
		out = tag1 + sep + hash(k, odomain, rest) + sep + odomain + sep + rest
	case tag1:
		// Keep the first forwarder; replace its hash by ours.
		_, fwd1, rest1, ok := parse1(rest)
		if !ok {
			return "", errors.E(op, errors.Invalid, errors.Str("malformed SRS1 address"))
		}
		out = tag1 + sep + hash(k, fwd1, rest1) + sep + fwd1 + sep + rest1
	default:
		tt := stamp(now)
		out = tag0 + sep + hash(k, tt, odomain, local) + sep + tt + sep + odomain + sep + local
	}
	out = quote(out) + "@" + domain
	if len(out) > maxPath {
		return "", errors.E(op, errors.Invalid, errors.Errorf("rewritten address of %d octets exceeds %d", len(out), maxPath))
	}
	return out, nil
}

// Reverse checks an SRS address (of one of our domains) and returns the
// address it stands for: the original sender for SRS0, the first
// forwarder's SRS0 address for SRS1. A malformed address, or one that is
// not SRS, is Invalid; a wrong hash or an SRS0 address older than MaxAge
// days is Permission.
func Reverse(k Key, addr string, now time.Time) (string, error) {
	const op = "srs.Reverse"
	if k == (Key{}) {
		return "", errors.E(op, errors.Invalid, errors.Str("no key"))
	}
	local, _, err := split(addr)
	if err != nil {
		return "", errors.E(op, errors.Invalid, err)
	}
	tag, rest := srsTag(local)
	if tag == "" {
		return "", errors.E(op, errors.Invalid, errors.Str("not an SRS address"))
	}
	if tag == tag0 {
		h, tt, rest, ok := cut3(rest[1:])
		odomain, user, ok2 := strings.Cut(rest, sep)
		if !ok || !ok2 || len(tt) != 2 || !validDomain(odomain) || user == "" {
			return "", errors.E(op, errors.Invalid, errors.Str("malformed SRS0 address"))
		}
		age, ok := ageOf(tt, now)
		if !ok {
			return "", errors.E(op, errors.Invalid, errors.Str("bad SRS0 timestamp"))
		}
		if !hashEqual(h, hash(k, tt, odomain, user)) {
			return "", errors.E(op, errors.Permission, errors.Str("SRS0 hash does not match"))
		}
		// Checked after the hash, so that the answer does not tell a
		// forger which part was wrong. -1: a node a little ahead.
		if age < -1 || age > MaxAge {
			return "", errors.E(op, errors.Permission, errors.Errorf("SRS0 address is %d days old", age))
		}
		return quote(user) + "@" + odomain, nil
	}
	h, fwd1, rest1, ok := parse1(rest)
	if !ok {
		return "", errors.E(op, errors.Invalid, errors.Str("malformed SRS1 address"))
	}
	if !hashEqual(h, hash(k, fwd1, rest1)) {
		return "", errors.E(op, errors.Permission, errors.Str("SRS1 hash does not match"))
	}
	return quote(tag0+rest1) + "@" + fwd1, nil
}

// parse1 splits an SRS1 local part after its tag (rest, from the
// separator on): the hash, the first forwarder's domain, and what follows
// SRS0 in the first forwarder's address, from its separator on.
func parse1(rest string) (h, fwd1, rest1 string, ok bool) {
	h, fwd1, rest1, ok = cut3(rest[1:])
	return h, fwd1, rest1, ok && validDomain(fwd1) && rest1 != "" && isSep(rest1[0])
}

// IsSRS reports whether a local part (bare or a quoted string) has the
// form of an SRS address: SRS0 or SRS1, in any case, then one of the
// separators '=', '+', '-' that libsrs2 accepts.
func IsSRS(local string) bool {
	if u, err := unquote(local); err == nil {
		local = u
	}
	tag, _ := srsTag(local)
	return tag != ""
}

// srsTag returns "SRS0" or "SRS1" and the rest of local from its separator
// on, or "" if local is not an SRS local part.
func srsTag(local string) (tag, rest string) {
	if len(local) < 5 || !isSep(local[4]) {
		return "", ""
	}
	switch t := strings.ToUpper(local[:4]); t {
	case tag0, tag1:
		return t, local[4:]
	}
	return "", ""
}

func isSep(c byte) bool { return c == '=' || c == '+' || c == '-' }

// cut3 splits s at its first two '=': a, b, and the rest.
func cut3(s string) (a, b, rest string, ok bool) {
	a, s, ok1 := strings.Cut(s, sep)
	b, rest, ok2 := strings.Cut(s, sep)
	return a, b, rest, ok1 && ok2
}

// hash is the first hashLen base32 characters of HMAC-SHA256 over parts
// joined by '=', ASCII lowercased (other bytes as they are, so that no two
// inputs but case variants share a hash input).
func hash(k Key, parts ...string) string {
	var in []byte
	for j, p := range parts {
		if j > 0 {
			in = append(in, '=')
		}
		for i := 0; i < len(p); i++ {
			in = append(in, lower(p[i]))
		}
	}
	m := hmac.New(sha256.New, k[:])
	m.Write(in)
	return b32.EncodeToString(m.Sum(nil)[:3])[:hashLen]
}

// hashEqual compares a received hash with the expected one in constant
// time, ignoring case.
func hashEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(strings.ToUpper(got)), []byte(want)) == 1
}

// stamp returns the day of now as TT.
func stamp(now time.Time) string {
	d := day(now) % ttSlots
	return string([]byte{alphabet[d>>5], alphabet[d&31]})
}

func day(t time.Time) int64 {
	s := t.Unix()
	d := s / daySecs
	if s < 0 && s%daySecs != 0 {
		d-- // floor
	}
	return d
}

// ageOf returns how many days ago tt was written, in (-512, 512], counting
// across the modulo's wrap; false if tt is not two base32 characters.
func ageOf(tt string, now time.Time) (int64, bool) {
	var v int64
	for i := 0; i < len(tt); i++ {
		j := strings.IndexByte(alphabet, upper(tt[i]))
		if j < 0 {
			return 0, false
		}
		v = v<<5 | int64(j)
	}
	age := ((day(now)-v)%ttSlots + ttSlots) % ttSlots
	if age > ttSlots/2 {
		age -= ttSlots
	}
	return age, true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c - 'A' + 'a'
	}
	return c
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
