package column

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// CheckRegion rejects what cannot name a region in a store's claim: the
// empty string, and anything longer than 64 bytes or holding a space or a
// control character.
func CheckRegion(r sealpost.RegionID) error {
	if r == "" || len(r) > 64 {
		return errors.E(errors.Invalid, errors.Errorf("bad region %q", r))
	}
	for i := 0; i < len(r); i++ {
		if c := r[i]; c <= ' ' || c == 0x7f {
			return errors.E(errors.Invalid, errors.Errorf("bad region %q", r))
		}
	}
	return nil
}

// CheckAddress rejects an address no account can have: it must be
// normalized (sealpost.NormalizeAddress), have a non-empty local part and
// domain, and hold no white space.
func CheckAddress(addr string) error {
	d := sealpost.DomainOf(addr)
	if d == "" || len(addr) == len(d)+1 || addr != sealpost.NormalizeAddress(addr) || strings.ContainsAny(addr, " \t\r\n\x00") {
		return errors.E(errors.Invalid, errors.Errorf("bad address %q", addr))
	}
	return nil
}

// CheckUse rejects a special use that is not "" or a backslash-prefixed
// word (RFC 6154 2).
func CheckUse(use sealpost.SpecialUse) error {
	if use != sealpost.UseNone && (!strings.HasPrefix(string(use), `\`) || strings.ContainsAny(string(use), " \t\r\n\x00")) {
		return errors.E(errors.Invalid, errors.Errorf("bad special use %q", use))
	}
	return nil
}

// CheckImage validates an account image for Store.ImportAccount, which
// stores nothing unless the whole image passes, and returns the image as
// the store keeps it: a deep copy with the address normalized, flags
// normalized (AddFlags: no \Recent, no duplicates), times as they read back
// from storage and a zero Account.Created set to now. IDs other than the
// keys' are ignored. Every failure is Invalid:
//   - the address, as CheckAddress after normalizing;
//   - keys: IDs non-zero and distinct (messages refer to them), at most one
//     active generation, times storable;
//   - mailboxes: names valid (CheckName) and canonical ("INBOX", not
//     "inbox"), distinct; special uses valid and distinct; UIDValidity
//     non-zero (RFC 9051 2.3.1.1: nz-number), UIDNext at least 1,
//     HighestModSeq positive (RFC 7162 3.1.1) and within 63 bits;
//   - messages: UIDs positive, strictly ascending and below the mailbox's
//     UIDNext; ModSeq positive and at most its HighestModSeq; flags valid
//     (CheckFlags); a blob ref; a size not negative; a storable internal
//     date; Key 0 (the account's own OpenPGP key) or one of the image's
//     keys;
//   - objects: each passing AccountObject.Check, distinct by kind and
//     name, at most one active per kind, Updated storable (a zero Updated
//     is set to now); Account fields are ignored.
func CheckImage(img sealpost.AccountImage) (sealpost.AccountImage, error) {
	out := sealpost.AccountImage{Account: img.Account}
	a := &out.Account
	a.Address = sealpost.NormalizeAddress(a.Address)
	if err := CheckAddress(a.Address); err != nil {
		return sealpost.AccountImage{}, err
	}
	if !ValidTime(a.Created) {
		return sealpost.AccountImage{}, invalidf("account created %v out of range", a.Created)
	}
	a.Created = FromNanos(Nanos(a.Created))
	if a.Created.IsZero() {
		a.Created = Now()
	}
	a.PasswordVerifier = slices.Clone(a.PasswordVerifier)

	keys := map[sealpost.KeyID]bool{}
	active := 0
	for _, k := range img.Keys {
		switch {
		case k.ID == 0:
			return sealpost.AccountImage{}, invalidf("key without an ID")
		case keys[k.ID]:
			return sealpost.AccountImage{}, invalidf("key %d twice", k.ID)
		case !ValidTime(k.Created):
			return sealpost.AccountImage{}, invalidf("key %d created %v out of range", k.ID, k.Created)
		}
		keys[k.ID] = true
		if k.Active {
			active++
		}
		k.Created = FromNanos(Nanos(k.Created))
		k.PublicKey = slices.Clone(k.PublicKey)
		k.WrappedByPassword = slices.Clone(k.WrappedByPassword)
		k.WrappedByRecovery = slices.Clone(k.WrappedByRecovery)
		out.Keys = append(out.Keys, k)
	}
	if active > 1 {
		return sealpost.AccountImage{}, invalidf("%d active key generations", active)
	}

	names := map[string]bool{}
	uses := map[sealpost.SpecialUse]bool{}
	for _, mi := range img.Mailboxes {
		mb := mi.Mailbox
		if err := sealpost.CheckMailboxName(mb.Name); err != nil {
			return sealpost.AccountImage{}, err
		}
		if err := CheckUse(mb.Use); err != nil {
			return sealpost.AccountImage{}, err
		}
		switch {
		case mb.Name != sealpost.CanonicalMailboxName(mb.Name):
			return sealpost.AccountImage{}, invalidf("mailbox name %q is not canonical", mb.Name)
		case names[mb.Name]:
			return sealpost.AccountImage{}, invalidf("mailbox %q twice", mb.Name)
		case mb.Use != sealpost.UseNone && uses[mb.Use]:
			return sealpost.AccountImage{}, invalidf("two mailboxes with special use %s", mb.Use)
		case mb.UIDValidity == 0:
			return sealpost.AccountImage{}, invalidf("mailbox %q has UIDVALIDITY 0", mb.Name)
		case mb.UIDNext == 0:
			return sealpost.AccountImage{}, invalidf("mailbox %q has UIDNEXT 0", mb.Name)
		case mb.HighestModSeq == 0 || mb.HighestModSeq > math.MaxInt64:
			return sealpost.AccountImage{}, invalidf("mailbox %q has HIGHESTMODSEQ %d", mb.Name, mb.HighestModSeq)
		}
		names[mb.Name] = true
		uses[mb.Use] = true
		msgs := make([]sealpost.Message, 0, len(mi.Messages))
		var last sealpost.UID
		for _, m := range mi.Messages {
			switch {
			case m.UID == 0 || m.UID <= last:
				return sealpost.AccountImage{}, invalidf("mailbox %q: UID %d after %d", mb.Name, m.UID, last)
			case m.UID >= mb.UIDNext:
				return sealpost.AccountImage{}, invalidf("mailbox %q: UID %d not below UIDNEXT %d", mb.Name, m.UID, mb.UIDNext)
			case m.ModSeq == 0 || m.ModSeq > mb.HighestModSeq:
				return sealpost.AccountImage{}, invalidf("mailbox %q: UID %d has MODSEQ %d, HIGHESTMODSEQ is %d", mb.Name, m.UID, m.ModSeq, mb.HighestModSeq)
			case m.Blob == "":
				return sealpost.AccountImage{}, invalidf("mailbox %q: UID %d has no blob", mb.Name, m.UID)
			case m.Size < 0:
				return sealpost.AccountImage{}, invalidf("mailbox %q: UID %d has size %d", mb.Name, m.UID, m.Size)
			case !ValidTime(m.InternalDate):
				return sealpost.AccountImage{}, invalidf("mailbox %q: UID %d: internal date %v out of range", mb.Name, m.UID, m.InternalDate)
			case m.Key != 0 && !keys[m.Key]:
				return sealpost.AccountImage{}, invalidf("mailbox %q: UID %d is sealed to key %d, not in the image", mb.Name, m.UID, m.Key)
			}
			if err := CheckFlags(m.Flags); err != nil {
				return sealpost.AccountImage{}, errors.E(errors.Invalid, errors.Errorf("mailbox %q: UID %d: %w", mb.Name, m.UID, err))
			}
			last = m.UID
			m.Flags = AddFlags(nil, m.Flags)
			m.InternalDate = FromNanos(Nanos(m.InternalDate))
			m.SessionKey = slices.Clone(m.SessionKey)
			msgs = append(msgs, m)
		}
		out.Mailboxes = append(out.Mailboxes, sealpost.MailboxImage{Mailbox: mb, Messages: msgs})
	}
	objs, err := checkObjects(img.Objects)
	if err != nil {
		return sealpost.AccountImage{}, err
	}
	out.Objects = objs
	return out, nil
}

// checkObjects is CheckImage's rule for an image's objects.
func checkObjects(in []sealpost.AccountObject) ([]sealpost.AccountObject, error) {
	type key struct {
		kind sealpost.ObjectKind
		name string
	}
	seen := map[key]bool{}
	active := map[sealpost.ObjectKind]bool{}
	var out []sealpost.AccountObject
	for _, o := range in {
		k := key{o.Kind, o.Name}
		if err := o.Check(); err != nil {
			return nil, errors.E(errors.Invalid, errors.Errorf("object %s %q: %w", o.Kind, o.Name, err))
		}
		switch {
		case seen[k]:
			return nil, invalidf("object %s %q twice", o.Kind, o.Name)
		case o.Active && active[o.Kind]:
			return nil, invalidf("two active objects of kind %s", o.Kind)
		case !ValidTime(o.Updated):
			return nil, invalidf("object %s %q updated %v out of range", o.Kind, o.Name, o.Updated)
		}
		seen[k] = true
		active[o.Kind] = active[o.Kind] || o.Active
		o.Account = 0
		o.Data = slices.Clone(o.Data)
		o.Updated = Updated(o.Updated)
		out = append(out, o)
	}
	return out, nil
}

// Updated is an object's update time as a store keeps it: t as it reads
// back from storage, now if t is zero.
func Updated(t time.Time) time.Time {
	if t.IsZero() {
		return Now()
	}
	return FromNanos(Nanos(t))
}

// MaxUIDValidity returns the greatest UIDValidity among the image's
// mailboxes, 0 if it has none: a store that imports the image must never
// hand out a value up to it again (RFC 9051 2.3.1.1: a mailbox re-created
// under a name gets a greater one).
func MaxUIDValidity(img sealpost.AccountImage) uint32 {
	var v uint32
	for _, mi := range img.Mailboxes {
		v = max(v, mi.Mailbox.UIDValidity)
	}
	return v
}

func invalidf(format string, args ...any) error {
	return errors.E(errors.Invalid, errors.Errorf(format, args...))
}
