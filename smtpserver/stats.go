package smtpserver

import (
	stderrors "errors"
	"sync/atomic"

	"github.com/emersion/go-smtp"
)

// Stage is where in a transaction a result was given: a recipient (RCPT)
// or a message (the end of DATA).
type Stage int

// The stages Stats counts.
const (
	StageRcpt Stage = iota
	StageData
	NumStages
)

// Result is how a stage ended: accepted (2xx), refused (5xx), or
// deferred (4xx: the client tries again).
type Result int

// The results Stats counts.
const (
	Accepted Result = iota
	Refused
	TempFail
	NumResults
)

// Kind is a refusal's class, the subject of its RFC 3463 enhanced status
// code (X.1.X addressing, X.2.X mailbox, X.3.X mail system, X.4.X network,
// X.5.X protocol, X.6.X content, X.7.X policy); KindNone for accepted.
type Kind int

// NumKinds bounds Kind: 0 (none) and the seven RFC 3463 subjects.
const NumKinds Kind = 8

// Stats counts a server's results, by stage, result and kind. It is
// safe for concurrent use; its zero value is ready.
type Stats struct {
	n [NumStages][NumResults][NumKinds]atomic.Uint64
}

// Count returns how many results of stage, result and kind were given.
func (st *Stats) Count(stage Stage, result Result, kind Kind) uint64 {
	return st.n[stage][result][kind].Load()
}

// record counts the outcome err of stage: nil is accepted; an SMTP reply
// counts by its code; any other error (a broken connection) is not a
// result and is not counted.
func (st *Stats) record(stage Stage, err error) {
	if err == nil {
		st.n[stage][Accepted][0].Add(1)
		return
	}
	var e *smtp.SMTPError
	if !stderrors.As(err, &e) {
		return
	}
	r := Refused
	if e.Code/100 == 4 {
		r = TempFail
	}
	k := Kind(e.EnhancedCode[1])
	if k < 1 || k >= NumKinds {
		k = 0
	}
	st.n[stage][r][k].Add(1)
}

// StageName, ResultName and KindName are the metric labels of each.
func StageName(s Stage) string { return [...]string{"rcpt", "data"}[s] }

// ResultName: see StageName.
func ResultName(r Result) string { return [...]string{"accepted", "refused", "tempfail"}[r] }

// KindName: see StageName.
func KindName(k Kind) string {
	return [...]string{"none", "address", "mailbox", "system", "network", "protocol", "content", "policy"}[k]
}

// Stats returns the server's counts (kept whether or not anyone reads
// them: a few atomic additions per transaction).
func (s *Server) Stats() *Stats { return &s.stats }
