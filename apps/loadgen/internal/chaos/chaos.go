// Package chaos is the fault suite: for each fault it starts a cluster of
// its own (two servers, a persister, Redis, a Kafka broker, on a database
// of a PostgreSQL it starts), runs a steady conversation against it
// (senders retrying with the same ref, subscribers resubscribing with
// after_seq), injects the fault, and checks every guarantee of the
// contract: each acknowledged message reaches every subscriber once and in
// order, is stored once with the seq of its ack, seqs never go back, no
// subscriber is closed by the server, and how soon delivery and storage
// recover.
package chaos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rookery-chat/rookery/apps/loadgen/internal/stack"
	"github.com/rookery-chat/rookery/packages/devenv"
)

// Options configure a run of the suite.
type Options struct {
	Bins        Bins
	Dir         string // working directory for the clusters' data
	Timing      Timing
	Senders     int     // 8
	Subscribers int     // 20
	Rate        float64 // messages a second per sender: 10
	Faults      []Fault
	// RedisCluster runs every fault on a Redis Cluster, not only those
	// that need one.
	RedisCluster bool
	Out          io.Writer // the processes' output
	Log          *slog.Logger
}

// Run runs every fault of opt in turn and returns a row for each.
func Run(ctx context.Context, opt Options) ([]Row, error) {
	port, err := devenv.FreePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		return nil, err
	}
	_ = os.Chmod(opt.Dir, 0o755) // PostgreSQL runs as its own user
	pg, err := devenv.StartPostgres(ctx, filepath.Join(opt.Dir, "pg"), port, devenv.PostgresOptions{Fast: true, Out: opt.Out})
	if err != nil {
		return nil, err
	}
	defer pg.Kill()
	var rows []Row
	for i, f := range opt.Faults {
		opt.Log.Info("chaos: fault", "n", i+1, "of", len(opt.Faults), "fault", f.Name)
		row := runFault(ctx, opt, pg, f, i)
		opt.Log.Info("chaos: done", "fault", f.Name, "acked", row.Acked, "violations", row.Violations())
		rows = append(rows, row)
		if ctx.Err() != nil {
			return rows, ctx.Err()
		}
	}
	return rows, nil
}

func runFault(ctx context.Context, opt Options, pg *devenv.Postgres, f Fault, i int) Row {
	row := Row{Fault: f.Name, ResumeLimit: opt.Timing.GapTimeout + 2*time.Second, StoreLimit: 5 * time.Second}
	fail := func(err error) Row { row.Err = err.Error(); return row }
	tm := opt.Timing
	name := fmt.Sprintf("chaos_%d_%d", time.Now().Unix(), i)
	if err := pg.CreateDatabase(ctx, name); err != nil {
		return fail(err)
	}
	st, err := stack.Start(ctx, stack.Spec{Bins: opt.Bins, Dir: filepath.Join(opt.Dir, name), Out: opt.Out, PG: pg,
		DBURL: pg.URL(name), RedisCluster: f.Cluster || opt.RedisCluster,
		Settings: []string{"KAFKA_WRITE_TIMEOUT=" + tm.KafkaWriteTimeout.String(), "GAP_TIMEOUT=" + tm.GapTimeout.String(), "LOG_LEVEL=info"}})
	if err != nil {
		return fail(fmt.Errorf("start cluster: %w", err))
	}
	c := &cluster{Stack: st}
	defer c.Stop()
	servers := c.URLs()
	room, senders, subs, err := setup(ctx, servers, opt, name)
	if err != nil {
		return fail(err)
	}
	c.room = room
	pool, err := pgxpool.New(ctx, c.DBURL)
	if err != nil {
		return fail(err)
	}
	defer pool.Close()

	sctx, stopSubs := context.WithCancel(ctx)
	var subWG sync.WaitGroup
	for _, s := range subs {
		subWG.Add(1)
		go func() { defer subWG.Done(); s.run(sctx) }()
	}
	defer func() { stopSubs(); subWG.Wait() }()
	if err := waitUntil(ctx, 20*time.Second, func() bool { return allSubscribed(subs) }); err != nil {
		return fail(fmt.Errorf("subscribers: %w", err))
	}

	a := newAcks()
	start := time.Now()
	stopSending := make(chan struct{})
	lctx, cancelLoad := context.WithTimeout(ctx, tm.Run+3*time.Minute)
	defer cancelLoad()
	var sendWG sync.WaitGroup
	for _, s := range senders {
		sendWG.Add(1)
		go func() { defer sendWG.Done(); s.run(lctx, stopSending, opt.Rate, a) }()
	}
	samples := sampleStored(sctx, pool, room)

	pause(ctx, time.Until(start.Add(tm.FaultAt-f.Lead(tm))))
	if err := f.Inject(ctx, c, tm); err != nil {
		row.Err = "inject: " + err.Error()
	}
	faultEnd := time.Now()
	// The load goes on for the run, and at least 10 s past the fault: the
	// room must recover while it never goes quiet.
	pause(ctx, time.Until(later(start.Add(tm.Run), faultEnd.Add(10*time.Second))))
	close(stopSending)
	sendWG.Wait() // each sender finishes the send it has in flight

	a.mu.Lock()
	var acked []int64
	var before []string
	for ref, q := range a.seq {
		acked = append(acked, q)
		if !a.at[ref].After(faultEnd) {
			before = append(before, ref)
		}
	}
	a.mu.Unlock()
	// Let delivery and storage finish, within bounds.
	_ = waitUntil(ctx, 30*time.Second, func() bool {
		for _, s := range subs {
			if !s.has(acked) {
				return false
			}
		}
		return true
	})
	var last sample // the drain's own observation, in case it came first
	if waitUntil(ctx, 30*time.Second, func() bool {
		n, err := countStored(ctx, pool, room)
		last = sample{time.Now(), n}
		return err == nil && n >= len(acked)
	}) != nil {
		dumpPersister(opt.Log, c.Persister)
	}
	stopSubs()
	subWG.Wait()
	stored, err := storedRefs(ctx, pool, room)
	if err != nil {
		return fail(err)
	}
	row.fill(a, subs, stored, before, faultEnd, append(samples(), last))
	return row
}

// dumpPersister makes a persister that stopped storing print its
// goroutines (SIGQUIT) into the processes' output before the cluster is torn
// down, so a stall that happens only now and then can be read afterwards.
func dumpPersister(log *slog.Logger, p *devenv.Proc) {
	select {
	case <-p.Done():
		log.Error("chaos: the persister had exited", "err", p.Err())
		return
	default:
	}
	log.Error("chaos: storage behind; the persister's goroutines follow in its output")
	p.Signal(syscall.SIGQUIT)
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// setup makes the accounts and the room, and the load's clients.
func setup(ctx context.Context, servers []string, opt Options, name string) (string, []*sender, []*subscriber, error) {
	tokens := make([]string, opt.Senders+opt.Subscribers)
	for i := range tokens {
		t, err := signup(ctx, servers[i%2], fmt.Sprintf("u%d_%d", i, time.Now().UnixNano()%1e6))
		if err != nil {
			return "", nil, nil, fmt.Errorf("signup: %w", err)
		}
		tokens[i] = t
	}
	var created struct{ Room struct{ ID string } }
	if err := as(servers[0], tokens[0]).Call(ctx, "POST", "/rooms", map[string]string{"name": name, "visibility": "public"}, &created); err != nil {
		return "", nil, nil, err
	}
	room := created.Room.ID
	for i, t := range tokens[1:] {
		if err := as(servers[i%2], t).Call(ctx, "POST", "/rooms/"+room+"/join", nil, nil); err != nil {
			return "", nil, nil, err
		}
	}
	var senders []*sender
	var subs []*subscriber
	for i, t := range tokens {
		if i < opt.Senders {
			senders = append(senders, &sender{name: fmt.Sprintf("s%d", i), token: t, servers: servers, cur: i % 2, room: room})
		} else {
			subs = append(subs, &subscriber{token: t, servers: servers, cur: i % 2, room: room, batch: i%2 == 1, got: map[int64]time.Time{}})
		}
	}
	return room, senders, subs, nil
}

func allSubscribed(subs []*subscriber) bool {
	for _, s := range subs {
		s.mu.Lock()
		ok := s.subscribedOnce
		s.mu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}

// waitUntil polls cond every 100 ms until it holds or max passes.
func waitUntil(ctx context.Context, max time.Duration, cond func() bool) error {
	deadline := time.Now().Add(max)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", max)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		pause(ctx, 100*time.Millisecond)
	}
	return nil
}
