package testenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/rookery-chat/rookery/packages/devenv"
)

var (
	buildMu  sync.Mutex
	built    = map[string]string{}
	buildDir string
)

// BuildApp builds ./apps/<name> once per test process and returns the
// binary's path, for tests that run an app as a separate process (to kill
// it, for instance).
func BuildApp(t testing.TB, name string) string {
	t.Helper()
	return build(t, name, "./apps/"+name)
}

// build builds the package at pkg (relative to the repository root), with
// the race detector, once per test process.
func build(t testing.TB, name, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	if buildDir == "" {
		sweepBuildDirs()
		d, err := os.MkdirTemp("", buildDirPrefix+strconv.Itoa(os.Getpid())+"-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	out := filepath.Join(buildDir, name)
	cmd := exec.Command("go", "build", "-race", "-o", out, pkg)
	cmd.Dir = RepoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, b)
	}
	built[name] = out
	return out
}

// StartApp runs a built app with env (KEY=value) added to the environment;
// it is killed when the test ends.
func StartApp(t testing.TB, name, bin string, env ...string) *devenv.Proc {
	t.Helper()
	return startProc(t, devenv.ProcSpec{Name: name, Path: bin, Env: env})
}

// startArgs runs a built binary with arguments; it is killed when the test
// ends.
func startArgs(t testing.TB, name, bin string, args []string) *devenv.Proc {
	t.Helper()
	return startProc(t, devenv.ProcSpec{Name: name, Path: bin, Args: args})
}

// startProc starts spec with its output in the test log; the process is
// killed when the test ends.
func startProc(t testing.TB, spec devenv.ProcSpec) *devenv.Proc {
	t.Helper()
	spec.Out = testWriter{t}
	p, err := devenv.StartProc(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// BuildDevstack builds the devstack command (its `kafka` subcommand runs a
// broker in a process of its own).
func BuildDevstack(t testing.TB) string {
	t.Helper()
	return build(t, "devstack", "./packages/devenv/cmd/devstack")
}

// buildDirPrefix names a test process's build directory, followed by the
// process id.
const buildDirPrefix = "rookery-testbin-"

// sweepBuildDirs removes the build directories of test processes that have
// ended. Each process builds into its own directory (packages are tested
// in parallel processes) and nothing runs when a test process exits, so
// without this every run left its race-built binaries behind: some 100 MB
// a package, tens of GB over a few days of runs, until the disk was full.
func sweepBuildDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), buildDirPrefix+"*"))
	for _, d := range dirs {
		rest := strings.TrimPrefix(filepath.Base(d), buildDirPrefix)
		pid, err := strconv.Atoi(rest[:max(strings.IndexByte(rest, '-'), 0)])
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		_ = os.RemoveAll(d)
	}
}

// alive says whether a process with that id exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
