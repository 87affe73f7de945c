package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/apps/loadgen/internal/stack"
)

// scaleLoad is the scale bench's load: conns connections in rooms rooms
// (conns/rooms each), perUser connections per account, rate messages a
// second spread evenly over the rooms. Its accounts and rooms are made on
// the stack's first run.
type scaleLoad struct {
	conns, rooms, perUser int
	rate                  float64
	dur                   time.Duration

	roomIDs []string
	tokens  []string // account a is a member of room a % rooms
}

func emitJSON(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

// populate signs the accounts up and makes the rooms.
func (l *scaleLoad) populate(ctx context.Context, servers []string) error {
	tag := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	owner, err := account(ctx, servers[0], "lg-sowner-"+tag)
	if err != nil {
		return err
	}
	l.roomIDs = make([]string, l.rooms)
	for i := range l.roomIDs {
		r, err := createRoom(ctx, servers[i%len(servers)], owner.Token, fmt.Sprintf("scale-%s-%d", tag, i))
		if err != nil {
			return err
		}
		l.roomIDs[i] = r.ID
	}
	perRoom := max(1, l.conns/l.rooms/l.perUser)
	l.tokens = make([]string, l.rooms*perRoom)
	return parallel(ctx, len(l.tokens), 8, func(a int) error {
		base := servers[a%len(servers)]
		s, err := account(ctx, base, fmt.Sprintf("lg-s%d-%s", a, tag))
		if err != nil {
			return err
		}
		l.tokens[a] = s.Token
		return join(ctx, base, s.Token, l.roomIDs[a%l.rooms])
	})
}

// parallel runs fn(0..n-1), width at a time, and returns the first error.
func parallel(ctx context.Context, n, width int, fn func(i int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	sem := make(chan struct{}, width)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				once.Do(func() { first = err })
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// scaleConn is one connection of the load and its sends in flight.
type scaleConn struct {
	ws       *websocket.Conn
	room     string
	inflight *acks
}

// run puts the load on st and measures it.
func (l *scaleLoad) run(ctx context.Context, st *stack.Stack, cfg scaleConfig) (ScaleResult, error) {
	res := ScaleResult{Scenario: "scale", Config: cfg.name, Servers: cfg.servers, Connections: l.conns,
		Rooms: l.rooms, Rate: l.rate, Duration: l.dur.Seconds(), CPU: map[string]float64{}}
	servers := st.URLs()
	if l.tokens == nil {
		if err := l.populate(ctx, servers); err != nil {
			return res, fmt.Errorf("populate: %w", err)
		}
	}
	// Connection i is in room i % rooms, as account (room + rooms*k) for
	// the room's k-th account, on server i % servers.
	perRoomAccounts := len(l.tokens) / l.rooms
	conns := make([]*scaleConn, l.conns)
	err := parallel(ctx, l.conns, 50, func(i int) error {
		r, k := i%l.rooms, i/l.rooms
		ws, err := dial(ctx, servers[i%len(servers)], l.tokens[r+l.rooms*(k%perRoomAccounts)])
		if err != nil {
			return err
		}
		if err := subscribe(ws, l.roomIDs[r]); err != nil {
			ws.Close()
			return err
		}
		conns[i] = &scaleConn{ws: ws, room: l.roomIDs[r], inflight: newAcks()}
		return nil
	})
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.ws.Close()
			}
		}
	}()
	if err != nil {
		return res, fmt.Errorf("connect: %w", err)
	}

	lat, ack := &latencySampler{every: 1}, &latencySampler{every: 1}
	// Subscribing replays a room's latest messages: only this run's
	// count.
	runStart := time.Now().UnixNano()
	var acked, errs, delivered, closed atomic.Int64
	var closing atomic.Bool
	var readers sync.WaitGroup
	for _, c := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				_, data, err := c.ws.ReadMessage()
				if err != nil {
					if !closing.Load() {
						closed.Add(1)
					}
					return
				}
				if isAnswer, ok, took := c.inflight.answer(data); isAnswer {
					if ok {
						acked.Add(1)
						ack.add(took)
					} else {
						errs.Add(1)
					}
				} else if ns, ok := sentAt(data); ok && ns >= runStart {
					delivered.Add(1)
					lat.add(time.Duration(time.Now().UnixNano() - ns))
				}
			}
		}()
	}
	defer func() {
		closing.Store(true)
		for _, c := range conns {
			c.ws.Close()
		}
		readers.Wait()
	}()

	masters, err := st.MasterAddrs(ctx)
	if err != nil {
		return res, err
	}
	res.RedisMasters = len(masters)
	cmdsBefore, callsBefore, err := redisStats(ctx, masters)
	if err != nil {
		return res, err
	}
	pids := st.PIDs()
	cpu := map[string]func() []procStat{}
	for role, ps := range pids {
		cpu[role] = procDelta(ps)
	}

	sendStart := time.Now()
	sent := l.send(ctx, conns)
	sendEnd := time.Now()
	cmdsAfter, callsAfter, err := redisStats(ctx, masters)
	if err != nil {
		return res, err
	}
	window := sendEnd.Sub(sendStart).Seconds()
	for i := range masters {
		res.RedisCmds = append(res.RedisCmds, float64(cmdsAfter[i]-cmdsBefore[i])/window)
	}
	res.RedisSpread = spread(res.RedisCmds)
	res.RedisPerMsg = map[string]float64{}
	for name, n := range callsAfter {
		if sent > 0 {
			res.RedisPerMsg[name] = float64(n-callsBefore[name]) / float64(sent)
		}
	}

	// The last answers and deliveries, within bounds.
	for _, c := range conns {
		c.inflight.wait(time.Until(sendEnd.Add(10 * time.Second)))
	}
	perRoom := int64(l.conns / l.rooms)
	deadline := time.Now().Add(15 * time.Second)
	for delivered.Load() < acked.Load()*perRoom && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // polling a counter, bounded by the deadline
	}
	for role, f := range cpu {
		var secs float64
		for _, s := range f() {
			secs += s.CPUSecs
		}
		if n := acked.Load(); n > 0 {
			res.CPU[role] = secs * 1e6 / float64(n)
		}
	}
	res.Sent, res.Acked, res.Errors, res.Delivered, res.Closed = sent, acked.Load(), errs.Load(), delivered.Load(), closed.Load()
	res.Expected = res.Acked * perRoom
	if res.Expected > 0 {
		res.DeliveryRatio = float64(res.Delivered) / float64(res.Expected)
	}
	res.Latency, res.AckLatency = percentiles(lat.d), percentiles(ack.d)
	return res, nil
}

// send runs the open-loop schedule: each room a message every
// rooms/rate seconds, from its connections in turn, the rooms' clocks
// staggered evenly. It returns how many sends were written.
func (l *scaleLoad) send(ctx context.Context, conns []*scaleConn) int64 {
	var sent atomic.Int64
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) * float64(l.rooms) / l.rate)
	start := time.Now()
	perRoom := l.conns / l.rooms
	for r := 0; r < l.rooms; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := start.Add(time.Duration(r) * interval / time.Duration(l.rooms))
			for n := 0; time.Since(start) < l.dur && ctx.Err() == nil; n++ {
				time.Sleep(time.Until(next)) // the open-loop schedule
				next = next.Add(interval)
				c := conns[r+l.rooms*(n%perRoom)]
				ref := fmt.Sprintf("s%d-%d", r, n)
				now := time.Now()
				c.inflight.sent(ref, now)
				if err := c.ws.WriteJSON(map[string]string{"type": "send", "room": c.room, "ref": ref,
					"body": fmt.Sprintf("lg %d %d", now.UnixNano(), n)}); err != nil {
					return
				}
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	return sent.Load()
}
