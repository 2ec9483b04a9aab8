package imap

import "time"

// SearchCriteriaSaveDate is the SAVEDATE extension's search keys (RFC 8514
// 4): only the date is used, the time and timezone are ignored, as for
// SINCE and BEFORE.
//
// Sealpost patch 36.
type SearchCriteriaSaveDate struct {
	Since     time.Time // SAVEDSINCE, and SAVEDON's start
	Before    time.Time // SAVEDBEFORE, and the day after SAVEDON
	Supported bool      // SAVEDATESUPPORTED
}
