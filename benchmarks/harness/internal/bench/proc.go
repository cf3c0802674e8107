package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ClkTck is the kernel's USER_HZ (CLK_TCK), 100 on Linux/amd64.
const ClkTck = 100

// ParsePIDs parses "1,2,3" (empty: none).
func ParsePIDs(s string) ([]int, error) {
	var pids []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("pid %q: %v", f, err)
		}
		pids = append(pids, p)
	}
	return pids, nil
}

// CPUMicros returns utime+stime of the processes in µs (10 ms resolution).
// A pid that cannot be read is an error.
func CPUMicros(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		// f[0] is field 3 (state); utime is field 14, stime field 15.
		if len(f) < 13 {
			return 0, fmt.Errorf("/proc/%d/stat: short", pid)
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		total += u + s
	}
	return total * 1e6 / ClkTck, nil
}

// SelfCPUMicros is CPUMicros of this process.
func SelfCPUMicros() int64 {
	us, _ := CPUMicros([]int{os.Getpid()})
	return us
}

// RSSKiB returns the sum of VmRSS of the processes, in KiB.
func RSSKiB(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		v, err := statusField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
		if err != nil {
			return 0, err
		}
		total += v
	}
	return total, nil
}

// SlabKiB returns the system-wide Slab from /proc/meminfo, in KiB.
func SlabKiB() int64 {
	v, _ := statusField("/proc/meminfo", "Slab:")
	return v
}

func statusField(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line[len(key):])
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}
