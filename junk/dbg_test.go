package junk

import (
	"bytes"
	"testing"
)

func crlfD(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

func TestDbgCRLF(t *testing.T) {
	all := loadCorpus(t)
	var k Key
	for _, mode := range []string{"lf", "crlf", "crlf+hdr"} {
		m := &Model{}
		conv := func(b []byte, test bool) []byte {
			switch mode {
			case "crlf":
				return crlfD(b)
			case "crlf+hdr":
				b = crlfD(b)
				if test {
					b = append([]byte("Authentication-Results: localhost; spf=pass smtp.mailfrom=example.org; dmarc=none\r\nReceived: from [127.0.0.1] by localhost with ESMTP id X; Mon, 7 Dec 2026 14:00:00 +0000\r\nX-Probe: probe-1\r\n"), b...)
				}
				return b
			}
			return b
		}
		for _, c := range all {
			if c.train {
				m.Train(k, conv(c.data, false), c.spam)
			}
		}
		var spam, caught int
		for _, c := range all {
			if !c.train && c.spam {
				spam++
				if m.Verdict(m.Score(k, conv(c.data, true))) >= Junk {
					caught++
				}
			}
		}
		t.Logf("%s: %d/%d", mode, caught, spam)
	}
}
