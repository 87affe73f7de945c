package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rookery-chat/rookery/packages/devenv"
)

// startRedis starts a single Redis on port, or three masters with a
// replica each on free ports.
func (s *Stack) startRedis(ctx context.Context, port int) error {
	if !s.RedisCluster {
		dir := filepath.Join(s.Dir, "redis")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		r, err := devenv.StartRedis(ctx, dir, port, devenv.RedisOptions{Out: s.Out})
		s.Redis = r
		return err
	}
	ports, err := devenv.FreePorts(12)
	if err != nil {
		return err
	}
	s.RC, err = devenv.StartRedisCluster(ctx, filepath.Join(s.Dir, "redis-cluster"), ports, 3, s.Out)
	return err
}

// redisEnv is the servers' REDIS_URL and REDIS_MODE.
func (s *Stack) redisEnv() []string {
	if s.RC != nil {
		return []string{"REDIS_URL=" + s.RC.URL(), "REDIS_MODE=cluster"}
	}
	return []string{"REDIS_URL=" + s.Redis.URL(), "REDIS_MODE=single"}
}

// RestartRedis starts the single Redis again on its port and directory; it
// loads the directory's snapshot (dump.rdb) if there is one.
func (s *Stack) RestartRedis(ctx context.Context) error {
	r, err := devenv.StartRedis(ctx, s.Redis.Dir, s.Redis.Port, devenv.RedisOptions{Out: s.Out})
	if err != nil {
		return err
	}
	s.Redis = r
	return nil
}

// SnapshotRedis saves the single Redis's data to its directory now.
func (s *Stack) SnapshotRedis(ctx context.Context) error {
	rc := s.redisClient()
	defer rc.Close()
	return rc.Save(ctx).Err()
}

// DropRedisSnapshot removes the single Redis's snapshot.
func (s *Stack) DropRedisSnapshot() error {
	return removeFile(filepath.Join(s.Redis.Dir, "dump.rdb"))
}

// Shard is the cluster nodes serving key's slot, as indexes into RC.Nodes:
// its master first, then its replicas.
func (s *Stack) Shard(ctx context.Context, key string) ([]int, error) {
	if s.RC == nil {
		return nil, errNoCluster
	}
	rdb := s.redisClient()
	defer rdb.Close()
	slot, err := rdb.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, err
	}
	for _, sl := range slots {
		if int64(sl.Start) > slot || slot > int64(sl.End) {
			continue
		}
		var shard []int
		for _, n := range sl.Nodes {
			if i := s.nodeIndex(n.Addr); i >= 0 {
				shard = append(shard, i)
			}
		}
		if len(shard) == 0 {
			return nil, fmt.Errorf("slot %d: no node of ours in %v", slot, sl.Nodes)
		}
		return shard, nil
	}
	return nil, fmt.Errorf("slot %d is not served", slot)
}

// RestartShard kills -9 every node of the shard serving key at once, so no
// replica can take over, and starts them again, master first: the shard
// comes back with its slots and no data, or, with keepSnapshot, with the
// data of the master's last SAVE (its replicas resync from it). It is the
// cluster's version of a Redis restarted empty or from an old snapshot.
func (s *Stack) RestartShard(ctx context.Context, key string, keepSnapshot bool) error {
	shard, err := s.Shard(ctx, key)
	if err != nil {
		return fmt.Errorf("restart shard: %w", err)
	}
	for _, i := range shard {
		s.RC.Nodes[i].Kill()
	}
	for k, i := range shard {
		if k == 0 && keepSnapshot {
			continue
		}
		if err := removeFile(filepath.Join(s.RC.Nodes[i].Dir, "dump.rdb")); err != nil {
			return err
		}
	}
	for _, i := range shard {
		if err := s.RC.Restart(ctx, i, s.Out); err != nil {
			return err
		}
	}
	return nil
}

// SnapshotShard saves the data of the master serving key to its directory now.
func (s *Stack) SnapshotShard(ctx context.Context, key string) error {
	shard, err := s.Shard(ctx, key)
	if err != nil {
		return fmt.Errorf("snapshot shard: %w", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.RC.Addrs()[shard[0]]})
	defer rdb.Close()
	return rdb.Save(ctx).Err()
}

// MasterAddrs are the addresses of the Redis servers that are masters
// now: the single Redis, or the cluster's masters.
func (s *Stack) MasterAddrs(ctx context.Context) ([]string, error) {
	if s.RC == nil {
		return []string{"127.0.0.1:" + strconv.Itoa(s.Redis.Port)}, nil
	}
	var out []string
	for _, a := range s.RC.Addrs() {
		c := redis.NewClient(&redis.Options{Addr: a})
		info, err := c.Info(ctx, "replication").Result()
		c.Close()
		if err != nil {
			continue // a dead node is no master
		}
		if strings.Contains(info, "role:master") {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("stack: no Redis master answers")
	}
	return out, nil
}

func (s *Stack) nodeIndex(addr string) int {
	for i, a := range s.RC.Addrs() {
		if a == addr {
			return i
		}
	}
	return -1
}
