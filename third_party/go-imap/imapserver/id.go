package imapserver

// Sealpost patch 30: the server side of ID (RFC 2971), dispatched to a
// session that implements SessionID, in any state.

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// RFC 2971 3.3: at most 30 field-value pairs, a field at most 30 octets, a
// value at most 1024. A client that sends more gets BAD, so a session holds
// at most about 31 KiB of what a client says about itself.
const (
	maxIDPairs    = 30
	maxIDFieldLen = 30
	maxIDValueLen = 1024
)

// SessionID is an IMAP session which answers ID (RFC 2971).
type SessionID interface {
	Session

	// ID receives the client's identification (nil for "ID NIL"; fields
	// it does not name are dropped) and returns the server's, or nil for
	// "* ID NIL". It is called in any state, before login too.
	ID(client *imap.IDData) *imap.IDData
}

// handleID: "ID" SP id-params-list, where id-params-list is
// "(" *(string SP nstring) ")" / nil (RFC 2971 4).
func (c *Conn) handleID(dec *imapwire.Decoder) error {
	if !dec.ExpectSP() {
		return dec.Err()
	}
	client, err := readIDParams(dec)
	if err != nil {
		return err
	}
	if !dec.ExpectCRLF() {
		return dec.Err()
	}
	session, ok := c.session.(SessionID)
	if !ok {
		return newClientBugError("ID is not supported")
	}
	return c.writeID(session.ID(client))
}

// readIDParams reads the client's id-params-list; nil for NIL.
func readIDParams(dec *imapwire.Decoder) (*imap.IDData, error) {
	var atom string
	if dec.Atom(&atom) {
		if !strings.EqualFold(atom, "NIL") {
			return nil, newClientBugError("ID expects NIL or a list")
		}
		return nil, nil
	}
	data := &imap.IDData{}
	pairs := 0
	err := dec.ExpectList(func() error {
		var field, value string
		if !dec.ExpectString(&field) || !dec.ExpectSP() || !dec.ExpectNString(&value) {
			return dec.Err()
		}
		pairs++
		switch {
		case pairs > maxIDPairs:
			return newClientBugError("ID: more than 30 field-value pairs (RFC 2971 3.3)")
		case len(field) > maxIDFieldLen:
			return newClientBugError("ID: field longer than 30 octets (RFC 2971 3.3)")
		case len(value) > maxIDValueLen:
			return newClientBugError("ID: value longer than 1024 octets (RFC 2971 3.3)")
		}
		if p := idField(data, field); p != nil && *p == "" {
			*p = value // a repeated field keeps its first value
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// idField returns where data keeps the field named name (RFC 2971 3.3's
// list, case-insensitive), or nil for a field it does not keep.
func idField(data *imap.IDData, name string) *string {
	switch strings.ToLower(name) {
	case "name":
		return &data.Name
	case "version":
		return &data.Version
	case "os":
		return &data.OS
	case "os-version":
		return &data.OSVersion
	case "vendor":
		return &data.Vendor
	case "support-url":
		return &data.SupportURL
	case "address":
		return &data.Address
	case "date":
		return &data.Date
	case "command":
		return &data.Command
	case "arguments":
		return &data.Arguments
	case "environment":
		return &data.Environment
	}
	return nil
}

// writeID writes "* ID" with the server's fields, in RFC 2971 3.3's order.
func (c *Conn) writeID(data *imap.IDData) error {
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("ID").SP()
	if data == nil {
		enc.NIL()
		return enc.CRLF()
	}
	fields := []struct{ name, value string }{
		{"name", data.Name}, {"version", data.Version}, {"os", data.OS},
		{"os-version", data.OSVersion}, {"vendor", data.Vendor},
		{"support-url", data.SupportURL}, {"address", data.Address},
		{"date", data.Date}, {"command", data.Command},
		{"arguments", data.Arguments}, {"environment", data.Environment},
	}
	enc.Special('(')
	first := true
	for _, f := range fields {
		if f.value == "" {
			continue
		}
		if !first {
			enc.SP()
		}
		first = false
		enc.Quoted(f.name).SP().String(f.value)
	}
	enc.Special(')')
	return enc.CRLF()
}
