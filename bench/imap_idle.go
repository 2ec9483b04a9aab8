package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/sealpost/sealpost/errors"
)

// runIdle opens o.IdleConns connections, o.Concurrency at a time; each logs
// in, SELECTs o.Mailbox and enters IDLE (RFC 9051 6.3.13, RFC 2177). It holds
// them for o.Hold (or until the run's context ends), then ends IDLE and logs
// out. Ops counts the connections that reached IDLE, Held those still open
// at the end of the hold; each latency is one connection's setup and the
// elapsed time is that of the whole ramp-up.
//
// The server's memory is the caller's to measure while the connections are
// held; with o.PID the VmRSS of that process is read from /proc before the
// first connection and at the end of the hold.
func runIdle(ctx context.Context, o *IMAPOptions) (*Result, error) {
	res := &Result{Phase: phaseIdle, Unit: "connections", LatencyOf: "connect, LOGIN, SELECT and IDLE"}
	if o.PID > 0 {
		rss, err := ReadRSS(o.PID)
		if err != nil {
			return nil, err
		}
		res.RSSBeforeKB = rss
	}

	var mu sync.Mutex
	idles := make(map[*imapConn]*imapclient.IdleCommand, o.IdleConns)
	start := time.Now()
	conns, rec := openAll(ctx, o, o.IdleConns, o.Concurrency, o.Mailbox, false, func(ic *imapConn) error {
		cmd, err := ic.c.Idle()
		if err != nil {
			return err
		}
		mu.Lock()
		idles[ic] = cmd
		mu.Unlock()
		return nil
	})
	res.Elapsed = time.Since(start)
	res.merge([]*recorder{rec})

	holdStart := time.Now()
	timer := time.NewTimer(o.Hold)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
	}
	res.Hold = time.Since(holdStart)
	res.TimedOut = ctx.Err() != nil
	for _, ic := range conns {
		if !ic.closed() {
			res.Held++
		}
	}
	if o.PID > 0 {
		rss, err := ReadRSS(o.PID)
		if err != nil && res.FirstErr == "" {
			res.FirstErr = err.Error()
		}
		res.RSSAfterKB = rss
	}

	graceful := ctx.Err() == nil
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.Concurrency)
	for _, ic := range conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if cmd := idles[ic]; cmd != nil && cmd.Close() == nil {
				cmd.Wait()
			}
			ic.close(graceful)
		})
	}
	wg.Wait()
	return res, nil
}

// ReadRSS returns the resident set size, in kB, of process pid, read from the
// VmRSS line of /proc/PID/status (Linux only).
func ReadRSS(pid int) (int64, error) {
	const op = "bench.ReadRSS"
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, errors.E(op, errors.NotExist, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest) // e.g. "12345 kB"
		if len(fields) == 0 {
			break
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, errors.E(op, errors.Invalid, err)
		}
		return kb, nil
	}
	if err := sc.Err(); err != nil {
		return 0, errors.E(op, errors.Internal, err)
	}
	return 0, errors.E(op, errors.NotExist, errors.Errorf("no VmRSS in /proc/%d/status", pid))
}
