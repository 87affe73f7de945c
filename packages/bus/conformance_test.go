package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/bus/bustest"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

func TestRedisBroker(t *testing.T) {
	bustest.Run(t, func(t *testing.T, recentMax int64) bustest.Target {
		rdb := testenv.Redis(t)
		prefix := testenv.RedisPrefix()
		return bustest.Target{
			Broker: bus.NewRedis(rdb, bus.Keys{Prefix: prefix}, recentMax, time.Hour),
			Lose: func() {
				ctx := context.Background()
				keys, err := rdb.Keys(ctx, prefix+"*").Result()
				if err != nil {
					t.Fatal(err)
				}
				if len(keys) > 0 {
					rdb.Del(ctx, keys...)
				}
			},
		}
	})
}

func TestMemoryBroker(t *testing.T) {
	bustest.Run(t, func(t *testing.T, recentMax int64) bustest.Target {
		m := bus.NewMemory(recentMax, time.Hour)
		return bustest.Target{Broker: m, Lose: m.Restart}
	})
}

// TestRedisClusterBroker: the contract holds on a Redis Cluster of three
// masters with a replica each: every script in one slot, room channels
// sharded over the shards' connections.
func TestRedisClusterBroker(t *testing.T) {
	c := testenv.StartRedisCluster(t, 3)
	ctx := testenv.Ctx(t)
	bustest.Run(t, func(t *testing.T, recentMax int64) bustest.Target {
		rdb, err := bus.OpenRedis(ctx, bus.RedisConfig{URL: c.URL(), Cluster: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		prefix := testenv.RedisPrefix()
		cl := rdb.(*redis.ClusterClient)
		return bustest.Target{
			Broker: bus.NewRedis(rdb, bus.Keys{Prefix: prefix}, recentMax, time.Hour),
			Lose: func() {
				err := cl.ForEachMaster(context.Background(), func(ctx context.Context, m *redis.Client) error {
					keys, err := m.Keys(ctx, prefix+"*").Result()
					for _, k := range keys {
						m.Del(ctx, k)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}
