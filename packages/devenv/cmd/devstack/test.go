package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"

	"github.com/rookery-chat/rookery/packages/devenv"
)

// runTest starts throw-away services on free ports in a temporary directory,
// runs the command with TEST_DATABASE_URL, TEST_REDIS_URL and
// TEST_KAFKA_BROKERS set, and stops the services whatever happened. It
// returns the command's exit code.
func runTest(ctx context.Context, log *slog.Logger, args []string) (int, error) {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return 2, errors.New("test: no command given")
	}
	dir, err := os.MkdirTemp("", "rookery-devstack-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)
	ports, err := devenv.FreePorts(3)
	if err != nil {
		return 1, err
	}
	s, err := startServices(ctx, log, serviceOptions{dir: dir, pgPort: ports[0], redisPort: ports[1], kafkaPort: ports[2], dbName: "rookery_test", browser: true})
	if err != nil {
		return 1, err
	}
	defer s.stop(log)

	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"TEST_DATABASE_URL="+s.dbURL,
		"TEST_REDIS_URL="+s.redisURL,
		"TEST_REDIS_MODE="+s.redisMode,
		"TEST_KAFKA_BROKERS="+s.brokers,
	)
	// On Ctrl-C the test command gets the signal from the terminal too;
	// give it time to clean up instead of killing it outright.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 30e9
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 1, fmt.Errorf("run %v: %w", args, err)
	}
	return 0, nil
}
