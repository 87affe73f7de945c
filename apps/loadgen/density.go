package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// DensityResult is what many idle connections cost one server process,
// and whether a room still gets its messages in time meanwhile.
type DensityResult struct {
	Scenario    string `json:"scenario"`
	Connections int    `json:"connections"`
	Rooms       int    `json:"rooms"`
	Processes   int    `json:"loadgen_processes"`
	// ConnectSecs is until every connection said hello and got welcome;
	// SubscribeSecs until every one was subscribed too.
	ConnectSecs   float64 `json:"connect_seconds"`
	ConnectRate   float64 `json:"connects_per_s"`
	SubscribeSecs float64 `json:"connect_and_subscribe_seconds"`
	// RSSBeforeKB and RSSAfterKB are the server's resident memory before
	// the connections and with all of them open.
	RSSBeforeKB int64   `json:"rss_before_kb"`
	RSSAfterKB  int64   `json:"rss_after_kb"`
	KBPerConn   float64 `json:"kb_per_connection"`
	// ConnectCPU is the CPU each connection cost until it was subscribed,
	// in µs, by role: the cluster's processes (with -env) and the
	// connecting processes ("loadgen"), all on the same cores.
	ConnectCPU map[string]float64 `json:"connect_cpu_us_per_connection,omitempty"`
	// HotRoom is a room of 100 subscribers getting 10 messages/s for 10 s
	// while every connection is open.
	HotRoom FanoutResult `json:"hot_room"`
}

// densityJob is what one connecting process is asked to do: open a
// WebSocket per entry of Rooms on Server, as Tokens[i], subscribed to
// Rooms[i], and hold them until its stdin closes.
type densityJob struct {
	Server string   `json:"server"`
	Tokens []string `json:"tokens"`
	Rooms  []string `json:"rooms"`
}

// densityChild is the hidden scenario of a connecting process.
const densityChild = "density-child"

// runDensity opens conns idle, subscribed connections to one server from
// processes of perProc connections each (a process may hold only so many
// files), measures the connect rate and the server's memory per
// connection, then a room of 100's delivery latency with all of them open.
// Accounts and rooms are made through setup, another server of the
// cluster: sign-ups' argon2 hashes would swell the measured server's heap
// before its baseline and shrink it after.
func runDensity(ctx context.Context, server, setup string, conns, rooms, perProc, pid int, stack roles) (DensityResult, error) {
	res := DensityResult{Scenario: "density", Connections: conns, Rooms: rooms}
	tag := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	owner, err := account(ctx, setup, "lg-downer-"+tag)
	if err != nil {
		return res, err
	}
	roomIDs := make([]string, rooms)
	if err := parallel(ctx, rooms, 8, func(i int) error {
		r, err := createRoom(ctx, setup, owner.Token, fmt.Sprintf("density-%s-%d", tag, i))
		roomIDs[i] = r.ID
		return err
	}); err != nil {
		return res, fmt.Errorf("rooms: %w", err)
	}
	// An account per 10 rooms: sign-ups cost an argon2 hash each.
	accounts := (rooms + 9) / 10
	tokens := make([]string, accounts)
	if err := parallel(ctx, accounts, 8, func(a int) error {
		s, err := account(ctx, setup, fmt.Sprintf("lg-d%d-%s", a, tag))
		if err != nil {
			return err
		}
		tokens[a] = s.Token
		for r := a * 10; r < min(rooms, a*10+10); r++ {
			if err := join(ctx, setup, s.Token, roomIDs[r]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return res, fmt.Errorf("accounts: %w", err)
	}
	before, err := readProc(pid)
	if err != nil {
		return res, fmt.Errorf("server pid %d: %w", pid, err)
	}
	res.RSSBeforeKB = before.RSSKB

	var jobs []densityJob
	for i := 0; i < conns; i++ {
		if i%perProc == 0 {
			jobs = append(jobs, densityJob{Server: server})
		}
		j := &jobs[len(jobs)-1]
		r := i % rooms
		j.Tokens, j.Rooms = append(j.Tokens, tokens[r/10]), append(j.Rooms, roomIDs[r])
	}
	res.Processes = len(jobs)
	cpu := stack.cpuSeconds()
	start := time.Now()
	children, connected, err := startDensityChildren(ctx, jobs)
	defer func() {
		for _, c := range children {
			c.stop()
		}
	}()
	if err != nil {
		return res, err
	}
	res.ConnectSecs = connected.Sub(start).Seconds()
	res.ConnectRate = float64(conns) / res.ConnectSecs
	res.SubscribeSecs = time.Since(start).Seconds()
	res.ConnectCPU = map[string]float64{}
	for role, secs := range cpu() {
		res.ConnectCPU[role] = secs * 1e6 / float64(conns)
	}
	for _, c := range children {
		if p, err := readProc(c.cmd.Process.Pid); err == nil {
			res.ConnectCPU["loadgen"] += p.CPUSecs * 1e6 / float64(conns)
		}
	}
	time.Sleep(3 * time.Second) // measurement: let the server settle (GC) before reading its RSS
	after, err := readProc(pid)
	if err != nil {
		return res, err
	}
	res.RSSAfterKB = after.RSSKB
	res.KBPerConn = float64(after.RSSKB-before.RSSKB) / float64(conns)
	res.HotRoom, err = runFanout(ctx, fanoutOpts{servers: []string{server}, setup: setup, subs: 100, pubs: 10, rate: 10, dur: 10 * time.Second, pids: []int{pid}})
	return res, err
}

// densityProc is a running connecting process.
type densityProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// stop closes its stdin (it closes its connections and exits) and waits.
func (p densityProc) stop() {
	_ = p.stdin.Close()
	_ = p.cmd.Wait()
}

// startDensityChildren starts a process per job, all at once, and waits
// until each says it holds its connections, subscribed. connected is when
// the last one said all its connections got welcome.
func startDensityChildren(ctx context.Context, jobs []densityJob) (procs []densityProc, connected time.Time, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, connected, err
	}
	type report struct {
		line string
		at   time.Time
		err  error
	}
	reports := make(chan report, 2*len(jobs))
	for _, job := range jobs {
		cmd := exec.CommandContext(ctx, self, densityChild)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return procs, connected, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return procs, connected, err
		}
		if err := cmd.Start(); err != nil {
			return procs, connected, err
		}
		procs = append(procs, densityProc{cmd: cmd, stdin: stdin})
		if err := json.NewEncoder(stdin).Encode(job); err != nil {
			return procs, connected, err
		}
		go func() {
			r := bufio.NewReader(stdout)
			for range 2 {
				line, err := r.ReadString('\n')
				reports <- report{line, time.Now(), err}
				if err != nil {
					return
				}
			}
		}()
	}
	for range 2 * len(jobs) {
		r := <-reports
		switch {
		case r.err != nil:
			return procs, connected, fmt.Errorf("connecting process: %w", r.err)
		case r.line == "connected\n":
			connected = later(connected, r.at)
		case r.line != "ok\n":
			return procs, connected, fmt.Errorf("connecting process: %s", r.line)
		}
	}
	return procs, connected, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// densityMain is a connecting process: it reads its job from stdin, opens
// the connections, says "ok" (or the error) on stdout, and holds them
// until stdin closes.
func densityMain(ctx context.Context) error {
	in := bufio.NewReader(os.Stdin)
	var job densityJob
	if err := json.NewDecoder(in).Decode(&job); err != nil {
		return err
	}
	conns := make([]*websocket.Conn, len(job.Rooms))
	err := parallel(ctx, len(job.Rooms), 100, func(i int) error {
		c, err := dial(ctx, job.Server, job.Tokens[i])
		conns[i] = c
		return err
	})
	if err == nil {
		fmt.Println("connected")
		err = parallel(ctx, len(job.Rooms), 100, func(i int) error {
			c := conns[i]
			if err := subscribe(c, job.Rooms[i]); err != nil {
				return err
			}
			go func() { // read (pings, anything) until the connection ends
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}()
			return nil
		})
	}
	if err != nil {
		fmt.Printf("%v\n", err)
		return err
	}
	fmt.Println("ok")
	_, _ = io.Copy(io.Discard, in) // until the parent closes stdin
	for _, c := range conns {
		_ = c.Close()
	}
	return nil
}
