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
}

func noLead(Timing) time.Duration { return 0 }

// Faults are the faults of the suite, in order.
var Faults = []Fault{
	{"server kill -9", noLead, func(ctx context.Context, c *cluster, tm Timing) error {
		c.servers[0].Kill()
		pause(ctx, tm.ServerOff)
		return c.startServer(ctx, 0)
	}},
	{"persister kill -9, back after a while", noLead, func(ctx context.Context, c *cluster, tm Timing) error {
		c.persist.Kill()
		pause(ctx, tm.PersisterOff)
		return c.startPersister(ctx)
	}},
	{"kafka kill -9, restarted", noLead, func(ctx context.Context, c *cluster, tm Timing) error {
		c.kafka.Kill()
		return c.startKafka(ctx)
	}},
	{"kafka stalled 2 x KAFKA_WRITE_TIMEOUT", noLead, func(ctx context.Context, c *cluster, tm Timing) error {
		c.stallKafka()
		pause(ctx, 2*tm.KafkaWriteTimeout)
		c.resumeKafka()
		return nil
	}},
	{"server kill -9 while kafka stalls", noLead, func(ctx context.Context, c *cluster, tm Timing) error {
		c.stallKafka()
		pause(ctx, tm.KafkaWriteTimeout/2)
		c.servers[0].Kill()
		pause(ctx, 2*tm.KafkaWriteTimeout-tm.KafkaWriteTimeout/2)
		c.resumeKafka()
		pause(ctx, tm.ServerOff)
		return c.startServer(ctx, 0)
	}},
	{"redis restarted empty", noLead, func(ctx context.Context, c *cluster, tm Timing) error {
		c.redis.Kill()
		if err := c.dropRedisSnapshot(); err != nil {
			return err
		}
		return c.restartRedis(ctx)
	}},
	{"redis restarted from an older snapshot", func(tm Timing) time.Duration { return tm.SnapshotAge },
		func(ctx context.Context, c *cluster, tm Timing) error {
			if err := c.snapshotRedis(ctx); err != nil {
				return err
			}
			pause(ctx, tm.SnapshotAge)
			c.redis.Kill()
			return c.restartRedis(ctx)
		}},
	{"postgres stopped", noLead, func(ctx context.Context, c *cluster, tm Timing) error {
		if err := c.pg.Stop(syscall.SIGINT, 30*time.Second); err != nil {
			return err
		}
		pause(ctx, tm.PostgresOff)
		pg, err := devenv.StartPostgres(ctx, c.pg.Dir, c.pg.Port, devenv.PostgresOptions{Fast: true, Out: c.out})
		if err != nil {
			return err
		}
		*c.pg = *pg
		return nil
	}},
}
