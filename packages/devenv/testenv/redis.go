package testenv

import (
	"testing"

	"github.com/rookery-chat/rookery/packages/devenv"
)

// StartRedisWith is StartRedis with options (TLS, ACL users).
func StartRedisWith(t testing.TB, opt devenv.RedisOptions) *devenv.Redis {
	t.Helper()
	port, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	opt.Out = testWriter{t}
	r, err := devenv.StartRedis(Ctx(t), dir(t), port, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Kill() })
	return r
}

// StartRedisCluster starts a private Redis Cluster of masters, each with a
// replica; it is killed when the test ends.
func StartRedisCluster(t testing.TB, masters int) *devenv.RedisCluster {
	t.Helper()
	ports, err := devenv.FreePorts(4 * masters) // a client and a cluster bus port per node
	if err != nil {
		t.Fatal(err)
	}
	c, err := devenv.StartRedisCluster(Ctx(t), dir(t), ports, masters, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	return c
}

// StartRedisSentinel starts a private master, replica and Sentinel; they
// are killed when the test ends.
func StartRedisSentinel(t testing.TB) *devenv.RedisSentinel {
	t.Helper()
	ports, err := devenv.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	s, err := devenv.StartRedisSentinel(Ctx(t), dir(t), [3]int(ports), testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}
