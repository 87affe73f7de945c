package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// RoomsResult is the outcome of a rooms run: many rooms, each client
// sending at a rate and subscribed to its own room.
type RoomsResult struct {
	Scenario   string      `json:"scenario"`
	Clients    int         `json:"clients"`
	Rooms      int         `json:"rooms"`
	Rate       float64     `json:"rate_msgs_per_s"`
	Duration   float64     `json:"duration_s"`
	Sent       int64       `json:"sent"`
	Acked      int64       `json:"acked"`
	Errors     int64       `json:"errors"`
	AckLatency Percentiles `json:"ack_latency"`
	Expected   int64       `json:"expected_deliveries"`
	Delivered  int64       `json:"delivered"`
	// DeliveryRatio is Delivered / Expected: every client receives every
	// message of its room, its own included.
	DeliveryRatio float64     `json:"delivery_ratio"`
	Latency       Percentiles `json:"latency"`
	Servers       []procStat  `json:"servers,omitempty"`
	stackCPU
}

func runRooms(ctx context.Context, servers []string, clients, rooms int, rate float64, dur time.Duration, pids []int, stack roles) (RoomsResult, error) {
	res := RoomsResult{Scenario: "rooms", Clients: clients, Rooms: rooms, Rate: rate, Duration: dur.Seconds()}
	tag := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	owner, err := account(ctx, servers[0], "lg-rowner-"+tag)
	if err != nil {
		return res, err
	}
	roomIDs := make([]string, rooms)
	for i := range roomIDs {
		r, err := createRoom(ctx, servers[0], owner.Token, fmt.Sprintf("rooms-%s-%d", tag, i))
		if err != nil {
			return res, err
		}
		roomIDs[i] = r.ID
	}
	// One account per client, so the per-user send limit applies per client.
	tokens := make([]string, clients)
	for i := range tokens {
		s, err := account(ctx, servers[i%len(servers)], fmt.Sprintf("lg-r%d-%s", i, tag))
		if err != nil {
			return res, err
		}
		if err := join(ctx, servers[0], s.Token, roomIDs[i%rooms]); err != nil {
			return res, err
		}
		tokens[i] = s.Token
	}
	ack := &latencySampler{every: 1}
	lat := &latencySampler{every: 1}
	var sent, acked, errs, delivered atomic.Int64
	// Every client connects and subscribes before anyone sends, and every
	// connection stays open until every client has sent and had its
	// answers: each then receives every message of its room.
	conns := make([]*websocket.Conn, clients)
	err = parallel(ctx, clients, 50, func(i int) error {
		c, err := dial(ctx, servers[i%len(servers)], tokens[i])
		if err != nil {
			return err
		}
		conns[i] = c
		return subscribe(c, roomIDs[i%rooms])
	})
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err != nil {
		return res, fmt.Errorf("connect: %w", err)
	}
	var wg, sending sync.WaitGroup
	cpu, scpu := procDelta(pids), stack.cpuSeconds()
	// Sign-ups (an argon2 hash each) are done: a profiler started from
	// here sees the conversation only.
	fmt.Fprintln(os.Stderr, "rooms: sending")
	start := time.Now()
	for i, c := range conns {
		room := roomIDs[i%rooms]
		inflight := newAcks()
		wg.Add(1)
		sending.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				if isAnswer, ok, took := inflight.answer(data); isAnswer {
					if ok {
						acked.Add(1)
						ack.add(took)
					} else {
						errs.Add(1)
					}
				} else if ns, ok := sentAt(data); ok && ns >= start.UnixNano() {
					delivered.Add(1)
					lat.add(time.Duration(time.Now().UnixNano() - ns))
				}
			}
		}()
		go func() {
			defer sending.Done()
			per := rate / float64(clients)
			interval := time.Duration(float64(time.Second) / per)
			next := start.Add(time.Duration(i) * interval / time.Duration(clients))
			for n := 0; time.Since(start) < dur; n++ {
				time.Sleep(time.Until(next)) // open-loop schedule
				next = next.Add(interval)
				ref := fmt.Sprintf("r%d-%d", i, n)
				now := time.Now()
				inflight.sent(ref, now)
				if err := c.WriteJSON(map[string]string{"type": "send", "room": room, "ref": ref,
					"body": fmt.Sprintf("lg %d %d", now.UnixNano(), n)}); err != nil {
					return
				}
				sent.Add(1)
			}
			inflight.wait(5 * time.Second)
		}()
	}
	sending.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for delivered.Load() < acked.Load()*int64(clients/rooms) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // bounded wait for the last deliveries
	}
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	res.Servers = cpu()
	res.Sent, res.Acked, res.Errors, res.Delivered = sent.Load(), acked.Load(), errs.Load(), delivered.Load()
	res.Expected = res.Acked * int64(clients/rooms)
	if res.Expected > 0 {
		res.DeliveryRatio = float64(res.Delivered) / float64(res.Expected)
	}
	res.AckLatency = percentiles(ack.d)
	res.Latency = percentiles(lat.d)
	res.stackCPU = newStackCPU(scpu(), res.Delivered)
	return res, nil
}
