package chaos

import (
	"context"
	"syscall"
	"time"

	"github.com/rookery-chat/rookery/packages/devenv"
)

// Timing sets the length of a run and of its faults.
type Timing struct {
	Run       time.Duration // load
	FaultAt   time.Duration // when the fault starts, from the load's start
	ServerOff time.Duration // a killed server stays down this long
	// PersisterOff and PostgresOff: how long those stay down.
	PersisterOff, PostgresOff time.Duration
	SnapshotAge               time.Duration // age of the snapshot Redis restarts from
	KafkaWriteTimeout         time.Duration
	GapTimeout                time.Duration
}

// Full is the chaos suite's timing: a 40 s run, the fault 15 s into it.
var Full = Timing{Run: 40 * time.Second, FaultAt: 15 * time.Second, ServerOff: 5 * time.Second,
	PersisterOff: 10 * time.Second, PostgresOff: 30 * time.Second, SnapshotAge: 10 * time.Second,
	KafkaWriteTimeout: 2 * time.Second, GapTimeout: 6 * time.Second}

// Short is the version that runs in the test suite.
var Short = Timing{Run: 14 * time.Second, FaultAt: 5 * time.Second, ServerOff: 3 * time.Second,
	PersisterOff: 6 * time.Second, PostgresOff: 6 * time.Second, SnapshotAge: 4 * time.Second,
	KafkaWriteTimeout: 2 * time.Second, GapTimeout: 3 * time.Second}

// Fault is one fault the suite injects. Inject runs it to its end; it
// starts Lead before FaultAt.
type Fault struct {
	Name   string
	Lead   func(Timing) time.Duration
	Inject func(ctx context.Context, c *cluster, tm Timing) error
	// Cluster runs the fault's servers on a Redis Cluster (three masters
	// with a replica each) even when the suite runs on a single Redis.
	// On a cluster, the Redis faults hit the shard that owns the room.
	Cluster bool
}

func noLead(Timing) time.Duration { return 0 }

// Faults are the faults of the suite, in order.
var Faults = []Fault{
	{Name: "server kill -9", Lead: noLead, Inject: func(ctx context.Context, c *cluster, tm Timing) error {
		c.Server[0].Kill()
		pause(ctx, tm.ServerOff)
		return c.StartServer(ctx, 0)
	}},
	{Name: "persister kill -9, back after a while", Lead: noLead, Inject: func(ctx context.Context, c *cluster, tm Timing) error {
		c.Persister.Kill()
		pause(ctx, tm.PersisterOff)
		return c.StartPersister(ctx)
	}},
	{Name: "kafka kill -9, restarted", Lead: noLead, Inject: func(ctx context.Context, c *cluster, tm Timing) error {
		c.Kafka.Kill()
		return c.StartKafka(ctx)
	}},
	{Name: "kafka stalled 2 x KAFKA_WRITE_TIMEOUT", Lead: noLead, Inject: func(ctx context.Context, c *cluster, tm Timing) error {
		c.StallKafka()
		pause(ctx, 2*tm.KafkaWriteTimeout)
		c.ResumeKafka()
		return nil
	}},
	{Name: "server kill -9 while kafka stalls", Lead: noLead, Inject: func(ctx context.Context, c *cluster, tm Timing) error {
		c.StallKafka()
		pause(ctx, tm.KafkaWriteTimeout/2)
		c.Server[0].Kill()
		pause(ctx, 2*tm.KafkaWriteTimeout-tm.KafkaWriteTimeout/2)
		c.ResumeKafka()
		pause(ctx, tm.ServerOff)
		return c.StartServer(ctx, 0)
	}},
	{Name: "redis restarted empty", Lead: noLead, Inject: func(ctx context.Context, c *cluster, tm Timing) error {
		if c.RC != nil {
			return c.RestartShard(ctx, c.roomKey(), false)
		}
		c.Redis.Kill()
		if err := c.DropRedisSnapshot(); err != nil {
			return err
		}
		return c.RestartRedis(ctx)
	}},
	{Name: "redis restarted from an older snapshot", Lead: func(tm Timing) time.Duration { return tm.SnapshotAge },
		Inject: func(ctx context.Context, c *cluster, tm Timing) error {
			if c.RC != nil {
				if err := c.SnapshotShard(ctx, c.roomKey()); err != nil {
					return err
				}
				pause(ctx, tm.SnapshotAge)
				return c.RestartShard(ctx, c.roomKey(), true)
			}
			if err := c.SnapshotRedis(ctx); err != nil {
				return err
			}
			pause(ctx, tm.SnapshotAge)
			c.Redis.Kill()
			return c.RestartRedis(ctx)
		}},
	{Name: "postgres stopped", Lead: noLead, Inject: func(ctx context.Context, c *cluster, tm Timing) error {
		if err := c.PG.Stop(syscall.SIGINT, 30*time.Second); err != nil {
			return err
		}
		pause(ctx, tm.PostgresOff)
		pg, err := devenv.StartPostgres(ctx, c.PG.Dir, c.PG.Port, devenv.PostgresOptions{Fast: true, Out: c.Out})
		if err != nil {
			return err
		}
		*c.PG = *pg
		return nil
	}},
	{Name: "redis cluster: the room's master kill -9, its replica promoted", Lead: noLead, Cluster: true,
		Inject: func(ctx context.Context, c *cluster, tm Timing) error {
			return c.failOverRoom(ctx)
		}},
}
