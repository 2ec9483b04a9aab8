package imapserver

// Sealpost patch 3: the server side of the QUOTA extension (RFC 9208):
// GETQUOTA, GETQUOTAROOT and SETQUOTA, dispatched to a session that
// implements SessionQuota (and SessionQuotaSet for SETQUOTA).

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// errQuotaSetRefused answers SETQUOTA when the session cannot change limits:
// RFC 9208 4.1.3 lets a server refuse it ("NO - setquota error: can't set
// that data"); quotas here are the administrator's.
var errQuotaSetRefused = &imap.Error{
	Type: imap.StatusResponseTypeNo,
	Code: imap.ResponseCodeNoPerm,
	Text: "Quota limits are set by the server's administrator",
}

// quotaSession returns the session as a SessionQuota, or the error that
// answers a QUOTA command when it is not one.
func (c *Conn) quotaSession() (SessionQuota, error) {
	if err := c.checkState(imap.ConnStateAuthenticated); err != nil {
		return nil, err
	}
	session, ok := c.session.(SessionQuota)
	if !ok {
		return nil, newClientBugError("QUOTA is not supported")
	}
	return session, nil
}

// handleGetQuota: "GETQUOTA" SP quota-root-name (RFC 9208 4.1.1).
func (c *Conn) handleGetQuota(dec *imapwire.Decoder) error {
	var root string
	if !dec.ExpectSP() || !dec.ExpectAString(&root) || !dec.ExpectCRLF() {
		return dec.Err()
	}
	session, err := c.quotaSession()
	if err != nil {
		return err
	}
	data, err := session.GetQuota(root)
	if err != nil {
		return err
	}
	if err := checkQuotaData(data); err != nil {
		return err
	}
	return c.writeQuota(data)
}

// handleGetQuotaRoot: "GETQUOTAROOT" SP mailbox (RFC 9208 4.1.2), answered
// with a QUOTAROOT response listing the mailbox's roots, then a QUOTA
// response for each.
func (c *Conn) handleGetQuotaRoot(dec *imapwire.Decoder) error {
	var mailbox string
	if !dec.ExpectSP() || !dec.ExpectMailbox(&mailbox) || !dec.ExpectCRLF() {
		return dec.Err()
	}
	session, err := c.quotaSession()
	if err != nil {
		return err
	}
	roots, err := session.GetQuotaRoot(mailbox)
	if err != nil {
		return err
	}
	for i := range roots {
		if err := checkQuotaData(&roots[i]); err != nil {
			return err
		}
	}

	// quotaroot-response = "QUOTAROOT" SP mailbox *(SP quota-root-name)
	enc := newResponseEncoder(c)
	enc.Atom("*").SP().Atom("QUOTAROOT").SP().Mailbox(mailbox)
	for _, data := range roots {
		enc.SP().String(data.Root)
	}
	err = enc.CRLF()
	enc.end()
	if err != nil {
		return err
	}
	for i := range roots {
		if err := c.writeQuota(&roots[i]); err != nil {
			return err
		}
	}
	return nil
}

// handleSetQuota: "SETQUOTA" SP quota-root-name SP setquota-list, where
// setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")" and
// setquota-resource = resource-name SP resource-limit (RFC 9208 4.1.3).
// The arguments are checked (BAD when malformed) even when the session
// refuses the command.
func (c *Conn) handleSetQuota(dec *imapwire.Decoder) error {
	var root string
	if !dec.ExpectSP() || !dec.ExpectAString(&root) || !dec.ExpectSP() {
		return dec.Err()
	}
	limits := make(map[imap.QuotaResourceType]int64)
	isList, err := dec.List(func() error {
		var (
			name  string
			limit int64
		)
		if !dec.ExpectAtom(&name) || !dec.ExpectSP() || !dec.ExpectNumber64(&limit) {
			return dec.Err()
		}
		limits[imap.QuotaResourceType(strings.ToUpper(name))] = limit
		return nil
	})
	if err != nil {
		return err
	}
	if !dec.Expect(isList, "setquota-list") || !dec.ExpectCRLF() {
		return dec.Err()
	}
	session, err := c.quotaSession()
	if err != nil {
		return err
	}
	setSession, ok := session.(SessionQuotaSet)
	if !ok {
		return errQuotaSetRefused
	}
	data, err := setSession.SetQuota(root, limits)
	if err != nil {
		return err
	}
	if data == nil {
		return nil
	}
	if err := checkQuotaData(data); err != nil {
		return err
	}
	return c.writeQuota(data)
}

// checkQuotaData refuses what cannot be written as a QUOTA response: the
// formal syntax has at least one resource, and numbers are number64 (never
// negative). Such data is the session's mistake, so the error is plain.
func checkQuotaData(data *imap.QuotaData) error {
	if data == nil || len(data.Resources) == 0 {
		return fmt.Errorf("imapserver: QUOTA data without resources")
	}
	for typ, res := range data.Resources {
		if res.Usage < 0 || res.Limit < 0 || !isResourceName(string(typ)) {
			return fmt.Errorf("imapserver: invalid QUOTA resource %q: %+v", typ, res)
		}
	}
	return nil
}

// writeQuota writes a QUOTA response (RFC 9208 4.2.1):
// quota-response = "QUOTA" SP quota-root-name SP quota-list, where
// quota-list = "(" quota-resource *(SP quota-resource) ")" and
// quota-resource = resource-name SP resource-usage SP resource-limit.
// Resources come in RFC 9208 section 5's order (STORAGE, MESSAGE,
// MAILBOX, ANNOTATION-STORAGE), then others by name, so that the response
// does not depend on map order.
func (c *Conn) writeQuota(data *imap.QuotaData) error {
	types := make([]imap.QuotaResourceType, 0, len(data.Resources))
	for typ := range data.Resources {
		types = append(types, typ)
	}
	sort.Slice(types, func(i, j int) bool {
		ri, rj := quotaResourceRank(types[i]), quotaResourceRank(types[j])
		if ri != rj {
			return ri < rj
		}
		return types[i] < types[j]
	})

	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("QUOTA").SP().String(data.Root).SP()
	enc.List(len(types), func(i int) {
		res := data.Resources[types[i]]
		enc.Atom(string(types[i])).SP().Number64(res.Usage).SP().Number64(res.Limit)
	})
	return enc.CRLF()
}

// isResourceName reports whether s is an atom, as resource-name is.
func isResourceName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > unicode.MaxASCII || !imapwire.IsAtomChar(s[i]) {
			return false
		}
	}
	return s != ""
}

// quotaResourceRank orders the resource types RFC 9208 section 5 defines
// before any other.
func quotaResourceRank(typ imap.QuotaResourceType) int {
	switch typ {
	case imap.QuotaResourceStorage:
		return 0
	case imap.QuotaResourceMessage:
		return 1
	case imap.QuotaResourceMailbox:
		return 2
	case imap.QuotaResourceAnnotationStorage:
		return 3
	}
	return 4
}
