package testenv

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Pid is the process id of the running binary (of the wrapper, for
// StartWith with a wrapper that does not exec it).
func (d *Demo) Pid() int { return d.cmd.Process.Pid }

// PeakRSS returns the highest resident set size process pid has had
// (VmHWM in /proc/PID/status), in bytes.
func PeakRSS(pid int) (int64, error) { return procStatusKB(pid, "VmHWM:") }

// RSS returns process pid's resident set size now, in bytes.
func RSS(pid int) (int64, error) { return procStatusKB(pid, "VmRSS:") }

// SettleRSS waits, up to max, for process pid's resident set size to fall
// below below (memory a startup burst held, such as Argon2id derivations,
// returned to the system), and returns the last size seen.
func SettleRSS(pid int, below int64, max time.Duration) int64 {
	end := time.Now().Add(max)
	for {
		rss, err := RSS(pid)
		if err != nil || rss < below || time.Now().After(end) {
			return rss
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// procStatusKB reads a "kB" field of /proc/pid/status, in bytes.
func procStatusKB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// ResetPeakRSS sets process pid's peak resident set size back to its
// current one (proc(5): writing 5 to clear_refs), so that PeakRSS then
// measures a later phase alone.
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}
