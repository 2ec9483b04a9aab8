package imapserver

import (
	"github.com/emersion/go-imap/v2"

	"github.com/sealpost/sealpost"
)

// Quotas. What would take an account over its storage quota (APPEND,
// COPY) is refused with NO [OVERQUOTA] (RFC 5530 3; RFC 9208 4.3.1: the
// message is not stored), and a CREATE (or a RENAME of INBOX, which
// creates its new name) beyond the mailbox limit with NO [LIMIT] (RFC
// 5530 3: "the operation ran up against an implementation limit"), as
// Dovecot answers. MOVE within the account adds nothing and is never
// refused for quota.
//
// The QUOTA extension (RFC 9208: GETQUOTA, GETQUOTAROOT) is not offered
// yet: go-imap v2 beta.8's server answers any command it does not know
// with "BAD Unknown command" and has no hook for new ones (its client
// speaks QUOTA; upstream has no server side). quotaRoot below is what it
// would answer; wiring it needs a small go-imap change (a SessionQuota
// interface that conn.go dispatches GETQUOTA and GETQUOTAROOT to), and
// CAPABILITY then gains QUOTA QUOTA=RES-STORAGE QUOTA=RES-MAILBOX.

// quotaRootName is the one quota root of an account, which every mailbox
// of the account shares (RFC 9208 3.2; "" as in its examples).
const quotaRootName = ""

// quotaCode is the response code and text of an OverQuota refusal of op.
func quotaCode(op string) (imap.ResponseCode, string) {
	switch op {
	case "create", "rename":
		return imap.ResponseCodeLimit, "Too many mailboxes"
	}
	return imap.ResponseCodeOverQuota, "Quota exceeded"
}

// quotaResource is one resource of a QUOTA response (RFC 9208 5): its
// name, usage and limit, in the resource's units.
type quotaResource struct {
	Name         string
	Usage, Limit int64
}

// quotaResources is what GETQUOTA "" answers for limits q and usage u: the
// resources that have a limit, STORAGE in units of 1024 octets (RFC 9208
// 5.1; usage rounded up, so a client never sees room that is not there),
// MAILBOX as a count (5.3). MESSAGE is not limited, so not reported.
func quotaResources(q sealpost.Quota, u sealpost.Usage) []quotaResource {
	var out []quotaResource
	if q.Storage > 0 {
		out = append(out, quotaResource{"STORAGE", (u.Storage + 1023) / 1024, q.Storage / 1024})
	}
	if q.Mailboxes > 0 {
		out = append(out, quotaResource{"MAILBOX", u.Mailboxes, q.Mailboxes})
	}
	return out
}

// quotaRoot is GETQUOTA's answer for the session's account.
func (s *session) quotaRoot() ([]quotaResource, error) {
	q, u, err := s.ps.Quota(s.ctx)
	if err != nil {
		return nil, s.fail("getquota", err, false)
	}
	return quotaResources(q, u), nil
}
