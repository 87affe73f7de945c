package testenv

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.yaml.in/yaml/v4"
)

// HelmValues parses the chart's values.yaml.
func HelmValues(t testing.TB) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(), "deploy", "helm", "rookery", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("values.yaml: %v", err)
	}
	return v
}

// CheckHelmValues fails the test unless the chart's values.yaml lists under
// <app>.config every variable the app reads, but those the chart sets by
// itself (setByChart: the Secret's connections, the pod's name), and
// nothing the app does not read: every setting of the README is a value.
func CheckHelmValues(t testing.TB, reads []string, app string, setByChart ...string) {
	t.Helper()
	section, _ := HelmValues(t)[app].(map[string]any)
	config, ok := section["config"].(map[string]any)
	if !ok {
		t.Fatalf("values.yaml has no %s.config", app)
	}
	for _, v := range reads {
		if _, listed := config[v]; !listed && !slices.Contains(setByChart, v) {
			t.Errorf("values.yaml: %s.config lacks %s", app, v)
		}
	}
	for k := range config {
		if !slices.Contains(reads, k) {
			t.Errorf("values.yaml: %s.config has %s, which the app does not read", app, k)
		}
	}
}
