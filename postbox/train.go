package postbox

import (
	"context"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/junk"
)

// train.go: the account's classifier learns from its owner's actions, in
// the owner's session, the only place a message's plaintext exists:
// moving a message into Junk, or setting $Junk on it, teaches "spam";
// moving it out of Junk (elsewhere than Trash), or setting $NotJunk,
// teaches "ham". The lesson is written on the message as that keyword
// (the convention of Thunderbird and RFC 5788's registry), so that each
// message counts once and a change of mind is untaught first. The model
// is sealed under the account's filter key (filterkey.go): counts of
// hashed tokens only.

// The keywords that record a lesson.
const (
	KeywordJunk    sealpost.Flag = "$Junk"
	KeywordNotJunk sealpost.Flag = "$NotJunk"
)

// maxLearnBatch bounds the messages one action teaches at once.
const maxLearnBatch = 10000

// lessonOf returns what moving a message from one mailbox to another
// teaches: spam (into Junk), ham (out of Junk, not to Trash), or nothing.
func lessonOf(from, to sealpost.SpecialUse) (spam, teach bool) {
	switch {
	case to == sealpost.UseJunk && from != sealpost.UseJunk:
		return true, true
	case from == sealpost.UseJunk && to != sealpost.UseJunk && to != sealpost.UseTrash:
		return false, true
	}
	return false, false
}

// learnFromMove teaches what a MOVE or COPY of msgs (now in dest) means.
// A failure to learn is logged: it never fails the owner's action.
func (ss *Session) learnFromMove(ctx context.Context, from sealpost.SpecialUse, dest sealpost.Mailbox, msgs []sealpost.Message) {
	spam, teach := lessonOf(from, dest.Use)
	if !teach || len(msgs) == 0 {
		return
	}
	if err := ss.Learn(ctx, dest, msgs, spam); err != nil {
		ss.svc.log.Warn("learning from a move", "account", ss.acct.ID, "err", err)
	}
}

// Learn teaches the account's classifier that msgs (in mbox) are spam, or
// ham, and marks them with KeywordJunk or KeywordNotJunk. Messages already
// marked so are skipped; those marked the other way are untaught first.
// Nothing is learnt while the account's settings say NoServerFilter.
func (ss *Session) Learn(ctx context.Context, mbox sealpost.Mailbox, msgs []sealpost.Message, spam bool) error {
	const op = "postbox.Learn"
	s := ss.svc
	acct, err := s.store.Account(ctx, ss.acct.Address)
	if err != nil {
		return errors.E(op, err)
	}
	if acct.Settings.NoServerFilter {
		return nil
	}
	want, other := KeywordNotJunk, KeywordJunk
	if spam {
		want, other = KeywordJunk, KeywordNotJunk
	}
	if len(msgs) > maxLearnBatch {
		msgs = msgs[:maxLearnBatch]
	}
	k, err := ss.filterKey(ctx)
	if err != nil {
		return errors.E(op, err)
	}
	s.trainMu.Lock()
	defer s.trainMu.Unlock()
	bind := objectBinding(acct.Address, sealpost.ObjectJunkModel)
	model := new(junk.Model)
	if o, err := s.store.Object(ctx, acct.ID, sealpost.ObjectJunkModel, ""); err == nil {
		plain, err := k.OpenObject(bind, o.Data)
		if err != nil {
			return errors.E(op, err)
		}
		if err := model.UnmarshalBinary(plain); err != nil {
			return errors.E(op, errors.Internal, err)
		}
	} else if !errors.Is(errors.NotExist, err) {
		return errors.E(op, err)
	}
	jk := junk.Key(k.Derive("junk"))
	var taught []sealpost.UID
	for _, m := range msgs {
		if sealpost.HasFlag(m.Flags, want) {
			continue
		}
		body, err := ss.Body(ctx, m)
		if err != nil {
			s.log.Warn("learning: message unreadable", "account", acct.ID, "message", m.ID, "err", err)
			continue
		}
		if sealpost.HasFlag(m.Flags, other) {
			model.Untrain(jk, body, !spam)
		}
		model.Train(jk, body, spam)
		taught = append(taught, m.UID)
	}
	if len(taught) == 0 {
		return nil
	}
	plain, err := model.MarshalBinary()
	if err != nil {
		return errors.E(op, errors.Internal, err)
	}
	sealed, err := k.SealObject(bind, plain)
	if err != nil {
		return errors.E(op, err)
	}
	if err := s.store.PutObject(ctx, sealpost.AccountObject{Account: acct.ID, Kind: sealpost.ObjectJunkModel, Data: sealed}, 0); err != nil {
		return errors.E(op, err)
	}
	s.forgetFilter(acct.ID)
	return ss.markLesson(ctx, mbox, taught, want, other)
}

// markLesson sets want and clears other on the taught messages.
func (ss *Session) markLesson(ctx context.Context, mbox sealpost.Mailbox, uids []sealpost.UID, want, other sealpost.Flag) error {
	m, err := ss.svc.acquire(ctx, mbox)
	if err != nil {
		return err
	}
	defer ss.Release(m)
	if _, err := m.SetFlags(ctx, uids, sealpost.FlagsAdd, []sealpost.Flag{want}, nil); err != nil {
		return err
	}
	_, err = m.SetFlags(ctx, uids, sealpost.FlagsRemove, []sealpost.Flag{other}, nil)
	return err
}

// FilterStatus is what the owner's page shows of an account's filter.
type FilterStatus struct {
	NoServerFilter bool
	ActiveScript   string // "" none
	Script         []byte // its text, nil when delivery cannot open it
	Scripts        int
	Ham, Spam      int // messages the classifier learnt from
	Trained        time.Time
}

// FilterStatus reports an account's filter as delivery sees it: what the
// delivery wrap of its filter key opens (nothing in the strictest mode).
func (s *Service) FilterStatus(ctx context.Context, addr string) (FilterStatus, error) {
	const op = "postbox.FilterStatus"
	acct, err := s.store.Account(ctx, sealpost.NormalizeAddress(addr))
	if err != nil {
		return FilterStatus{}, errors.E(op, err)
	}
	st := FilterStatus{NoServerFilter: acct.Settings.NoServerFilter}
	scripts, err := s.store.Objects(ctx, acct.ID, sealpost.ObjectSieveScript)
	if err != nil {
		return st, errors.E(op, err)
	}
	st.Scripts = len(scripts)
	k, err := s.deliveryKey(ctx, acct)
	if errors.Is(errors.NotExist, err) {
		k = nil
	} else if err != nil {
		return st, errors.E(op, err)
	}
	for _, o := range scripts {
		if o.Active {
			st.ActiveScript = o.Name
			if k != nil {
				if src, err := k.OpenObject(objectBinding(acct.Address, o.Kind), o.Data); err == nil {
					st.Script = src
				}
			}
		}
	}
	if k == nil {
		return st, nil
	}
	o, err := s.store.Object(ctx, acct.ID, sealpost.ObjectJunkModel, "")
	if errors.Is(errors.NotExist, err) {
		return st, nil
	} else if err != nil {
		return st, errors.E(op, err)
	}
	plain, err := k.OpenObject(objectBinding(acct.Address, sealpost.ObjectJunkModel), o.Data)
	if err != nil {
		return st, errors.E(op, err)
	}
	m := new(junk.Model)
	if err := m.UnmarshalBinary(plain); err != nil {
		return st, errors.E(op, errors.Internal, err)
	}
	ms := m.Stats()
	st.Ham, st.Spam, st.Trained = ms.Ham, ms.Spam, ms.Trained
	return st, nil
}
