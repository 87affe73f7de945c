package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// publishJob is what a fanout run's publisher process is asked to do.
type publishJob struct {
	Servers []string      `json:"servers"`
	Tokens  []string      `json:"tokens"` // one publisher per token
	Room    string        `json:"room"`
	Rate    float64       `json:"rate"` // messages per second, all publishers together
	Dur     time.Duration `json:"dur"`
}

// publishResult is what the publisher process reports.
type publishResult struct {
	Sent       int64       `json:"sent"`
	Acked      int64       `json:"acked"`
	Errors     int64       `json:"errors"`
	AckLatency Percentiles `json:"ack_latency"`
}

// publishChild is the hidden scenario that runs a fanout's publishers.
const publishChild = "publish-child"

// runPublishers runs the publishers in a process of their own, as the
// senders would be on other machines: in the subscribers' process an ack
// would be read only after the hundreds of deliveries that arrive with it,
// and the ack latency would measure the load generator.
func runPublishers(ctx context.Context, job publishJob) (publishResult, error) {
	var res publishResult
	self, err := os.Executable()
	if err != nil {
		return res, fmt.Errorf("publishers: %w", err)
	}
	in, err := json.Marshal(job)
	if err != nil {
		return res, fmt.Errorf("publishers: %w", err)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, self, publishChild)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("publisher process: %w", err)
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, fmt.Errorf("publisher process: %w", err)
	}
	return res, nil
}

// publishMain is the publisher process: the job on stdin, the result on
// stdout.
func publishMain(ctx context.Context) error {
	var job publishJob
	if err := json.NewDecoder(os.Stdin).Decode(&job); err != nil {
		return fmt.Errorf("publish job: %w", err)
	}
	res, err := publish(ctx, job)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// publish sends on an open-loop schedule (the body carries the send time)
// and times each ack.
func publish(ctx context.Context, job publishJob) (publishResult, error) {
	var res publishResult
	var sent, acked, errs atomic.Int64
	ackLat := &latencySampler{every: 1}
	n := len(job.Tokens)
	interval := time.Duration(float64(time.Second) * float64(n) / job.Rate)
	start := time.Now()
	var wg sync.WaitGroup
	for p, token := range job.Tokens {
		c, err := dial(ctx, job.Servers[p%len(job.Servers)], token)
		if err != nil {
			return res, err
		}
		inflight := newAcks()
		wg.Add(2)
		go func() { // acks
			defer wg.Done()
			for {
				_, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				if isAnswer, ok, took := inflight.answer(data); isAnswer && ok {
					acked.Add(1)
					ackLat.add(took)
				} else if isAnswer {
					errs.Add(1)
				}
			}
		}()
		go func() { // open loop: sends on schedule whatever the acks do
			defer wg.Done()
			next := start.Add(time.Duration(p) * interval / time.Duration(n))
			for i := 0; time.Since(start) < job.Dur; i++ {
				time.Sleep(time.Until(next)) // open-loop schedule, not synchronisation
				next = next.Add(interval)
				ref := fmt.Sprintf("p%d-%d", p, i)
				now := time.Now()
				inflight.sent(ref, now)
				body := fmt.Sprintf("lg %d %d", now.UnixNano(), i)
				if err := c.WriteJSON(map[string]string{"type": "send", "room": job.Room, "ref": ref, "body": body}); err != nil {
					errs.Add(1)
					return
				}
				sent.Add(1)
			}
			inflight.wait(10 * time.Second)
			c.Close()
		}()
	}
	wg.Wait()
	res.Sent, res.Acked, res.Errors = sent.Load(), acked.Load(), errs.Load()
	res.AckLatency = percentiles(ackLat.d)
	return res, nil
}
