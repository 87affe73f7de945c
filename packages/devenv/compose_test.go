package devenv_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

// TestComposeFile checks the container setup that cannot run here: every
// part of the cluster is in docker-compose.yml, apps are built from the
// Dockerfile and have health checks, and they wait for their dependencies.
func TestComposeFile(t *testing.T) {
	p := testenv.Compose(t)
	for _, name := range []string{"postgres", "redis", "kafka", "server-1", "server-2", "persister", "webhooks", "web"} {
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
	for _, name := range []string{"server-1", "server-2", "persister", "webhooks"} {
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
		if name != "persister" && name != "webhooks" {
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

// TestGrafanaDashboard: deploy/grafana/rookery.json is a dashboard whose
// every query names metrics the apps register (a renamed metric would
// leave an empty panel nobody notices).
func TestGrafanaDashboard(t *testing.T) {
	root := testenv.RepoRoot()
	b, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "rookery.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("rookery.json: %v", err)
	}
	registered := map[string]bool{}
	decl := regexp.MustCompile(`Name:\s*"(rookery_[a-z_]+)"`)
	err = filepath.WalkDir(filepath.Join(root, "apps"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			registered[m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || len(dash.Panels) < 8 {
		t.Fatalf("uid %q, %d panels", dash.UID, len(dash.Panels))
	}
	used := regexp.MustCompile(`rookery_[a-z_]+`)
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, name := range used.FindAllString(q.Expr, -1) {
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					name = strings.TrimSuffix(name, suffix)
				}
				if !registered[name] {
					t.Errorf("panel %q queries %s, which no app registers", p.Title, name)
				}
			}
		}
	}
}
