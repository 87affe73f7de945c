package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/packages/client"
)

// ResumeResult is issue 16's resume target: subscribers that missed
// Missed messages come back at once and each is timed from its subscribe
// to its subscribed frame, with every missed message replayed before it.
type ResumeResult struct {
	Scenario  string      `json:"scenario"`
	Resumers  int         `json:"resumers"`
	Missed    int         `json:"missed"`
	Batched   bool        `json:"batched"`    // the replay asked for in replay frames
	Latency   Percentiles `json:"latency_ms"` // subscribe -> subscribed, replay included
	Complete  int         `json:"complete"`   // resumers that got every missed message, in order
	Recovered int         `json:"recovered"`  // subscribed frames with recovered:true
	Errors    int         `json:"errors"`
	// CPU of the cluster's processes and of this one, from the subscribes
	// to the last subscribed, per replayed frame ("delivery").
	stackCPU
}

// runResume: r users join a room, note where it stands and go away; m
// messages are sent (by 50 senders, within the per-user send limit); then
// all r reconnect, over the servers in turn, and subscribe with after_seq
// at the same moment.
func runResume(ctx context.Context, servers []string, r, m int, batch bool, stack roles) (ResumeResult, error) {
	res := ResumeResult{Scenario: "resume", Resumers: r, Missed: m, Batched: batch}
	tag := fmt.Sprint(time.Now().UnixNano() % 1e9)
	owner, err := account(ctx, servers[0], "lgr-owner-"+tag)
	if err != nil {
		return res, err
	}
	room, err := createRoom(ctx, servers[0], owner.Token, "resume-"+tag)
	if err != nil {
		return res, err
	}
	tokens := make([]string, r)
	for i := range tokens {
		a, err := account(ctx, servers[i%len(servers)], fmt.Sprintf("lgr-%s-%d", tag, i))
		if err != nil {
			return res, err
		}
		if err := join(ctx, servers[i%len(servers)], a.Token, room.ID); err != nil {
			return res, err
		}
		tokens[i] = a.Token
	}
	const senders = 50
	var after int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := 0
	var firstErr error
	for s := range senders {
		a, err := account(ctx, servers[s%len(servers)], fmt.Sprintf("lgr-%s-s%d", tag, s))
		if err != nil {
			return res, err
		}
		if err := join(ctx, servers[s%len(servers)], a.Token, room.ID); err != nil {
			return res, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := client.Dial(ctx, servers[s%len(servers)], a.Token)
			if err != nil {
				mu.Lock()
				errs += m / senders
				firstErr = cmp.Or(firstErr, err)
				mu.Unlock()
				return
			}
			sess := client.NewSession(conn, nil, nil)
			defer sess.Close()
			for i := s; i < m; i += senders {
				if _, err := sess.SendRetry(ctx, room.ID, fmt.Sprintf("r%d", i), fmt.Sprintf("missed %d", i)); err != nil {
					mu.Lock()
					errs++
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if errs > 0 {
		return res, fmt.Errorf("%d of %d sends failed (the first: %w)", errs, m, firstErr)
	}

	// Everyone resumes from before the first missed message.
	type outcome struct {
		d         time.Duration
		got       int
		ordered   bool
		recovered bool
		err       error
	}
	conns := make([]*client.Conn, r)
	for i, tok := range tokens {
		if conns[i], err = client.Dial(ctx, servers[i%len(servers)], tok); err != nil {
			return res, err
		}
		defer conns[i].Close()
	}
	out := make([]outcome, r)
	start := make(chan struct{})
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := readBuffer(batch)
			<-start
			t0 := time.Now()
			rp, err := resumeScan(ctx, conns[i].WebSocket(), room.ID, after, batch, buf)
			out[i] = outcome{d: time.Since(t0), got: rp.got, ordered: rp.ordered, recovered: rp.subscribed.Recovered, err: err}
		}()
	}
	scpu := stack.cpuSeconds()
	self0, _ := readProc(os.Getpid())
	close(start)
	wg.Wait()
	// Its own first: reading every other process's CPU from /proc is work
	// of its own that is not the replay's.
	self1, err := readProc(os.Getpid())
	secs := scpu()
	if err == nil && len(stack) > 0 {
		secs["loadgen"] = self1.CPUSecs - self0.CPUSecs
	}
	var lat []time.Duration
	for _, o := range out {
		if o.err != nil {
			res.Errors++
			continue
		}
		lat = append(lat, o.d)
		if o.got == m && o.ordered {
			res.Complete++
		}
		if o.recovered {
			res.Recovered++
		}
	}
	res.Latency = percentiles(lat)
	res.stackCPU = newStackCPU(secs, int64(r*m))
	return res, nil
}
