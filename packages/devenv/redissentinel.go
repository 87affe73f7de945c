package devenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the local Sentinel watches.
const SentinelMaster = "rookery"

// RedisSentinel is a master, a replica and one Sentinel watching them
// (quorum 1: enough on one machine), with a 1 s down-after, so a failover
// takes seconds.
type RedisSentinel struct {
	Master, Replica *Redis
	Sentinel        *Proc
	SentinelPort    int
}

// URL is the Sentinel URL as bus.OpenRedis reads it in sentinel mode.
func (s *RedisSentinel) URL() string {
	return fmt.Sprintf("redis://127.0.0.1:%d/0?master_name=%s", s.SentinelPort, SentinelMaster)
}

// Kill stops every process at once.
func (s *RedisSentinel) Kill() {
	for _, r := range []*Redis{s.Master, s.Replica} {
		if r != nil {
			r.Kill()
		}
	}
	if s.Sentinel != nil {
		s.Sentinel.Kill()
	}
}

// StartRedisSentinel starts the master on ports[0], its replica on
// ports[1] and the Sentinel on ports[2], and waits until the Sentinel
// knows the master and its replica.
func StartRedisSentinel(ctx context.Context, dir string, ports [3]int, out io.Writer) (_ *RedisSentinel, err error) {
	s := &RedisSentinel{SentinelPort: ports[2]}
	defer func() {
		if err != nil {
			s.Kill()
		}
	}()
	for i, name := range []string{"master", "replica"} {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		opt := RedisOptions{Out: out}
		if i == 1 {
			opt.ReplicaOf = ports[0]
		}
		r, err := StartRedis(ctx, d, ports[i], opt)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			s.Master = r
		} else {
			s.Replica = r
		}
	}
	bin, err := findBinary("redis-server")
	if err != nil {
		return nil, missing("Redis", "redis-server")
	}
	sdir := filepath.Join(dir, "sentinel")
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(sdir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %d 1\n"+
		"sentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 5000\n",
		ports[2], sdir, SentinelMaster, ports[0], SentinelMaster, SentinelMaster)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, err
	}
	s.Sentinel, err = StartProc(ProcSpec{Name: "sentinel", Path: bin, Args: []string{conf, "--sentinel"}, Out: out})
	if err != nil {
		return nil, err
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(ports[2])})
	defer sc.Close()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = WaitFor(wctx, s.Sentinel, "sentinel", func(ctx context.Context) error {
		replicas, err := sc.Replicas(ctx, SentinelMaster).Result()
		if err != nil {
			return err
		}
		if len(replicas) == 0 {
			return fmt.Errorf("sentinel does not know the replica yet")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}
