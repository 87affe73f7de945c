package bus_test

import (
	"context"
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
