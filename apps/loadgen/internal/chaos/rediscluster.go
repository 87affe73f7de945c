package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// roomKey is a key in the load's room's slot.
func (c *cluster) roomKey() string { return "rk:seq:{" + c.room + "}" }

// failOverRoom kills -9 the master that owns the load's room, waits until
// its replica has taken the room's slot over, and starts the killed node
// again (it rejoins as a replica), as an operator would.
func (c *cluster) failOverRoom(ctx context.Context) error {
	if c.RC == nil || c.room == "" {
		return fmt.Errorf("failover: no cluster or no room")
	}
	owner := func() (int, error) {
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.RC.Addrs(), DialTimeout: time.Second})
		defer rdb.Close()
		m, err := rdb.MasterForKey(ctx, c.roomKey())
		if err != nil {
			return 0, err
		}
		if err := m.Ping(ctx).Err(); err != nil {
			return 0, err
		}
		for i, a := range c.RC.Addrs() {
			if a == m.Options().Addr {
				return i, nil
			}
		}
		return 0, fmt.Errorf("failover: no node at %s", m.Options().Addr)
	}
	victim, err := owner()
	if err != nil {
		return err
	}
	c.RC.Nodes[victim].Kill()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if i, err := owner(); err == nil && i != victim {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("failover: no replica took over the room's slot within 30 s")
		}
		pause(ctx, 100*time.Millisecond)
	}
	return c.RC.Restart(ctx, victim, c.Out)
}
