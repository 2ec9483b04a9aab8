package imap

// QuotaResourceType is a QUOTA resource type.
//
// See RFC 9208 section 5.
type QuotaResourceType string

const (
	QuotaResourceStorage           QuotaResourceType = "STORAGE"
	QuotaResourceMessage           QuotaResourceType = "MESSAGE"
	QuotaResourceMailbox           QuotaResourceType = "MAILBOX"
	QuotaResourceAnnotationStorage QuotaResourceType = "ANNOTATION-STORAGE"
)

// QuotaData is the data of a QUOTA response: a quota root's resources, by
// type (RFC 9208 section 4.2.1). The client's GETQUOTA and GETQUOTAROOT
// return it, and a server's SessionQuota answers with it.
//
// Sealpost patch 3: moved here from imapclient, which keeps the name as an
// alias, so that client and server share it.
type QuotaData struct {
	Root      string
	Resources map[QuotaResourceType]QuotaResourceData
}

// QuotaResourceData contains the usage and limit for a quota resource, in
// the resource's units (RFC 9208 section 5: STORAGE in units of 1024
// octets, MESSAGE and MAILBOX as counts).
type QuotaResourceData struct {
	Usage int64
	Limit int64
}
