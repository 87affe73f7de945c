package devenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

var pgBinDirs = []string{"/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin"}

// Postgres is a private PostgreSQL server.
type Postgres struct {
	*Proc
	Port int
	Dir  string
}

// PostgresOptions tune StartPostgres.
type PostgresOptions struct {
	// Fast turns off fsync and friends: for throw-away test data only.
	Fast bool
	Out  io.Writer
}

// URL is the connection URL of database name on this server.
func (p *Postgres) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, name)
}

// StartPostgres runs a PostgreSQL server with its data in dir (initialised
// on first use) on 127.0.0.1:port and waits until it accepts connections.
// Running as root, the server runs as the "postgres" user, since PostgreSQL
// refuses to run as root.
func StartPostgres(ctx context.Context, dir string, port int, opt PostgresOptions) (*Postgres, error) {
	initdb, err := findBinary("initdb", pgBinDirs...)
	if err != nil {
		return nil, missing("PostgreSQL", "postgresql")
	}
	postgres, err := findBinary("postgres", filepath.Dir(initdb))
	if err != nil {
		return nil, missing("PostgreSQL", "postgresql")
	}
	var attr *syscall.SysProcAttr
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("postgres: running as root needs a 'postgres' user to run the server as (apt-get install postgresql creates it): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		args := []string{"-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"}
		if opt.Fast {
			args = append(args, "--no-sync")
		}
		cmd := exec.CommandContext(ctx, initdb, args...)
		cmd.SysProcAttr = attr
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("initdb %s: %w\n%s", dir, err, out)
		}
	}
	args := []string{"-D", dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		"-c", "max_connections=200", "-c", "shared_buffers=128MB"}
	if opt.Fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	proc, err := StartProc(ProcSpec{Name: "postgres", Path: postgres, Args: args, Attr: attr, Out: opt.Out})
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Proc: proc, Port: port, Dir: dir}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err = WaitFor(wctx, proc, "postgres", func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, pg.URL("postgres"))
		if err != nil {
			return err
		}
		return c.Close(ctx)
	})
	if err != nil {
		pg.Kill()
		return nil, err
	}
	return pg, nil
}

// CreateDatabase creates database name unless it exists.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) error {
	c, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var exists bool
	if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// Shutdown stops the server with a fast shutdown (SIGINT).
func (p *Postgres) Shutdown() error { return p.Stop(syscall.SIGINT, 30*time.Second) }

func missing(what, pkg string) error {
	return fmt.Errorf("%s server binaries not found; install them with: sudo apt-get install -y %s (or run as root, where devstack installs them)", what, pkg)
}
