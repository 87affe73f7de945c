package devenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Proc is a supervised child process whose output lines are prefixed with
// its name.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	tailMu sync.Mutex
	tail   []string // the last tailLines lines of output, oldest first
}

// tailLines is how many of its last output lines a Proc keeps, to say why
// it exited in the error itself: a test's output is often cut to its head
// and end, and the processes' output sits in the middle.
const tailLines = 8

// ProcSpec says how to start a Proc.
type ProcSpec struct {
	Name string
	Path string
	Args []string
	Env  []string // added to the current environment
	Dir  string
	// Out receives the prefixed output; nil means os.Stdout.
	Out io.Writer
	// Attr, if set, is used as the process attributes (e.g. to drop root).
	Attr *syscall.SysProcAttr
}

var outMu sync.Mutex

// StartProc starts the process described by spec.
func StartProc(spec ProcSpec) (*Proc, error) {
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Dir = spec.Dir
	attr := spec.Attr
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	// Its own process group, so a Ctrl-C at the terminal reaches the
	// supervisor only and the shutdown order stays ours.
	attr.Setpgid = true
	// If the supervisor dies, so do its children.
	attr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr = attr
	out := spec.Out
	if out == nil {
		out = os.Stdout
	}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &Proc{Name: spec.Name, cmd: cmd, done: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.keep(sc.Text())
			outMu.Lock()
			fmt.Fprintf(out, "%-10s | %s\n", p.Name, sc.Text())
			outMu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		<-copied
		close(p.done)
	}()
	return p, nil
}

// keep adds line to the tail.
func (p *Proc) keep(line string) {
	p.tailMu.Lock()
	defer p.tailMu.Unlock()
	if len(p.tail) == tailLines {
		copy(p.tail, p.tail[1:])
		p.tail = p.tail[:tailLines-1]
	}
	p.tail = append(p.tail, line)
}

// Tail is the process's last lines of output, oldest first; all of them
// once Done is closed.
func (p *Proc) Tail() []string {
	p.tailMu.Lock()
	defer p.tailMu.Unlock()
	return append([]string(nil), p.tail...)
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the exit error, valid after Done.
func (p *Proc) Err() error { return p.err }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) { _ = p.cmd.Process.Signal(sig) }

// Stop sends sig and waits up to grace for the exit, then kills.
func (p *Proc) Stop(sig os.Signal, grace time.Duration) error {
	select {
	case <-p.done:
		return p.exitErr()
	default:
	}
	p.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s: killed after %s", p.Name, grace)
	}
	return p.exitErr()
}

// Kill ends the process at once (SIGKILL) and waits for it.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *Proc) exitErr() error {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) && ee.Exited() && ee.ExitCode() == 0 {
		return nil
	}
	if errors.As(p.err, &ee) && !ee.Exited() {
		// Ended by the signal we sent: a normal stop.
		return nil
	}
	return p.err
}

// WaitFor polls check until it succeeds, ctx ends or the process exits.
func WaitFor(ctx context.Context, p *Proc, what string, check func(context.Context) error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		var exited <-chan struct{}
		if p != nil {
			exited = p.done
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last error: %v)", what, ctx.Err(), last)
		case <-exited:
			return fmt.Errorf("%s exited before it was ready: %v; its last output: %q", what, p.err, p.Tail())
		case <-tick.C:
		}
	}
}
