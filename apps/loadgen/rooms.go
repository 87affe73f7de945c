package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
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
	Delivered  int64       `json:"delivered"`
	Latency    Percentiles `json:"latency"`
	Servers    []procStat  `json:"servers,omitempty"`
}

func runRooms(ctx context.Context, servers []string, clients, rooms int, rate float64, dur time.Duration, pids []int) (RoomsResult, error) {
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
	var wg sync.WaitGroup
	cpu := procDelta(pids)
	start := time.Now()
	for i := 0; i < clients; i++ {
		c, err := dial(ctx, servers[i%len(servers)], tokens[i])
		if err != nil {
			return res, err
		}
		room := roomIDs[i%rooms]
		if err := subscribe(c, room); err != nil {
			return res, err
		}
		inflight := newAcks()
		wg.Add(2)
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
				} else if ns, ok := sentAt(data); ok {
					delivered.Add(1)
					lat.add(time.Duration(time.Now().UnixNano() - ns))
				}
			}
		}()
		go func() {
			defer wg.Done()
			defer c.Close()
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
	wg.Wait()
	res.Servers = cpu()
	res.Sent, res.Acked, res.Errors, res.Delivered = sent.Load(), acked.Load(), errs.Load(), delivered.Load()
	res.AckLatency = percentiles(ack.d)
	res.Latency = percentiles(lat.d)
	return res, nil
}
