package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat. Linux
// exports USER_HZ = 100 to user space on every architecture Go runs on,
// whatever the kernel's internal HZ.
const clockTick = 10 * time.Millisecond

// ParseStatCPU returns utime+stime (user and system CPU of every thread
// of the process, fields 14 and 15) from the contents of /proc/<pid>/stat.
// The command name (field 2) is in parentheses and may itself contain
// spaces and parentheses, so fields are counted after the last ')'.
func ParseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc stat: %w", err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// ParseStatusRSS returns VmRSS, in bytes, from the contents of
// /proc/<pid>/status: the process's resident memory (anonymous, file and
// shared pages).
func ParseStatusRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc status: VmRSS line %q", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc status: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("/proc status: no VmRSS line (a kernel thread or a zombie)")
}

// ParseLimitsNoFile returns the soft and hard RLIMIT_NOFILE from the
// contents of /proc/<pid>/limits; "unlimited" is reported as -1.
func ParseLimitsNoFile(limits []byte) (soft, hard int64, err error) {
	for line := range bytes.Lines(limits) {
		rest, ok := bytes.CutPrefix(line, []byte("Max open files"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) < 2 {
			break
		}
		parse := func(s string) (int64, error) {
			if s == "unlimited" {
				return -1, nil
			}
			return strconv.ParseInt(s, 10, 64)
		}
		soft, err1 := parse(f[0])
		hard, err2 := parse(f[1])
		if err := errors.Join(err1, err2); err != nil {
			return 0, 0, fmt.Errorf("/proc limits: %w", err)
		}
		return soft, hard, nil
	}
	return 0, 0, errors.New("/proc limits: no Max open files line")
}

// ProcCPU is the CPU time a process has used so far.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return ParseStatCPU(b)
}

// ProcRSS is a process's resident memory in bytes.
func ProcRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return ParseStatusRSS(b)
}

// ProcNoFile is a process's soft and hard limit on open files.
func ProcNoFile(pid int) (soft, hard int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, 0, err
	}
	return ParseLimitsNoFile(b)
}

// FindProcs returns the pids of the processes whose command name
// (/proc/<pid>/comm) is one of names, e.g. "mariadbd".
func FindProcs(names ...string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/comm")
	var pids []int
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		comm := strings.TrimSpace(string(b))
		for _, n := range names {
			if comm == n {
				if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(d))); err == nil {
					pids = append(pids, pid)
				}
			}
		}
	}
	return pids
}

// cpuOf sums the CPU time of pids; processes that have gone are skipped.
func cpuOf(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		if d, err := ProcCPU(pid); err == nil {
			total += d
		}
	}
	return total
}

// ParseHostBusy returns the CPU time all cores together have spent busy
// (user, nice, system, irq, softirq, steal; not idle or iowait) from the
// contents of /proc/stat.
func ParseHostBusy(stat []byte) (time.Duration, error) {
	for line := range bytes.Lines(stat) {
		rest, ok := bytes.CutPrefix(line, []byte("cpu "))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) < 8 {
			return 0, fmt.Errorf("/proc/stat: cpu line %q", bytes.TrimSpace(line))
		}
		var busy uint64
		for _, i := range []int{0, 1, 2, 5, 6, 7} { // user nice system (idle iowait) irq softirq steal
			v, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/stat: %w", err)
			}
			busy += v
		}
		return time.Duration(busy) * clockTick, nil
	}
	return 0, errors.New("/proc/stat: no cpu line")
}

// HostBusy is the CPU time the host's cores have spent busy since boot.
func HostBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return ParseHostBusy(b)
}
