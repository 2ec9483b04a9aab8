package autoconfig

import (
	"encoding/xml"
	"io"
	"strings"

	"github.com/sealpost/sealpost/errors"
)

// Microsoft's autodiscover, in its plain-old-XML form ([MS-OXDSCLI] 2.2):
// the client POSTs to /autodiscover/autodiscover.xml an Autodiscover
// request naming the address (EMailAddress) and the schema it accepts
// (AcceptableResponseSchema); the answer in the Outlook response schema
// lists the IMAP and SMTP servers (Protocol elements), in order of
// preference. Sealpost speaks no Exchange ActiveSync: a request for the
// mobilesync schema gets an Error.

// The namespaces of [MS-OXDSCLI] 2.2.
const (
	RequestNS       = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
	ResponseNS      = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	OutlookSchema   = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
	MobileSyncNS    = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
	mobileSyncReqNS = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
)

// MaxRequest bounds an autodiscover request body: a real one is a few
// hundred bytes.
const MaxRequest = 4 << 10

// maxDepth bounds the nesting of elements in a request (a real one has 3).
const maxDepth = 8

// Request is what an autodiscover request asks.
type Request struct {
	// Address is the EMailAddress, checked by Address (its domain
	// lower-cased).
	Address string
	// Schema is the AcceptableResponseSchema; "" when the client named
	// none (the Outlook schema is meant).
	Schema string
}

// ParseRequest reads an autodiscover request from r: at most MaxRequest
// bytes (more is TooLarge), an Autodiscover element in the request
// namespace (Outlook's or mobilesync's) holding one Request with one
// EMailAddress that Address accepts. Anything else is Invalid. Neither
// DTDs nor entities beyond XML's five are expanded (encoding/xml expands
// none).
func ParseRequest(r io.Reader) (Request, error) {
	const op = "autoconfig.ParseRequest"
	body, err := io.ReadAll(io.LimitReader(r, MaxRequest+1))
	if err != nil {
		return Request{}, errors.E(op, errors.Invalid, err)
	}
	if len(body) > MaxRequest {
		return Request{}, errors.E(op, errors.TooLarge, errors.Errorf("request over %d bytes", MaxRequest))
	}
	dec := xml.NewDecoder(strings.NewReader(string(body)))
	dec.Strict = true
	var req Request
	var path []string // local names of the open elements
	var text strings.Builder
	seen := map[string]bool{}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Request{}, errors.E(op, errors.Invalid, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(path) == 0 {
				if t.Name.Local != "Autodiscover" || (t.Name.Space != RequestNS && t.Name.Space != mobileSyncReqNS) {
					return Request{}, errors.E(op, errors.Invalid, errors.Errorf("root element {%s}%s", t.Name.Space, t.Name.Local))
				}
				if seen["root"] {
					return Request{}, errors.E(op, errors.Invalid, errors.Str("two root elements"))
				}
				seen["root"] = true
			}
			path = append(path, t.Name.Local)
			if len(path) > maxDepth {
				return Request{}, errors.E(op, errors.Invalid, errors.Str("elements nested too deep"))
			}
			text.Reset()
		case xml.CharData:
			if text.Len()+len(t) <= MaxRequest {
				text.Write(t)
			}
		case xml.EndElement:
			if where := strings.Join(path, "/"); where == "Autodiscover/Request/EMailAddress" || where == "Autodiscover/Request/AcceptableResponseSchema" {
				if seen[where] {
					return Request{}, errors.E(op, errors.Invalid, errors.Errorf("%s twice", t.Name.Local))
				}
				seen[where] = true
				v := strings.TrimSpace(text.String())
				if t.Name.Local == "EMailAddress" {
					req.Address = v
				} else {
					req.Schema = v
				}
			}
			path = path[:len(path)-1]
		case xml.Directive:
			return Request{}, errors.E(op, errors.Invalid, errors.Str("a DTD or directive"))
		}
	}
	if !seen["root"] {
		return Request{}, errors.E(op, errors.Invalid, errors.Str("no Autodiscover element"))
	}
	local, domain, err := Address(req.Address)
	if err != nil {
		return Request{}, errors.E(op, errors.Invalid, errors.Str("no valid EMailAddress"))
	}
	req.Address = local + "@" + domain
	return req, nil
}

type adResponse struct {
	XMLName  xml.Name `xml:"Autodiscover"`
	NS       string   `xml:"xmlns,attr"`
	Response adInner  `xml:"Response"`
}

type adInner struct {
	NS      string     `xml:"xmlns,attr"`
	User    *adUser    `xml:"User,omitempty"`
	Account *adAccount `xml:"Account,omitempty"`
	Error   *adError   `xml:"Error,omitempty"`
}

type adUser struct {
	DisplayName string `xml:"DisplayName"`
}

type adAccount struct {
	AccountType string       `xml:"AccountType"`
	Action      string       `xml:"Action"`
	Protocols   []adProtocol `xml:"Protocol"`
}

type adProtocol struct {
	Type         string `xml:"Type"`
	Server       string `xml:"Server"`
	Port         string `xml:"Port"`
	LoginName    string `xml:"LoginName"`
	DomainReq    string `xml:"DomainRequired"`
	SPA          string `xml:"SPA"`
	SSL          string `xml:"SSL"`
	Encryption   string `xml:"Encryption"`
	AuthRequired string `xml:"AuthRequired"`
}

type adError struct {
	Code    string `xml:"ErrorCode"`
	Message string `xml:"Message"`
}

// Autodiscover answers req for s in the schema it accepts: the Outlook
// schema with one Protocol per server (Encryption SSL for implicit TLS,
// TLS for STARTTLS; the address as LoginName), or an Error (code 601,
// provider not available) for any other schema. req comes from
// ParseRequest; its address must be in s's domain.
func Autodiscover(s Services, req Request) ([]byte, error) {
	const op = "autoconfig.Autodiscover"
	if err := s.Validate(); err != nil {
		return nil, errors.E(op, err)
	}
	_, domain, err := Address(req.Address)
	if err != nil || domain != s.Domain {
		return nil, errors.E(op, errors.Invalid, errors.Str("the address is not in the domain"))
	}
	resp := adResponse{NS: ResponseNS, Response: adInner{NS: OutlookSchema}}
	if req.Schema != "" && req.Schema != OutlookSchema {
		resp.Response.Error = &adError{Code: "601", Message: "Provider is not available: this server speaks IMAP and SMTP, not Exchange ActiveSync."}
		return marshal(resp)
	}
	acct := &adAccount{AccountType: "email", Action: "settings"}
	proto := func(typ string, v Server) adProtocol {
		enc := "SSL"
		if v.Security == STARTTLS {
			enc = "TLS"
		}
		return adProtocol{Type: typ, Server: v.Host, Port: itoa(v.Port), LoginName: req.Address, DomainReq: "off",
			SPA: "off", SSL: "on", Encryption: enc, AuthRequired: "on"}
	}
	for _, v := range s.IMAP {
		acct.Protocols = append(acct.Protocols, proto("IMAP", v))
	}
	for _, v := range s.Submission {
		acct.Protocols = append(acct.Protocols, proto("SMTP", v))
	}
	resp.Response.User = &adUser{DisplayName: req.Address}
	resp.Response.Account = acct
	return marshal(resp)
}
