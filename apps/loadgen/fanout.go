package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// FanoutResult is the outcome of a fanout run.
type FanoutResult struct {
	Scenario       string      `json:"scenario"`
	Subscribers    int         `json:"subscribers"`
	Publishers     int         `json:"publishers"`
	Rate           float64     `json:"rate_msgs_per_s"`
	Duration       float64     `json:"duration_s"`
	Sent           int64       `json:"sent"`
	Acked          int64       `json:"acked"`
	SendErrors     int64       `json:"send_errors"`
	Expected       int64       `json:"expected_deliveries"`
	Delivered      int64       `json:"delivered"`
	DeliveryRatio  float64     `json:"delivery_ratio"`
	DeliveriesPerS float64     `json:"deliveries_per_s"`
	Latency        Percentiles `json:"latency"`
	AckLatency     Percentiles `json:"ack_latency"`
	Servers        []procStat  `json:"servers,omitempty"`
	CPUPerDelivery float64     `json:"server_cpu_us_per_delivery,omitempty"`
	Closed         int64       `json:"subscribers_closed"`
	stackCPU
}

type fanoutOpts struct {
	servers    []string
	subs, pubs int
	rate       float64
	dur        time.Duration
	pids       []int
	stack      roles  // every process of the cluster, for stackCPU
	setup      string // where accounts and the room are made (servers[0] when empty)
}

// latencySampler keeps every k-th latency, bounded, so that a 200k/s run
// does not keep millions of samples.
type latencySampler struct {
	mu    sync.Mutex
	every int64
	n     int64
	d     []time.Duration
}

func (l *latencySampler) add(d time.Duration) {
	l.mu.Lock()
	l.n++
	if l.n%l.every == 0 && len(l.d) < 2_000_000 {
		l.d = append(l.d, d)
	}
	l.mu.Unlock()
}

// merge adds samples a reader took on its own.
func (l *latencySampler) merge(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

var bodyMark = []byte(`"body":"lg `)

// sentAt reads the send time out of a message frame without decoding it:
// the body is "lg <unix nanos> <n>".
func sentAt(frame []byte) (int64, bool) {
	i := bytes.Index(frame, bodyMark)
	if i < 0 {
		return 0, false
	}
	rest := frame[i+len(bodyMark):]
	j := bytes.IndexByte(rest, ' ')
	if j < 0 {
		return 0, false
	}
	ns, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return ns, err == nil
}

func runFanout(ctx context.Context, o fanoutOpts) (FanoutResult, error) {
	res := FanoutResult{Scenario: "fanout", Subscribers: o.subs, Publishers: o.pubs, Rate: o.rate, Duration: o.dur.Seconds()}
	tag := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	setup := cmp.Or(o.setup, o.servers[0])
	owner, err := account(ctx, setup, "lg-owner-"+tag)
	if err != nil {
		return res, err
	}
	room, err := createRoom(ctx, setup, owner.Token, "fanout-"+tag)
	if err != nil {
		return res, err
	}
	// Subscribers share a few accounts: a user may hold many connections.
	const subUsers = 10
	var subTokens []string
	for i := 0; i < subUsers; i++ {
		s, err := account(ctx, setup, fmt.Sprintf("lg-s%d-%s", i, tag))
		if err != nil {
			return res, err
		}
		if err := join(ctx, setup, s.Token, room.ID); err != nil {
			return res, err
		}
		subTokens = append(subTokens, s.Token)
	}
	var pubTokens []string
	for i := 0; i < o.pubs; i++ {
		s, err := account(ctx, setup, fmt.Sprintf("lg-p%d-%s", i, tag))
		if err != nil {
			return res, err
		}
		if err := join(ctx, setup, s.Token, room.ID); err != nil {
			return res, err
		}
		pubTokens = append(pubTokens, s.Token)
	}

	lat := &latencySampler{every: max(1, int64(o.rate*float64(o.subs)/20000))}
	var delivered, closed atomic.Int64
	conns := make([]*websocket.Conn, o.subs)
	var wg sync.WaitGroup
	errc := make(chan error, o.subs)
	sem := make(chan struct{}, 50)
	for i := 0; i < o.subs; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dial(ctx, o.servers[i%len(o.servers)], subTokens[i%subUsers])
			if err == nil {
				err = subscribe(c, room.ID)
			}
			if err != nil {
				errc <- err
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return res, fmt.Errorf("connect subscribers: %w", err)
	default:
	}
	// Each reader counts and samples on its own and reuses its buffer: a
	// shared lock or an allocation per delivery would make the load
	// generator, not the servers, the slowest part of a burst.
	var readers sync.WaitGroup
	perReader := max(1, 2_000_000/len(conns))
	for _, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var buf bytes.Buffer
			var n int64
			var mine []time.Duration
			defer func() { lat.merge(mine) }()
			for {
				if err := readMessage(c, &buf); err != nil {
					if ce, ok := err.(*websocket.CloseError); ok && ce.Code != websocket.CloseNormalClosure {
						closed.Add(1)
					}
					return
				}
				if ns, ok := sentAt(buf.Bytes()); ok {
					delivered.Add(1)
					if n++; n%lat.every == 0 && len(mine) < perReader {
						mine = append(mine, time.Duration(time.Now().UnixNano()-ns))
					}
				}
			}
		}()
	}

	cpu, scpu := procDelta(o.pids), o.stack.cpuSeconds()
	start := time.Now()
	pub, err := runPublishers(ctx, publishJob{Servers: o.servers, Tokens: pubTokens, Room: room.ID, Rate: o.rate, Dur: o.dur})
	elapsed := time.Since(start)
	if err != nil {
		return res, err
	}
	res.Sent, res.Acked, res.SendErrors = pub.Sent, pub.Acked, pub.Errors
	res.AckLatency = pub.AckLatency
	res.Expected = res.Acked * int64(o.subs)
	deadline := time.Now().Add(10 * time.Second)
	for delivered.Load() < res.Expected && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // bounded wait for the last deliveries
	}
	res.Servers = cpu()
	stackSecs := scpu()
	for _, c := range conns {
		c.Close()
	}
	readers.Wait()
	res.Delivered = delivered.Load()
	res.Closed = closed.Load()
	if res.Expected > 0 {
		res.DeliveryRatio = float64(res.Delivered) / float64(res.Expected)
	}
	res.DeliveriesPerS = float64(res.Delivered) / elapsed.Seconds()
	res.Latency = percentiles(lat.d)
	res.stackCPU = newStackCPU(stackSecs, res.Delivered)
	var cpuSecs float64
	for _, s := range res.Servers {
		cpuSecs += s.CPUSecs
	}
	if res.Delivered > 0 && len(res.Servers) > 0 {
		res.CPUPerDelivery = cpuSecs * 1e6 / float64(res.Delivered)
	}
	return res, nil
}
