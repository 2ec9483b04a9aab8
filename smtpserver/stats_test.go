package smtpserver

import (
	"io"
	"testing"

	"github.com/emersion/go-smtp"
)

// record counts a reply by its code: 2xx (nil) accepted, 4xx tempfail,
// 5xx refused, by the subject of its enhanced code; an error that is no
// reply (the connection broke) counts nothing.
func TestStatsRecord(t *testing.T) {
	var st Stats
	st.record(StageData, nil)
	st.record(StageRcpt, replyNoMailbox)   // 550 5.1.1
	st.record(StageData, replyTempFailure) // 451 4.3.0
	st.record(StageData, replyDenied)      // 550 5.7.1
	st.record(StageData, replyTooLarge)    // 552 5.3.4
	st.record(StageRcpt, &smtp.SMTPError{Code: 550, Message: "no enhanced code"})
	st.record(StageData, io.ErrUnexpectedEOF) // not a reply
	for _, c := range []struct {
		stage  Stage
		result Result
		kind   Kind
	}{
		{StageData, Accepted, 0}, {StageRcpt, Refused, 1}, {StageData, TempFail, 3},
		{StageData, Refused, 7}, {StageData, Refused, 3}, {StageRcpt, Refused, 0},
	} {
		if n := st.Count(c.stage, c.result, c.kind); n != 1 {
			t.Errorf("%s %s %s: %d, want 1", StageName(c.stage), ResultName(c.result), KindName(c.kind), n)
		}
	}
	var total uint64
	for s := range NumStages {
		for r := range NumResults {
			for k := range NumKinds {
				total += st.Count(s, r, k)
			}
		}
	}
	if total != 6 {
		t.Errorf("%d results counted, want 6", total)
	}
}
