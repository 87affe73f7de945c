// Package testenv gives integration tests real backing services in a few
// lines: a fresh migrated PostgreSQL database, a private Redis key and
// channel namespace, and a fresh Kafka topic, all on the services that
// `go tool task test` starts and announces through TEST_DATABASE_URL,
// TEST_REDIS_URL and TEST_KAFKA_BROKERS. A test that lacks them fails loudly
// instead of skipping. For fault tests it also starts private servers that a
// test may stop and restart.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/devenv"
)

const templateDB = "rookery_test_template"

func need(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the tests with `go tool task test`, which starts PostgreSQL, Redis and a Kafka broker", name)
	}
	return v
}

// Ctx is a context that ends with the test (or after a minute).
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Name returns a short random identifier, unique enough for a test run.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

var templateOnce sync.Map // admin URL -> *sync.Once-like error holder

type tmplState struct {
	once sync.Once
	err  error
}

// ensureTemplate creates and migrates the template database once per server,
// serialised across test processes by an advisory lock.
func ensureTemplate(ctx context.Context, adminURL string) error {
	v, _ := templateOnce.LoadOrStore(adminURL, &tmplState{})
	st := v.(*tmplState)
	st.once.Do(func() {
		st.err = func() error {
			c, err := pgx.Connect(ctx, adminURL)
			if err != nil {
				return err
			}
			defer c.Close(ctx)
			if _, err := c.Exec(ctx, "SELECT pg_advisory_lock(4242)"); err != nil {
				return err
			}
			defer c.Exec(context.Background(), "SELECT pg_advisory_unlock(4242)")
			var exists bool
			if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname=$1)", templateDB).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				if _, err := c.Exec(ctx, "CREATE DATABASE "+templateDB); err != nil {
					return err
				}
			}
			// Migrating is idempotent, so a template from an older run catches up.
			pool, err := db.Open(ctx, withDB(adminURL, templateDB), 2)
			if err != nil {
				return err
			}
			err = db.Migrate(ctx, pool, nil)
			pool.Close()
			return err
		}()
	})
	return st.err
}

func withDB(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// DatabaseURL creates a fresh migrated database for the test, dropped when
// the test ends, and returns its URL.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	admin := need(t, "TEST_DATABASE_URL")
	return databaseOn(t, admin)
}

func databaseOn(t testing.TB, admin string) string {
	t.Helper()
	ctx := Ctx(t)
	if err := ensureTemplate(ctx, admin); err != nil {
		t.Fatalf("testenv: template database: %v", err)
	}
	name := Name("t_")
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: connect %s: %v", admin, err)
	}
	defer c.Close(ctx)
	// CREATE DATABASE ... TEMPLATE fails while another session is connected
	// to the template; that only happens briefly while it is migrated.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = c.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, templateDB))
		if err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "being accessed") {
			break
		}
		time.Sleep(20 * time.Millisecond) // retry on the template lock, bounded by deadline
	}
	if err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return withDB(admin, name)
}

// DB returns a pool on a fresh migrated database.
func DB(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := Ctx(t)
	pool, err := db.Open(ctx, DatabaseURL(t), 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// RedisURL is the shared test Redis. Tests isolate themselves with a key
// prefix from RedisPrefix rather than a database number, since pub/sub
// channels ignore database numbers.
func RedisURL(t testing.TB) string {
	t.Helper()
	return need(t, "TEST_REDIS_URL")
}

// RedisPrefix is a fresh key and channel prefix for one test.
func RedisPrefix() string { return Name("t") + ":" }

// RedisMode is the shared test Redis's mode: "single", or "cluster" under
// `REDIS_MODE=cluster go tool task test`.
func RedisMode() string {
	if m := os.Getenv("TEST_REDIS_MODE"); m != "" {
		return m
	}
	return "single"
}

// Redis returns a client on the shared test Redis (a cluster client in
// cluster mode).
func Redis(t testing.TB) redis.UniversalClient {
	t.Helper()
	var c redis.UniversalClient
	if RedisMode() == "cluster" {
		opt, err := redis.ParseClusterURL(RedisURL(t))
		if err != nil {
			t.Fatal(err)
		}
		c = redis.NewClusterClient(opt)
	} else {
		opt, err := redis.ParseURL(RedisURL(t))
		if err != nil {
			t.Fatal(err)
		}
		c = redis.NewClient(opt)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// DeleteKeys deletes every key starting with prefix, on every node of a
// cluster. On a cluster the masters are read from CLUSTER NODES at the
// moment, not from the client's view of the cluster, which may lag one
// that formed a moment ago (a key on a master it did not list survived).
func DeleteKeys(t testing.TB, c redis.UniversalClient, prefix string) {
	t.Helper()
	ctx := context.Background()
	del := func(n redis.Cmdable) error {
		keys, err := n.Keys(ctx, prefix+"*").Result()
		for _, k := range keys {
			n.Del(ctx, k)
		}
		return err
	}
	cl, ok := c.(*redis.ClusterClient)
	if !ok {
		if err := del(c); err != nil {
			t.Fatal(err)
		}
		return
	}
	nodes, err := cl.ClusterNodes(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	opt := cl.Options()
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.Contains(f[2], "master") || strings.Contains(f[2], "fail") {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		n := redis.NewClient(&redis.Options{Addr: addr, Username: opt.Username, Password: opt.Password, TLSConfig: opt.TLSConfig})
		err := del(n)
		_ = n.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Kafka returns the shared broker list and a fresh topic on it.
func Kafka(t testing.TB, partitions int) (brokers, topic string) {
	t.Helper()
	brokers = need(t, "TEST_KAFKA_BROKERS")
	topic = Name("t-")
	if err := devenv.CreateTopic(Ctx(t), brokers, topic, partitions); err != nil {
		t.Fatal(err)
	}
	return brokers, topic
}
