package devenv_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

// TestComposeFile checks the container setup that cannot run here: every
// part of the cluster is in docker-compose.yml, apps are built from the
// Dockerfile and have health checks, and they wait for their dependencies.
func TestComposeFile(t *testing.T) {
	p := testenv.Compose(t)
	for _, name := range []string{"postgres", "redis", "kafka", "server-1", "server-2", "persister", "web"} {
		svc, ok := p.Services[name]
		if !ok {
			t.Errorf("missing service %s", name)
			continue
		}
		if svc.HealthCheck == nil || len(svc.HealthCheck.Test) == 0 {
			t.Errorf("service %s has no health check", name)
		}
	}
	if img := p.Services["kafka"].Image; len(img) < 12 || img[:12] != "apache/kafka" {
		t.Errorf("kafka image is %q, want the official apache/kafka", img)
	}
	for _, name := range []string{"server-1", "server-2", "persister"} {
		svc := p.Services[name]
		if svc.Build == nil {
			t.Errorf("%s is not built from the Dockerfile", name)
		}
		for _, dep := range []string{"postgres", "redis", "kafka"} {
			if d, ok := svc.DependsOn[dep]; !ok || d.Condition != "service_healthy" {
				t.Errorf("%s does not wait for a healthy %s", name, dep)
			}
		}
		need := []string{"DATABASE_URL", "KAFKA_BROKERS"}
		if name != "persister" {
			need = append(need, "REDIS_URL")
		}
		for _, v := range need {
			if svc.Environment[v] == nil {
				t.Errorf("%s does not set %s", name, v)
			}
		}
	}
}

// TestDockerignore: `docker compose up --build` sends the checkout to the
// builder; the local cluster's data (PostgreSQL's directory, over 100 MB),
// the history and built binaries must stay out of it.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		have[strings.TrimSpace(l)] = true
	}
	for _, want := range []string{".data/", ".git/", "artifacts/", "/server", "/loadgen"} {
		if !have[want] {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}
