package imapserver

import (
	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"
)

var _ goimap.SessionID = (*session)(nil)

// ID answers RFC 2971's ID, in any state. The server names itself and
// nothing more: a version, operating system or build date would only tell
// an attacker which vulnerabilities to try (RFC 2971 5 leaves every field
// optional). The client's name and version are logged at debug level,
// bounded; the fork has refused more than RFC 2971 3.3's 30 fields, 30-octet
// names and 1024-octet values.
func (s *session) ID(client *imap.IDData) *imap.IDData {
	if client != nil {
		s.log.Debug("client id", "name", logName(client.Name), "version", logName(client.Version))
	}
	return &imap.IDData{Name: "Sealpost"}
}
