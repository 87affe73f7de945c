package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Percentiles of a latency sample, in milliseconds.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) float64 {
		i := int(q * float64(len(d)-1))
		return float64(d[i].Microseconds()) / 1000
	}
	return Percentiles{N: len(d), P50: at(.50), P95: at(.95), P99: at(.99), Max: at(1)}
}

// procStat is a process's CPU time and resident memory from /proc.
type procStat struct {
	PID     int     `json:"pid"`
	CPUSecs float64 `json:"cpu_seconds"`
	RSSKB   int64   `json:"rss_kb"`
}

// clock ticks per second for /proc/<pid>/stat; 100 on Linux.
const clkTck = 100

func readProc(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// Fields after the parenthesised command name: utime is 14th, stime 15th.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	ps := procStat{PID: pid, CPUSecs: (ut + st) / clkTck}
	st2, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err == nil {
		for _, line := range strings.Split(string(st2), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				ps.RSSKB, _ = strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			}
		}
	}
	return ps, nil
}

// procDelta samples pids now and returns a function giving the CPU used
// since, and the current RSS.
func procDelta(pids []int) func() []procStat {
	before := map[int]procStat{}
	for _, p := range pids {
		if s, err := readProc(p); err == nil {
			before[p] = s
		}
	}
	return func() []procStat {
		var out []procStat
		for _, p := range pids {
			s, err := readProc(p)
			if err != nil {
				continue
			}
			s.CPUSecs -= before[p].CPUSecs
			out = append(out, s)
		}
		return out
	}
}
