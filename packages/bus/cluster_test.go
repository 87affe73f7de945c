package bus_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

// events is a bus.Handler that passes what it gets on a channel.
type events chan string

func (e events) OnMessage(room string, frame []byte) { e <- "msg " + room + " " + string(frame) }
func (e events) OnSkip(room string, seq int64)       { e <- fmt.Sprintf("skip %s %d", room, seq) }
func (e events) OnSubscribed(room string)            { e <- "subscribed " + room }
func (e events) OnControl(payload []byte)            {}

// await waits for an event with the prefix want, dropping others.
func (e events) await(t *testing.T, want string, d time.Duration) bool {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case got := <-e:
			if strings.HasPrefix(got, want) {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// TestRedisClusterSlotMigration: when an operator moves a room's slot to
// another master (resharding), that master's shard drops the room's
// channel; the subscriber subscribes again on the new shard, confirms it
// (so the room repairs from the cache), and the room's frames, now
// published on the new shard, keep arriving.
func TestRedisClusterSlotMigration(t *testing.T) {
	ctx := testenv.Ctx(t)
	c := testenv.StartRedisCluster(t, 3)
	rdb, err := bus.OpenRedis(ctx, bus.RedisConfig{URL: c.URL(), Cluster: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	keys := bus.Keys{Prefix: testenv.RedisPrefix()}
	b := bus.NewRedis(rdb, keys, 100, time.Hour)

	h := make(events, 1000)
	sub := b.Subscribe(ctx, h)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); sub.Run(rctx) }()
	t.Cleanup(func() { stop(); sub.Close(); <-done })

	room := "migrating-room"
	if err := sub.Subscribe(ctx, room); err != nil {
		t.Fatal(err)
	}
	if !h.await(t, "subscribed "+room, 10*time.Second) {
		t.Fatal("the room was never subscribed")
	}
	if err := b.Publish(ctx, room, []byte("before")); err != nil {
		t.Fatal(err)
	}
	if !h.await(t, "msg "+room+" before", 10*time.Second) {
		t.Fatal("no frame before the migration")
	}

	moveSlot(ctx, t, c.Addrs()[:c.Masters], keys.Channel(room))

	if !h.await(t, "subscribed "+room, 15*time.Second) {
		t.Fatal("the room was not subscribed again on its new shard")
	}
	// Anything published between the move and the new subscription is
	// the repair's job; what is published after it must arrive live.
	for i := 0; ; i++ {
		frame := fmt.Sprintf("after-%d", i)
		if err := b.Publish(ctx, room, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		if h.await(t, "msg "+room+" "+frame, time.Second) {
			break
		}
		if i == 10 {
			t.Fatal("no frame reached the subscriber after its room's slot moved")
		}
	}
}

// moveSlot moves key's slot, with its keys, from the master that owns it
// to another of masters, the way redis-cli --cluster reshard does.
func moveSlot(ctx context.Context, t *testing.T, masters []string, key string) {
	t.Helper()
	nodes := make([]*redis.Client, len(masters))
	ids := make([]string, len(masters))
	for i, a := range masters {
		nodes[i] = redis.NewClient(&redis.Options{Addr: a})
		t.Cleanup(func() { _ = nodes[i].Close() })
		id, err := nodes[i].Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	slot, err := nodes[0].ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	slots, err := nodes[0].ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	from := -1
	for _, s := range slots {
		for i, id := range ids {
			if int64(s.Start) <= slot && slot <= int64(s.End) && s.Nodes[0].ID == id {
				from = i
			}
		}
	}
	if from < 0 {
		t.Fatalf("no master owns slot %d", slot)
	}
	to := (from + 1) % len(nodes)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(nodes[to].Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[from]).Err())
	must(nodes[from].Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[to]).Err())
	host, port, _ := strings.Cut(masters[to], ":")
	for {
		ks, err := nodes[from].ClusterGetKeysInSlot(ctx, int(slot), 100).Result()
		must(err)
		if len(ks) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range ks {
			args = append(args, k)
		}
		must(nodes[from].Do(ctx, args...).Err())
	}
	for _, i := range []int{to, from} {
		must(nodes[i].Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", ids[to]).Err())
	}
	for i := range nodes {
		if i != to && i != from {
			must(nodes[i].Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", ids[to]).Err())
		}
	}
}
