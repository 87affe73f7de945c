package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rookery-chat/rookery/packages/devenv"
)

// dir makes a directory that a server running as another user (PostgreSQL
// drops root) can reach, removed when the test ends.
func dir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "rookery-test-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(d, 0o755)
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// StartRedis starts a private Redis server that the test may stop, restart
// or flush; it is stopped when the test ends.
func StartRedis(t testing.TB) *devenv.Redis {
	t.Helper()
	port, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	r, err := devenv.StartRedis(Ctx(t), dir(t), port, devenv.RedisOptions{Out: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Kill() })
	return r
}

// RestartRedis starts a Redis server again on the port (and directory) of r,
// which must have stopped.
func RestartRedis(t testing.TB, r *devenv.Redis) *devenv.Redis {
	t.Helper()
	n, err := devenv.StartRedis(Ctx(t), r.Dir, r.Port, devenv.RedisOptions{Out: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Kill() })
	return n
}

// StartPostgres starts a private PostgreSQL server, for tests that stop the
// database; it is stopped when the test ends. It returns the server and the
// URL of a fresh migrated database on it.
func StartPostgres(t testing.TB) (*devenv.Postgres, string) {
	t.Helper()
	port, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := devenv.StartPostgres(Ctx(t), filepath.Join(dir(t), "pg"), port, devenv.PostgresOptions{Fast: true, Out: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Kill() })
	return pg, databaseOn(t, pg.URL("postgres"))
}

// RestartPostgres starts PostgreSQL again on the directory and port of pg.
func RestartPostgres(t testing.TB, pg *devenv.Postgres) *devenv.Postgres {
	t.Helper()
	n, err := devenv.StartPostgres(Ctx(t), pg.Dir, pg.Port, devenv.PostgresOptions{Fast: true, Out: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Kill() })
	return n
}

// testWriter sends a server's output to the test log, shown on failure or -v.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	defer func() { _ = recover() }() // logging after the test ended panics
	w.t.Log(string(p))
	return len(p), nil
}
