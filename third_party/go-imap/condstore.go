package imap

// Sealpost patch 10: the QRESYNC parameter of SELECT and EXAMINE (RFC 7162
// 3.2.5) and the response codes of CONDSTORE and QRESYNC.

// SelectQResync is the QRESYNC parameter of SELECT or EXAMINE (RFC 7162
// 3.2.5): what the client last knew of the mailbox.
type SelectQResync struct {
	UIDValidity uint32
	ModSeq      uint64 // the last HIGHESTMODSEQ the client saw
	// KnownUIDs, when not nil, are the UIDs the client knows of; the
	// server need not report changes to any other message.
	KnownUIDs UIDSet
	// SeqMatch, when not nil, pairs some sequence numbers of the client's
	// view with their UIDs, so that the server can tell which expunges
	// the client has already seen (RFC 7162 3.2.5.2).
	SeqMatch *QResyncSeqMatch
}

// QResyncSeqMatch is the optional sequence-match data of QRESYNC: the
// client's sequence numbers and the UIDs it holds for them, in the same
// order and number.
type QResyncSeqMatch struct {
	SeqNums SeqSet
	UIDs    UIDSet
}

// The response codes of RFC 7162.
const (
	ResponseCodeHighestModSeq ResponseCode = "HIGHESTMODSEQ" // 3.1.2.1
	ResponseCodeNoModSeq      ResponseCode = "NOMODSEQ"      // 3.1.2.2
	ResponseCodeModified      ResponseCode = "MODIFIED"      // 3.1.3
	ResponseCodeClosed        ResponseCode = "CLOSED"        // 3.2.11
)
