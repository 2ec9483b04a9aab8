package imap

// Sealpost patch 31: SORT's wire types (RFC 5256, RFC 5957), moved here from
// imapclient so that the server shares them; imapclient keeps its names as
// aliases.

// SortKey is a sort criterion's key (RFC 5256 3, RFC 5957 3).
type SortKey string

const (
	SortKeyArrival     SortKey = "ARRIVAL"
	SortKeyCc          SortKey = "CC"
	SortKeyDate        SortKey = "DATE"
	SortKeyFrom        SortKey = "FROM"
	SortKeySize        SortKey = "SIZE"
	SortKeySubject     SortKey = "SUBJECT"
	SortKeyTo          SortKey = "TO"
	SortKeyDisplayFrom SortKey = "DISPLAYFROM" // RFC 5957
	SortKeyDisplayTo   SortKey = "DISPLAYTO"   // RFC 5957
)

// SortCriterion is one sort criterion: a key, optionally reversed.
type SortCriterion struct {
	Key     SortKey
	Reverse bool
}
