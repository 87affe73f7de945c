package devenv

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a private Redis server.
type Redis struct {
	*Proc
	Port int
	Dir  string
}

// RedisOptions tune StartRedis.
type RedisOptions struct {
	// Persist turns on the append-only file, so a restart keeps the data.
	Persist bool
	Out     io.Writer
}

// URL is the server's redis:// URL.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port) }

// StartRedis runs redis-server on 127.0.0.1:port with its files in dir and
// waits until it answers PING.
func StartRedis(ctx context.Context, dir string, port int, opt RedisOptions) (*Redis, error) {
	bin, err := findBinary("redis-server")
	if err != nil {
		return nil, missing("Redis", "redis-server")
	}
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning"}
	if opt.Persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "everysec")
	} else {
		args = append(args, "--appendonly", "no")
	}
	proc, err := StartProc(ProcSpec{Name: "redis", Path: bin, Args: args, Out: opt.Out})
	if err != nil {
		return nil, err
	}
	r := &Redis{Proc: proc, Port: port, Dir: dir}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	defer client.Close()
	if err := WaitFor(wctx, proc, "redis", func(ctx context.Context) error { return client.Ping(ctx).Err() }); err != nil {
		r.Kill()
		return nil, err
	}
	return r, nil
}

// Shutdown stops the server (SIGTERM).
func (r *Redis) Shutdown() error { return r.Stop(syscall.SIGTERM, 30*time.Second) }
