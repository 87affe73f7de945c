package testenv

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// RepoRoot is the workspace root (where go.work and docker-compose.yml are).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Compose parses and validates the repository's docker-compose.yml as
// Docker Compose itself would.
func Compose(t testing.TB) *types.Project {
	t.Helper()
	root := RepoRoot()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("rookery"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(Ctx(t))
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

// CheckComposeEnv fails the test unless every environment variable that
// docker-compose.yml sets on the given services is one the app reads.
func CheckComposeEnv(t testing.TB, reads []string, services ...string) {
	t.Helper()
	p := Compose(t)
	known := make(map[string]bool, len(reads))
	for _, v := range reads {
		known[v] = true
	}
	for _, name := range services {
		svc, ok := p.Services[name]
		if !ok {
			t.Errorf("docker-compose.yml has no service %q", name)
			continue
		}
		for k := range svc.Environment {
			if !known[k] {
				t.Errorf("service %s sets %s, which the app does not read", name, k)
			}
		}
	}
}
