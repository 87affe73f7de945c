package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/rookery-chat/rookery/apps/server/internal/config"
)

// TestOpenAPIMatchesRouter: every route of the public router is in the
// OpenAPI description, and every operation of the description is a route,
// with the same method and path; every $ref resolves; the description is
// served at /api/v1/openapi.json.
func TestOpenAPIMatchesRouter(t *testing.T) {
	cfg, err := config.FromMap(map[string]string{"DATABASE_URL": "postgres://x", "REDIS_URL": "redis://x", "KAFKA_BROKERS": "x:1"})
	if err != nil {
		t.Fatal(err)
	}
	h := NewRouter(Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Config: cfg, WebSocket: http.NotFoundHandler()})
	var routes []string
	err = chi.Walk(h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+strings.TrimSuffix(route, "/"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	var described []string
	for path, ops := range doc.Paths {
		for method := range ops {
			described = append(described, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(routes)
	sort.Strings(described)
	if strings.Join(routes, "\n") != strings.Join(described, "\n") {
		t.Errorf("router and description differ\nrouter:\n%s\n\ndescription:\n%s", strings.Join(routes, "\n"), strings.Join(described, "\n"))
	}

	for _, m := range regexp.MustCompile(`"\$ref": "#/components/schemas/([A-Za-z]+)"`).FindAllSubmatch(OpenAPI(), -1) {
		if _, ok := doc.Components.Schemas[string(m[1])]; !ok {
			t.Errorf("$ref to a missing schema %s", m[1])
		}
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || rec.Body.Len() != len(OpenAPI()) {
		t.Errorf("GET /api/v1/openapi.json: %d %s, %d bytes", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}
}
