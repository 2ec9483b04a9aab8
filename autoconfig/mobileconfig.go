package autoconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"strings"

	"github.com/sealpost/sealpost/errors"
)

// An Apple configuration profile (a .mobileconfig file: an XML property
// list, Apple's "Configuration Profile Reference") holding one
// com.apple.mail.managed payload: the account's IMAP and SMTP servers,
// its address and name, and no password (the device asks for it). The
// profile is unsigned; the owner downloads it from their own signed-in
// page. Its PayloadUUIDs derive from the address, so that installing it
// again replaces the earlier profile instead of adding a second account.

// MobileConfigType is the media type of a profile.
const MobileConfigType = "application/x-apple-aspen-config"

// MobileConfig returns the profile of addr (in s's domain) for s, naming
// the account name (for people; the address when empty). The first IMAP
// and submission servers are used (implicit TLS, when served).
func MobileConfig(s Services, addr, name string) ([]byte, error) {
	const op = "autoconfig.MobileConfig"
	if err := s.Validate(); err != nil {
		return nil, errors.E(op, err)
	}
	local, domain, err := Address(addr)
	if err != nil || domain != s.Domain {
		return nil, errors.E(op, errors.Invalid, errors.Str("the address is not in the domain"))
	}
	addr = local + "@" + domain
	if name == "" {
		name = addr
	}
	in, out := s.IMAP[0], s.Submission[0]
	// Reverse-DNS identifiers (PayloadIdentifier) of the profile and its
	// payload: unique per account, stable.
	idd := digest("id", addr)
	id := "org.sealpost.mail." + reverse(domain) + "." + hex.EncodeToString(idd[:8])
	mail := []kv{
		{"EmailAccountDescription", str(addr)},
		{"EmailAccountName", str(name)},
		{"EmailAccountType", str("EmailTypeIMAP")},
		{"EmailAddress", str(addr)},
		{"IncomingMailServerAuthentication", str("EmailAuthPassword")},
		{"IncomingMailServerHostName", str(in.Host)},
		{"IncomingMailServerPortNumber", integer(in.Port)},
		{"IncomingMailServerUseSSL", boolean(true)}, // implicit TLS or STARTTLS: never plain
		{"IncomingMailServerUsername", str(addr)},
		{"OutgoingMailServerAuthentication", str("EmailAuthPassword")},
		{"OutgoingMailServerHostName", str(out.Host)},
		{"OutgoingMailServerPortNumber", integer(out.Port)},
		{"OutgoingMailServerUseSSL", boolean(true)},
		{"OutgoingMailServerUsername", str(addr)},
		{"OutgoingPasswordSameAsIncomingPassword", boolean(true)},
		{"PayloadDescription", str("Mail settings for " + addr)},
		{"PayloadDisplayName", str(addr)},
		{"PayloadIdentifier", str(id + ".mail")},
		{"PayloadType", str("com.apple.mail.managed")},
		{"PayloadUUID", str(UUID("mail", addr))},
		{"PayloadVersion", integer(1)},
	}
	profile := []kv{
		{"PayloadContent", "<array>\n" + dict(mail, "\t\t") + "\t</array>"},
		{"PayloadDescription", str("Sets up " + addr + " in Mail. Your password is asked for on the device; it is not in this profile.")},
		{"PayloadDisplayName", str("Mail: " + addr)},
		{"PayloadIdentifier", str(id)},
		{"PayloadOrganization", str(domain)},
		{"PayloadRemovalDisallowed", boolean(false)},
		{"PayloadType", str("Configuration")},
		{"PayloadUUID", str(UUID("profile", addr))},
		{"PayloadVersion", integer(1)},
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(`<plist version="1.0">` + "\n")
	b.WriteString(dict(profile, ""))
	b.WriteString("</plist>\n")
	return b.Bytes(), nil
}

// kv is a plist dictionary entry: a key and its value, already in plist
// XML.
type kv struct{ key, value string }

// dict writes entries as a plist dict, indented by indent.
func dict(entries []kv, indent string) string {
	var b strings.Builder
	b.WriteString(indent + "<dict>\n")
	for _, e := range entries {
		b.WriteString(indent + "\t<key>" + escape(e.key) + "</key>\n")
		b.WriteString(indent + "\t" + e.value + "\n")
	}
	b.WriteString(indent + "</dict>\n")
	return b.String()
}

func str(s string) string  { return "<string>" + escape(s) + "</string>" }
func integer(n int) string { return "<integer>" + itoa(n) + "</integer>" }
func boolean(v bool) string {
	if v {
		return "<true/>"
	}
	return "<false/>"
}

// escape escapes s for XML character data.
func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// reverse turns a domain into reverse-DNS order (example.org → org.example).
func reverse(domain string) string {
	labels := strings.Split(domain, ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	return strings.Join(labels, ".")
}

func digest(kind, addr string) [32]byte {
	return sha256.Sum256([]byte("sealpost mobileconfig " + kind + "\x00" + addr))
}

// UUID is the stable PayloadUUID of kind ("profile", "mail") for addr: a
// version 8 UUID (RFC 9562 5.8) from SHA-256 of both, upper-case as Apple
// writes them.
func UUID(kind, addr string) string {
	d := digest(kind, addr)
	u := d[:16]
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // variant 10
	h := strings.ToUpper(hex.EncodeToString(u))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
