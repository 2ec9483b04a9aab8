package autoconfig

import (
	"bytes"
	"encoding/xml"
	"strconv"

	"github.com/sealpost/sealpost/errors"
)

// Thunderbird's autoconfig file, clientConfig version 1.1, as documented at
// https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat:
// one emailProvider (its id the domain) with the domain, names, then the
// incomingServer and outgoingServer elements in order of preference, each
// with hostname, port, socketType (SSL, STARTTLS or plain), username and
// authentication. The username is the placeholder %EMAILADDRESS%, which
// the client replaces with the address typed.

type tbConfig struct {
	XMLName  xml.Name   `xml:"clientConfig"`
	Version  string     `xml:"version,attr"`
	Provider tbProvider `xml:"emailProvider"`
}

type tbProvider struct {
	ID               string     `xml:"id,attr"`
	Domain           string     `xml:"domain"`
	DisplayName      string     `xml:"displayName"`
	DisplayShortName string     `xml:"displayShortName"`
	Incoming         []tbServer `xml:"incomingServer"`
	Outgoing         []tbServer `xml:"outgoingServer"`
}

type tbServer struct {
	Type           string `xml:"type,attr"`
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"`
	Username       string `xml:"username"`
	Authentication string `xml:"authentication"`
}

// socketType is Thunderbird's name for a security.
func (s Security) socketType() string {
	if s == TLS {
		return "SSL"
	}
	return "STARTTLS"
}

// Thunderbird returns the autoconfig file of s (config-v1.1.xml), served as
// text/xml. ManageSieve is not in it: the documented format has no type
// for it (clients find it by RFC 5804's _sieve._tcp SRV record).
func Thunderbird(s Services) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, errors.E("autoconfig.Thunderbird", err)
	}
	p := tbProvider{ID: s.Domain, Domain: s.Domain, DisplayName: s.Domain + " (Sealpost)", DisplayShortName: s.Domain}
	conv := func(typ string, v Server) tbServer {
		// password-cleartext: the password, over TLS only (every server
		// listed is TLS or STARTTLS, and ours refuse AUTH before it).
		return tbServer{Type: typ, Hostname: v.Host, Port: v.Port, SocketType: v.Security.socketType(),
			Username: "%EMAILADDRESS%", Authentication: "password-cleartext"}
	}
	for _, v := range s.IMAP {
		p.Incoming = append(p.Incoming, conv("imap", v))
	}
	for _, v := range s.Submission {
		p.Outgoing = append(p.Outgoing, conv("smtp", v))
	}
	return marshal(tbConfig{Version: "1.1", Provider: p})
}

// marshal writes v as an XML document (UTF-8, indented); encoding/xml
// escapes every value.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, errors.E("autoconfig.marshal", errors.Internal, err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// itoa is strconv.Itoa, for the documents' port numbers.
func itoa(n int) string { return strconv.Itoa(n) }
