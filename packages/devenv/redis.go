package devenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
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
	// TLS, when set, makes the port TLS only, with these PEM files.
	TLS *TLSFiles
	// Users are ACL users (name -> password) with every right; the
	// default user is then switched off.
	Users map[string]string
	// ClusterPort, when not 0, starts the node in cluster mode with its
	// cluster bus on that port (see StartRedisCluster).
	ClusterPort int
	// ReplicaOf, when not 0, makes the server a replica of the one on that
	// port (see StartRedisSentinel).
	ReplicaOf int
}

// TLSFiles are a server's PEM certificate and key, and the CA that signed
// them.
type TLSFiles struct{ Cert, Key, CA string }

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
	if opt.ClusterPort != 0 {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(opt.ClusterPort), "--cluster-node-timeout", "2000",
			"--cluster-require-full-coverage", "no")
	}
	if opt.ReplicaOf != 0 {
		args = append(args, "--replicaof", "127.0.0.1", strconv.Itoa(opt.ReplicaOf))
	}
	copt := &redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1}
	if opt.TLS != nil {
		args[1] = "0" // no plaintext port
		args = append(args, "--tls-port", strconv.Itoa(port), "--tls-cert-file", opt.TLS.Cert,
			"--tls-key-file", opt.TLS.Key, "--tls-ca-cert-file", opt.TLS.CA, "--tls-auth-clients", "no")
		pem, err := os.ReadFile(opt.TLS.CA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		copt.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	}
	for name, pass := range opt.Users {
		args = append(args, "--user", name, "on", ">"+pass, "~*", "&*", "+@all")
		copt.Username, copt.Password = name, pass
	}
	if len(opt.Users) > 0 {
		args = append(args, "--user", "default", "off")
	}
	proc, err := StartProc(ProcSpec{Name: "redis", Path: bin, Args: args, Out: opt.Out})
	if err != nil {
		return nil, err
	}
	r := &Redis{Proc: proc, Port: port, Dir: dir}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := redis.NewClient(copt)
	defer client.Close()
	if err := WaitFor(wctx, proc, "redis", func(ctx context.Context) error { return client.Ping(ctx).Err() }); err != nil {
		r.Kill()
		return nil, err
	}
	return r, nil
}

// Shutdown stops the server (SIGTERM).
func (r *Redis) Shutdown() error { return r.Stop(syscall.SIGTERM, 30*time.Second) }
