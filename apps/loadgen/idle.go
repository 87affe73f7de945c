package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// IdleResult is the memory cost of idle, subscribed connections.
type IdleResult struct {
	Scenario    string     `json:"scenario"`
	Connections int        `json:"connections"`
	Before      []procStat `json:"servers_before"`
	After       []procStat `json:"servers_after"`
	// KBPerConn is (RSS after - RSS before) / connections on that server.
	KBPerConn []float64 `json:"kb_per_connection"`
}

func runIdle(ctx context.Context, servers []string, n int, pids []int) (IdleResult, error) {
	res := IdleResult{Scenario: "idle", Connections: n}
	tag := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	owner, err := account(ctx, servers[0], "lg-iowner-"+tag)
	if err != nil {
		return res, err
	}
	room, err := createRoom(ctx, servers[0], owner.Token, "idle-"+tag)
	if err != nil {
		return res, err
	}
	var tokens []string
	for i := 0; i < 10; i++ {
		s, err := account(ctx, servers[0], fmt.Sprintf("lg-i%d-%s", i, tag))
		if err != nil {
			return res, err
		}
		if err := join(ctx, servers[0], s.Token, room.ID); err != nil {
			return res, err
		}
		tokens = append(tokens, s.Token)
	}
	runtime.GC()
	for _, p := range pids {
		s, _ := readProc(p)
		res.Before = append(res.Before, s)
	}
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50)
	var firstErr error
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dial(ctx, servers[i%len(servers)], tokens[i%len(tokens)])
			if err == nil {
				err = subscribe(c, room.ID)
			}
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	time.Sleep(3 * time.Second) // let the servers settle (GC) before measuring RSS
	for i, p := range pids {
		s, _ := readProc(p)
		res.After = append(res.After, s)
		per := float64(n) / float64(len(pids))
		res.KBPerConn = append(res.KBPerConn, float64(s.RSSKB-res.Before[i].RSSKB)/per)
	}
	for _, c := range conns {
		c.Close()
	}
	return res, nil
}
