package bus_test

import (
	"testing"
	"time"

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
			Lose:   func() { testenv.DeleteKeys(t, rdb, prefix) },
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
	bustest.Run(t, openRedis(bus.RedisConfig{URL: c.URL(), Cluster: true}))
}

// openRedis opens brokers on the Redis cfg names, each under a fresh key
// prefix; losing its data deletes the prefix's keys.
func openRedis(cfg bus.RedisConfig) bustest.Open {
	return func(t *testing.T, recentMax int64) bustest.Target {
		rdb, err := bus.OpenRedis(testenv.Ctx(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		prefix := testenv.RedisPrefix()
		return bustest.Target{
			Broker: bus.NewRedis(rdb, bus.Keys{Prefix: prefix}, recentMax, time.Hour),
			Lose:   func() { testenv.DeleteKeys(t, rdb, prefix) },
		}
	}
}
