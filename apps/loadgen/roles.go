package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// roles are the local cluster's processes by role ("servers", "redis",
// "broker", "persister", "postgres"): the CPU of every process a message
// costs, not only the servers'. PostgreSQL's backends are found as the
// children of its postmaster when sampled.
type roles map[string][]int

var pidVar = regexp.MustCompile(`^([A-Z]+)(_\d+)?_PID$`)

// rolesFromEnv reads the PIDs of the local cluster's .data/dev.env
// (SERVER_1_PID, REDIS_PID, KAFKA_PID, ...). The web app and devstack are
// left out: no message goes through them.
func rolesFromEnv(env map[string]string) roles {
	names := map[string]string{"SERVER": "servers", "REDIS": "redis", "KAFKA": "broker",
		"PERSISTER": "persister", "POSTGRES": "postgres"}
	r := roles{}
	for k, v := range env {
		m := pidVar.FindStringSubmatch(k)
		if m == nil || names[m[1]] == "" {
			continue
		}
		if pid, err := strconv.Atoi(v); err == nil {
			r[names[m[1]]] = append(r[names[m[1]]], pid)
		}
	}
	return r
}

// expand is the role's PIDs with, for PostgreSQL, its current children.
func (r roles) expand(role string) []int {
	pids := append([]int(nil), r[role]...)
	if role == "postgres" {
		for _, p := range r[role] {
			pids = append(pids, children(p)...)
		}
	}
	return pids
}

// children are the PIDs whose parent is pid, from /proc.
func children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			if c, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// cpuSeconds samples every role now and returns a function giving each
// role's CPU seconds since. A process that appeared meanwhile (a new
// PostgreSQL backend) counts from its start.
func (r roles) cpuSeconds() func() map[string]float64 {
	before := map[int]float64{}
	for role := range r {
		for _, p := range r.expand(role) {
			if s, err := readProc(p); err == nil {
				before[p] = s.CPUSecs
			}
		}
	}
	return func() map[string]float64 {
		out := map[string]float64{}
		for role := range r {
			for _, p := range r.expand(role) {
				if s, err := readProc(p); err == nil {
					out[role] += s.CPUSecs - before[p]
				}
			}
		}
		return out
	}
}

// stackCPU is the CPU of the whole cluster for a run: seconds by role, and
// µs per delivery over all of them.
type stackCPU struct {
	Seconds     map[string]float64 `json:"cpu_seconds_by_role,omitempty"`
	PerDelivery float64            `json:"stack_cpu_us_per_delivery,omitempty"`
}

func newStackCPU(secs map[string]float64, deliveries int64) stackCPU {
	s := stackCPU{Seconds: secs}
	var total float64
	for _, v := range secs {
		total += v
	}
	if deliveries > 0 {
		s.PerDelivery = total * 1e6 / float64(deliveries)
	}
	return s
}

// roleShare is the CPU of roles, in µs per delivery: their part of
// PerDelivery.
func (s stackCPU) roleShare(roles ...string) float64 {
	var total float64
	for _, r := range roles {
		total += s.Seconds[r]
	}
	if s.Seconds == nil || s.PerDelivery == 0 {
		return 0
	}
	var all float64
	for _, v := range s.Seconds {
		all += v
	}
	return total / all * s.PerDelivery
}

func (s stackCPU) String() string {
	if len(s.Seconds) == 0 {
		return "stack CPU not measured (no -env)"
	}
	return fmt.Sprintf("stack CPU %.1f µs/delivery (CPU s: %s)", s.PerDelivery, perRole(s.Seconds))
}

// perRole lists values by role, in name order, with their total.
func perRole(m map[string]float64) string {
	names := make([]string, 0, len(m))
	var total float64
	for n, v := range m {
		names = append(names, n)
		total += v
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", n, m[n]))
	}
	return fmt.Sprintf("%s; total %.2f", strings.Join(parts, ", "), total)
}
