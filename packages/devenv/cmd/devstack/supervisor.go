package main

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/packages/devenv"
)

// supervised is a process of the local cluster that devstack keeps
// running: when it exits (a crash, or kill -9 to watch a failover) it is
// logged and started again with capped exponential backoff, while the rest
// of the cluster keeps running.
type supervised struct {
	name  string
	start func(ctx context.Context) (*devenv.Proc, error) // starts it and waits until it is ready
	// onStart is told each new PID (dev.env is rewritten).
	onStart func()

	mu   sync.Mutex
	proc *devenv.Proc
	done chan struct{} // closed when run returns
}

const (
	restartMin = 500 * time.Millisecond
	restartMax = 10 * time.Second
	// stableAfter is how long a process must run for its backoff to reset.
	stableAfter = 30 * time.Second
)

// launch starts the process the first time; run then supervises it.
func (s *supervised) launch(ctx context.Context) error {
	p, err := s.start(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.done = make(chan struct{}) // closed by run, which the caller starts next
	s.mu.Unlock()
	return nil
}

// run restarts the process whenever it exits, until ctx ends.
func (s *supervised) run(ctx context.Context, log *slog.Logger) {
	defer close(s.done)
	delay := restartMin
	for {
		p := s.current()
		started := time.Now()
		select {
		case <-ctx.Done():
			return
		case <-p.Done():
		}
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) >= stableAfter {
			delay = restartMin
		}
		log.Warn("process exited; restarting", "process", s.name, "err", p.Err(), "in", delay)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, restartMax)
			np, err := s.start(ctx)
			if err == nil {
				s.mu.Lock()
				s.proc = np
				s.mu.Unlock()
				log.Info("process restarted", "process", s.name, "pid", np.PID())
				if s.onStart != nil {
					s.onStart()
				}
				break
			}
			if ctx.Err() != nil {
				return
			}
			log.Warn("restart failed", "process", s.name, "err", err, "retry_in", delay)
		}
	}
}

func (s *supervised) current() *devenv.Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// pid is the running process's id.
func (s *supervised) pid() int { return s.current().PID() }

// stop ends supervision (ctx must have ended) and stops the process with
// sig, killing it after grace.
func (s *supervised) stop(log *slog.Logger, sig os.Signal, grace time.Duration) {
	if s.done != nil {
		<-s.done
	}
	if p := s.current(); p != nil {
		if err := p.Stop(sig, grace); err != nil {
			log.Warn("stop", "process", s.name, "err", err)
		}
	}
}
