package imapserver

import (
	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"

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
// The QUOTA extension (RFC 9208) reports them: one quota root, "", for
// all of an account's mailboxes, with the resources that have a limit.
// go-imap parses GETQUOTA, GETQUOTAROOT and SETQUOTA and writes the
// responses (our fork's patch 3, third_party/README.md); the answers are
// here. SETQUOTA is refused by go-imap with NO [NOPERM] (this session does
// not implement goimap.SessionQuotaSet): limits are the administrator's
// (`sealpost account quota`), and RFC 9208 4.1.3 lets a server refuse.

var _ goimap.SessionQuota = (*session)(nil)

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

// noQuotaRoot answers GETQUOTA for a root the account does not have.
var noQuotaRoot = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such quota root"}

// quotaResources is the resources of the account's root for limits q and
// usage u: those that have a limit, STORAGE in units of 1024 octets (RFC
// 9208 5.1; usage rounded up, so a client never sees room that is not
// there), MAILBOX as a count (5.3). MESSAGE is not limited, so not
// reported. No limit at all is no quota root.
func quotaResources(q sealpost.Quota, u sealpost.Usage) map[imap.QuotaResourceType]imap.QuotaResourceData {
	out := make(map[imap.QuotaResourceType]imap.QuotaResourceData)
	if q.Storage > 0 {
		out[imap.QuotaResourceStorage] = imap.QuotaResourceData{Usage: (u.Storage + 1023) / 1024, Limit: q.Storage / 1024}
	}
	if q.Mailboxes > 0 {
		out[imap.QuotaResourceMailbox] = imap.QuotaResourceData{Usage: u.Mailboxes, Limit: q.Mailboxes}
	}
	return out
}

// quotaRoot is the account's quota root, nil when nothing is limited.
func (s *session) quotaRoot(op string) (*imap.QuotaData, error) {
	q, u, err := s.ps.Quota(s.ctx)
	if err != nil {
		return nil, s.fail(op, err, false)
	}
	res := quotaResources(q, u)
	if len(res) == 0 {
		return nil, nil
	}
	return &imap.QuotaData{Root: quotaRootName, Resources: res}, nil
}

// GetQuota answers GETQUOTA (RFC 9208 4.1.1): the usage and limits of the
// one root, NO [NONEXISTENT] for any other name.
func (s *session) GetQuota(root string) (*imap.QuotaData, error) {
	if root != quotaRootName {
		return nil, noQuotaRoot
	}
	data, err := s.quotaRoot("getquota")
	if err == nil && data == nil {
		err = noQuotaRoot
	}
	return data, err
}

// GetQuotaRoot answers GETQUOTAROOT (RFC 9208 4.1.2): the account's root
// for any of its mailboxes (none when nothing is limited), NO [NONEXISTENT]
// for a mailbox that does not exist.
func (s *session) GetQuotaRoot(mailbox string) ([]imap.QuotaData, error) {
	if _, err := s.ps.Mailbox(s.ctx, canonName(mailbox)); err != nil {
		return nil, s.fail("getquotaroot", err, false)
	}
	data, err := s.quotaRoot("getquotaroot")
	if err != nil || data == nil {
		return nil, err
	}
	return []imap.QuotaData{*data}, nil
}
