package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
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
		d, err := os.MkdirTemp("", "rookery-apps-")
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
