package testenv

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Pid is the process id of the running binary (of the wrapper, for
// StartWith with a wrapper that does not exec it).
func (d *Demo) Pid() int { return d.cmd.Process.Pid }

// PeakRSS returns the highest resident set size process pid has had
// (VmHWM in /proc/PID/status), in bytes.
func PeakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// ResetPeakRSS sets process pid's peak resident set size back to its
// current one (proc(5): writing 5 to clear_refs), so that PeakRSS then
// measures a later phase alone.
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}
