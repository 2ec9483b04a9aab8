package junk

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"
)

// benchModel returns a model trained on the corpus' training split when
// the corpus is present, else on synthetic messages, and test messages of
// about 10 KiB.
func benchModel(b *testing.B, k Key) (*Model, [][]byte) { return benchModelHash(b, k, hashSipHash) }

// benchModelHash is benchModel for a model of the given token hash.
func benchModelHash(b *testing.B, k Key, kind tokenHash) (*Model, [][]byte) {
	var all []corpusMsg
	if corpusPresent() {
		all = loadCorpus(b)
	}
	if len(all) == 0 {
		b.Log("spam corpus absent: synthetic messages")
		m := &Model{hash: kind}
		for i := range 1000 {
			m.Train(k, hamMsg(i), false)
			m.Train(k, spamMsg(i), true)
		}
		return m, [][]byte{pad10K(spamMsg(1)), pad10K(hamMsg(2))}
	}
	m := trainSplitHash(all, k, kind)
	var msgs [][]byte
	for _, c := range all {
		if !c.Train && len(c.Data) >= 8<<10 && len(c.Data) <= 12<<10 {
			msgs = append(msgs, c.Data)
		}
	}
	return m, msgs
}

// pad10K grows a message's body to about 10 KiB of varied words.
func pad10K(msg []byte) []byte {
	var b bytes.Buffer
	b.Write(msg)
	for i := 0; b.Len() < 10<<10; i++ {
		fmt.Fprintf(&b, "word%d and some more text %d\r\n", i%300, i)
	}
	return b.Bytes()
}

// BenchmarkScore10KiB scores messages of 8-12 KiB from the corpus' test
// split (or synthetic ones) with a model trained on the training split,
// and reports the 99th percentile of one scoring (target: under 2 ms).
func BenchmarkScore10KiB(b *testing.B) { benchScore(b, hashSipHash) }

// BenchmarkScore10KiBHMAC is BenchmarkScore10KiB with a model of the
// HMAC-SHA256 token hash, as an account trained before SipHash has.
func BenchmarkScore10KiBHMAC(b *testing.B) { benchScore(b, hashHMAC) }

func benchScore(b *testing.B, kind tokenHash) {
	k := Key{1}
	m, msgs := benchModelHash(b, k, kind)
	durs := make([]time.Duration, 0, 2000)
	for i := range 2000 {
		t0 := time.Now()
		m.Score(k, msgs[i%len(msgs)])
		durs = append(durs, time.Since(t0))
	}
	slices.Sort(durs)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m.Score(k, msgs[i%len(msgs)])
	}
	b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(len(msgs)), "msgs")
}

// BenchmarkTrain1000 trains a new model on 1,000 messages of the corpus'
// training split (or synthetic ones) per op (target: under 5 s).
func BenchmarkTrain1000(b *testing.B) {
	k := Key{2}
	var msgs []corpusMsg
	if corpusPresent() {
		for _, c := range loadCorpus(b) {
			if c.Train {
				msgs = append(msgs, c)
			}
		}
	}
	for i := 0; len(msgs) < 1000; i++ {
		msgs = append(msgs, corpusMsg{Data: hamMsg(i)}, corpusMsg{Data: spamMsg(i), Spam: true})
	}
	// Both kinds: every fifth message from the (ham-first) list, wrapping.
	var set []corpusMsg
	for i := 0; len(set) < 1000; i++ {
		set = append(set, msgs[(i*5+i/len(msgs))%len(msgs)])
	}
	var bytesN int
	for _, c := range set {
		bytesN += len(c.Data)
	}
	b.SetBytes(int64(bytesN))
	for b.Loop() {
		m := &Model{}
		for _, c := range set {
			m.Train(k, c.Data, c.Spam)
		}
	}
}
