// Package junk is each account's Bayesian spam classifier, trained by the
// account's own filing (a message moved to Junk is spam, one moved out of
// it ham). Its Model holds only opaque token hashes and counts: every token
// of a message (see Tokenize) is hashed to 64 bits by a keyed
// pseudorandom function under the account's Key (SipHash-2-4 under a
// 128-bit key derived from Key; a model trained before SipHash keeps
// HMAC-SHA256, see Key), and the Model keeps, per hash, how many ham and
// spam messages held it. Whoever can read a Model (or its MarshalBinary
// form) without the Key learns those counts of random-looking numbers, and
// nothing of the words.
//
// Scoring follows Gary Robinson's method as SpamBayes uses it: each token's
// spam probability from its counts, shrunk toward 0.5 when the token is
// rare, and the most telling tokens' probabilities combined with Fisher's
// chi-square method into one spam probability (0 ham, 1 spam, 0.5 unsure).
// Verdict turns that into Ham, Junk or Reject by thresholds, and gives
// Unsure until the account has trained enough of both.
package junk

import (
	"math"
	"slices"
	"sync"
	"time"
)

// hashTokens tokenizes and hashes msg under k with kind, with a
// tokenizer from the model's pool: its hs are the hashes of msg's distinct
// tokens, in the order Tokenize gives the tokens. Give it back with
// putTokenizer once they are no longer used.
func (m *Model) hashTokens(k Key, kind tokenHash, msg []byte) *tokenizer {
	t, _ := m.pool.Get().(*tokenizer)
	if t == nil {
		t = newHashTokenizer()
	}
	t.start(k, kind)
	t.message(msg)
	return t
}

// lockHashed hashes msg's tokens under k with the model's token hash and
// returns with m.mu held (for writing if write, else for reading): the
// hashes are those of the counts the lock guards, even if UnmarshalBinary
// changed the model's hash meanwhile (then it hashes again). The caller
// unlocks, and gives the tokenizer back with putTokenizer.
func (m *Model) lockHashed(k Key, msg []byte, write bool) *tokenizer {
	for {
		m.mu.RLock()
		kind := m.hash
		m.mu.RUnlock()
		t := m.hashTokens(k, kind, msg)
		if write {
			m.mu.Lock()
		} else {
			m.mu.RLock()
		}
		if m.hash == kind {
			return t
		}
		if write {
			m.mu.Unlock()
		} else {
			m.mu.RUnlock()
		}
		m.putTokenizer(t)
	}
}

// putTokenizer returns t to the pool without the keyed hasher and with
// its buffers of message text wiped: a pooled tokenizer holds neither.
func (m *Model) putTokenizer(t *tokenizer) {
	t.h = nil
	t.hv = hasher{}
	clear(t.prev[:cap(t.prev)])
	clear(t.w[:cap(t.w)])
	clear(t.tok[:cap(t.tok)])
	t.ids.clear()
	t.shorts.clear()
	t.pairs.clear()
	t.newText()
	clear(t.kbuf[:])
	if cap(t.clues) > maxReusedClues {
		t.clues = nil
	}
	clear(t.clues[:cap(t.clues)])
	if cap(t.body) > maxReusedBody {
		t.body = nil
	}
	clear(t.body[:cap(t.body)])
	m.pool.Put(t)
}

// counts are how many ham and spam messages held a token.
type counts struct{ ham, spam uint32 }

// DefaultCap is how many tokens a Model keeps at most by default: past it,
// Train prunes the rarest (see Model.Cap).
const DefaultCap = 200_000

// Model is one account's classifier: message counts and, per token hash,
// ham and spam counts. The zero Model is empty and ready. A Model is safe
// for concurrent use; the exported fields must be set before first use.
type Model struct {
	// Cap bounds the number of tokens kept; 0 means DefaultCap. When
	// training passes it, the rarest tokens (fewest messages; ties by
	// hash) are dropped until a tenth of Cap is free.
	Cap int
	// Policy holds the verdict thresholds; the zero Policy means
	// DefaultPolicy().
	Policy Policy

	mu      sync.RWMutex
	hash    tokenHash // how tokens is keyed: SipHash unless decoded from format 1
	ham     int
	spam    int
	trained time.Time
	tokens  table

	pool sync.Pool // of *tokenizer (hashing), reused by Train, Untrain and Score
}

// Stats describes a Model.
type Stats struct {
	Ham, Spam int       // messages trained (less those untrained)
	Tokens    int       // distinct token hashes held
	Trained   time.Time // the last Train or Untrain (zero if never)
}

// Stats returns the model's counts.
func (m *Model) Stats() Stats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Stats{Ham: m.ham, Spam: m.spam, Tokens: m.tokens.len(), Trained: m.trained}
}

// Train records msg as spam (or ham): each distinct token counts once.
func (m *Model) Train(k Key, msg []byte, spam bool) {
	t := m.lockHashed(k, msg, true)
	defer m.putTokenizer(t)
	defer m.mu.Unlock()
	hs := t.hs
	m.tokens.reserve(m.tokens.len() + len(hs))
	t.touched = m.tokens.touch(hs)
	for _, h := range hs {
		c, _ := m.tokens.upsert(h)
		if spam {
			c.spam = satInc(c.spam)
		} else {
			c.ham = satInc(c.ham)
		}
	}
	if spam {
		m.spam++
	} else {
		m.ham++
	}
	m.trained = time.Now().UTC()
	if limit := m.limit(); m.tokens.len() > limit {
		m.prune(limit - limit/10)
	}
}

func satInc(n uint32) uint32 {
	if n == math.MaxUint32 {
		return n
	}
	return n + 1
}

// Untrain takes back an earlier Train(k, msg, spam): for a message trained
// as spam and then moved out of Junk (train it as ham after). Counts never
// go below zero, so untraining a message never trained (or one whose
// tokens were pruned since) does no harm beyond the message counts.
func (m *Model) Untrain(k Key, msg []byte, spam bool) {
	t := m.lockHashed(k, msg, true)
	defer m.putTokenizer(t)
	defer m.mu.Unlock()
	hs := t.hs
	for _, h := range hs {
		c := m.tokens.find(h)
		if c == nil {
			continue
		}
		if spam && c.spam > 0 {
			c.spam--
		} else if !spam && c.ham > 0 {
			c.ham--
		}
		if *c == (counts{}) {
			m.tokens.del(h)
		}
	}
	if spam && m.spam > 0 {
		m.spam--
	} else if !spam && m.ham > 0 {
		m.ham--
	}
	m.trained = time.Now().UTC()
}

func (m *Model) limit() int {
	if m.Cap > 0 {
		return m.Cap
	}
	return DefaultCap
}

// prune drops the rarest tokens until keep remain: those held by the
// fewest messages, and among equally rare ones the lowest hashes (an
// arbitrary but deterministic order). It runs in linear time: a histogram
// of the totals finds the cut, and the survivors go to a new table sized
// for them.
func (m *Model) prune(keep int) {
	drop := m.tokens.len() - keep
	if drop <= 0 {
		return
	}
	const maxBucket = 64
	total := func(c counts) int { return int(min(uint64(c.ham)+uint64(c.spam), maxBucket)) }
	var hist [maxBucket + 1]int
	for _, c := range m.tokens.all {
		hist[total(c)]++
	}
	// Every token with a total below cut goes; of those at cut, the
	// lowest-hashed `rest` go.
	cut, rest := 0, drop
	for cut <= maxBucket && rest >= hist[cut] {
		rest -= hist[cut]
		cut++
	}
	var atCut []uint64
	if rest > 0 {
		for h, c := range m.tokens.all {
			if total(c) == cut {
				atCut = append(atCut, h)
			}
		}
		slices.Sort(atCut)
	}
	kept := newTable(keep)
	for h, c := range m.tokens.all {
		tot := total(c)
		if tot < cut || (tot == cut && rest > 0 && h <= atCut[rest-1]) {
			continue
		}
		p, _ := kept.upsert(h)
		*p = c
	}
	m.tokens = kept
}

// Robinson's and Fisher's parameters: SpamBayes' defaults but for maxClues.
const (
	unknownStrength = 0.45 // s: how strongly a rare token leans to x
	unknownProb     = 0.5  // x: the probability of a token never seen
	minStrength     = 0.1  // tokens within this of 0.5 are ignored
	maxClues        = 1000 // the most telling tokens combined (SpamBayes: 150; more did better in TestCorpusTune)
)

// Score returns the probability that msg is spam, from 0 (ham) to 1
// (spam); 0.5 when the model knows too little to tell.
func (m *Model) Score(k Key, msg []byte) float64 {
	t := m.lockHashed(k, msg, false)
	defer m.putTokenizer(t)
	hs := t.hs
	t.touched = m.tokens.touch(hs)
	nham, nspam := float64(max(m.ham, 1)), float64(max(m.spam, 1))
	clues := t.clues[:0] // the tokenizer's, so that it is reused
	for _, h := range hs {
		c, ok := m.tokens.get(h)
		if !ok {
			continue
		}
		// Robinson: the token's spam ratio among both ratios, shrunk
		// toward x when the token has been seen in few messages.
		hr, sr := float64(c.ham)/nham, float64(c.spam)/nspam
		if hr+sr == 0 {
			continue
		}
		p := sr / (hr + sr)
		n := float64(c.ham) + float64(c.spam)
		f := (unknownStrength*unknownProb + n*p) / (unknownStrength + n)
		if math.Abs(f-0.5) >= minStrength {
			clues = append(clues, f)
		}
	}
	m.mu.RUnlock()
	t.clues = clues
	return combine(clues)
}

// combine joins token probabilities by Fisher's method (SpamBayes'
// chi-square combining): S is how unlikely the tokens' spamminess is if
// they were random, H the same for their hamminess, and the result
// (1 + S - H) / 2. The maxClues farthest from 0.5 are used.
func combine(clues []float64) float64 {
	if len(clues) == 0 {
		return 0.5
	}
	if len(clues) > maxClues {
		slices.SortFunc(clues, func(a, b float64) int {
			da, db := math.Abs(a-0.5), math.Abs(b-0.5)
			switch {
			case da > db:
				return -1
			case da < db:
				return 1
			}
			return 0
		})
		clues = clues[:maxClues]
	}
	lnH, lnS := clueLogs(clues)
	n := len(clues)
	s := chi2P(-2*lnS, 2*n)
	h := chi2P(-2*lnH, 2*n)
	return (1 + s - h) / 2
}

// clueLogs returns the sums of math.Log(f) and math.Log1p(-f) over the
// clues, in their order. Clues repeat (a probability depends only on a
// token's two counts, and most tokens are rare), so each value's two logs
// are kept in a small cache by the value's bits: the same calls on the
// same bits give the same results, and the sums are added in the same
// order, so both are bit for bit the plain loop's (FuzzClueLogs).
func clueLogs(clues []float64) (lnH, lnS float64) {
	if len(clues) < clueCache/2 { // too few to pay for clearing the cache
		for _, f := range clues {
			lnH += math.Log(f)
			lnS += math.Log1p(-f)
		}
		return lnH, lnS
	}
	var cache [clueCache]struct {
		bits    uint64 // 0: empty (no clue is 0: f > 0)
		lnf, ln float64
	}
	for _, f := range clues {
		b := math.Float64bits(f)
		c := &cache[(b*0x9e3779b97f4a7c15)>>(64-clueCacheBits)]
		if c.bits != b || b == 0 {
			c.bits, c.lnf, c.ln = b, math.Log(f), math.Log1p(-f)
		}
		lnH += c.lnf
		lnS += c.ln
	}
	return lnH, lnS
}

const (
	clueCacheBits = 8
	clueCache     = 1 << clueCacheBits
)

// chi2P is 1 - chi2Q(x2, v), bit for bit (FuzzChi2Q, TestChi2QSweep),
// without summing chi2Q's series when it is provably below 2^-54, for then
// 1 - it rounds to exactly 1. That is one of the two sums in most
// messages, whose words lean clearly one way: the other side's m is
// larger than v/2, all of the series' v/2 terms grow, and each costs an
// Exp and a Log1p.
func chi2P(x2 float64, v int) float64 {
	if m := x2 / 2; m > 0 && v >= 2 && chi2LnBound(m, v/2) < -40 {
		// chi2Q's log-space sum is within far less than 1 of the exact
		// one, so chi2Q < e^-39 < 2^-54.
		return 1
	}
	return 1 - chi2Q(x2, v)
}

// chi2LnBound is an upper bound on ln Σ_{i<k} e^-m m^i/i! (k >= 1, m > 0):
// ln k plus the largest term's log, the terms growing while i <= m.
func chi2LnBound(m float64, k int) float64 {
	top := float64(k - 1)
	if m < top {
		top = math.Floor(m)
	}
	lg, _ := math.Lgamma(top + 1)
	return -m + top*math.Log(m) - lg + math.Log(float64(k))
}

// chi2Q is the probability that a chi-square variable with v (even)
// degrees of freedom is at least x2: e^-m Σ_{i<v/2} m^i/i! with m = x2/2,
// summed in log space, since e^-m underflows for the x2 that many strong
// tokens give.
//
// It is the sum term by term, with two shortcuts that leave every bit of
// the result as it was (FuzzChi2Q holds it to the plain sum): ln i comes
// from a table, and the sum stops once the terms only shrink (i > m) and
// the term is below the sum by more than chi2Negligible's bound, from
// where logAdd adds exactly 0.
func chi2Q(x2 float64, v int) float64 {
	m := x2 / 2
	if m <= 0 {
		return 1
	}
	lnm := math.Log(m)
	lnTerm := -m // ln(m^0/0! e^-m)
	lnSum := lnTerm
	for i := 1; i < v/2; i++ {
		lni := lnInt[min(i, len(lnInt)-1)]
		if i >= len(lnInt) {
			lni = math.Log(float64(i))
		}
		lnTerm += lnm - lni
		if float64(i) > m && lnTerm-lnSum < chi2Negligible(lnSum) {
			break
		}
		lnSum = logAdd(lnSum, lnTerm)
	}
	return min(math.Exp(lnSum), 1)
}

// chi2Negligible returns how far below lnSum a term's log must be, once
// the terms only shrink, for logAdd(lnSum, term) to be exactly lnSum: then
// every later term adds exactly nothing too, and chi2Q's sum can stop.
// That is so below expUnderflow (Exp gives 0, Log1p(0) is 0), and below
// (e-57) ln 2 where lnSum is f 2^e (f in [0.5, 1)): there x = Log1p(Exp(d))
// is at most Exp(d) <= e^d (1 + 2^-51) < |lnSum| 2^-55 (Exp is within an
// ulp, and the margin of ln 2 covers it; Log1p(y) <= y), less than half
// the gap from lnSum to its neighbour toward 0 (at least |lnSum| 2^-54,
// 2^-53 of its binade's top, a power of two's gap below it being half),
// so lnSum + x rounds to lnSum. For a sum near 1 (lnSum near 0, the side
// combine still sums) that cuts the tail at about -42 instead of -746.
func chi2Negligible(lnSum float64) float64 {
	if lnSum == 0 || math.IsInf(lnSum, 0) || math.IsNaN(lnSum) {
		return expUnderflow
	}
	_, e := math.Frexp(lnSum)
	return max(float64(e-57)*math.Ln2, expUnderflow)
}

// expUnderflow is below the x for which math.Exp(x) is 0 (its
// Underflow, -745.133...): where ln(e^a + e^b) = a + Log1p(Exp(b-a)) is
// exactly a.
const expUnderflow = -746

// lnInt[i] is math.Log(float64(i)), for chi2Q's terms; it is never
// written after it is built.
var lnInt = func() (a [maxClues + 1]float64) {
	for i := range a {
		a[i] = math.Log(float64(i))
	}
	return a
}()

// logAdd returns ln(e^a + e^b).
func logAdd(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	return a + math.Log1p(math.Exp(b-a))
}
