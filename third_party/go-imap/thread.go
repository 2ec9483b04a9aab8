package imap

// ThreadAlgorithm is a threading algorithm.
type ThreadAlgorithm string

const (
	ThreadOrderedSubject ThreadAlgorithm = "ORDEREDSUBJECT"
	ThreadReferences     ThreadAlgorithm = "REFERENCES"
)

// ThreadData is one thread of a THREAD response (RFC 5256 5, thread-list):
// Chain, the messages each of which is the only child of the one before,
// then SubThreads, none or at least two, the children of Chain's last
// message (of a dummy parent when Chain is empty).
//
// Sealpost patch 31: moved here from imapclient, which keeps the name as an
// alias, so that the server shares it.
type ThreadData struct {
	Chain      []uint32
	SubThreads []ThreadData
}
