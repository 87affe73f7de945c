// Package servertest starts real chat servers inside a test process, on the
// services of `go tool task test`, and speaks the HTTP API to them.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/app"
	"github.com/rookery-chat/rookery/apps/server/internal/config"
	"github.com/rookery-chat/rookery/packages/devenv"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Cluster is a set of backing services shared by the servers of one test:
// a fresh database, a fresh Redis prefix and a fresh Kafka topic.
type Cluster struct {
	Vars map[string]string
}

// NewCluster prepares fresh state for one test.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	brokers, topic := testenv.Kafka(t, 4)
	return &Cluster{Vars: map[string]string{
		"DATABASE_URL":       testenv.DatabaseURL(t),
		"REDIS_URL":          testenv.RedisURL(t),
		"REDIS_MODE":         testenv.RedisMode(),
		"REDIS_PREFIX":       testenv.RedisPrefix(),
		"KAFKA_BROKERS":      brokers,
		"KAFKA_TOPIC":        topic,
		"KAFKA_CREATE_TOPIC": "false",
		"LOG_LEVEL":          "warn",
		// A test's servers need few connections, and many of them open at
		// once would crowd the test database.
		"DB_MIN_CONNS":          "2",
		"LOGIN_LIMIT_PER_USER":  "1000",
		"LOGIN_LIMIT_PER_ADDR":  "1000",
		"SIGNUP_LIMIT_PER_ADDR": "1000",
		"SEND_RATE":             "100000",
		"SEND_BURST":            "100000",
	}}
}

// Server is one running chat server.
type Server struct {
	*httptest.Server
	App    *app.App
	Config config.Config
}

// Start runs a server with the cluster's settings, overridden by vars.
func (c *Cluster) Start(t testing.TB, id string, vars ...string) *Server {
	t.Helper()
	m := map[string]string{"SERVER_ID": id}
	for k, v := range c.Vars {
		m[k] = v
	}
	for i := 0; i+1 < len(vars); i += 2 {
		m[vars[i]] = vars[i+1]
	}
	cfg, err := config.FromMap(m)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})).With("server", id)
	a, err := app.New(testenv.Ctx(t), log, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The production listener's timeouts, so tests cover them.
	ts := httptest.NewUnstartedServer(a.Handler())
	srv := app.HTTPServer(cfg, a.Handler())
	ts.Config.ReadHeaderTimeout, ts.Config.ReadTimeout = srv.ReadHeaderTimeout, srv.ReadTimeout
	ts.Config.WriteTimeout, ts.Config.IdleTimeout = srv.WriteTimeout, srv.IdleTimeout
	ts.Start()
	s := &Server{Server: ts, App: a, Config: cfg}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Drain(ctx)
		ts.Close()
		a.Close()
	})
	return s
}

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// Code is the contract error code of an error answer.
func (r Response) Code() string {
	e, _ := r.Body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// Do sends a request with an optional bearer token and JSON body (a string
// body is sent as is).
func (s *Server) Do(t testing.TB, method, path, token string, body any) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(testenv.Ctx(t), method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %q", method, path, raw)
		}
	}
	return out
}

// Decode re-decodes the answer into v.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Raw, v); err != nil {
		t.Fatalf("decode %q: %v", r.Raw, err)
	}
}

// Signup creates a user (password "password-<name>") and returns it with a token.
func (s *Server) Signup(t testing.TB, name string) (protocol.User, string) {
	t.Helper()
	r := s.Do(t, "POST", "/api/v1/auth/signup", "", map[string]string{"username": name, "password": "password-" + name})
	if r.Status != http.StatusCreated {
		t.Fatalf("signup %s: %d %s", name, r.Status, r.Raw)
	}
	var out struct {
		User  protocol.User `json:"user"`
		Token string        `json:"token"`
	}
	r.Decode(t, &out)
	return out.User, out.Token
}

// CreateRoom creates a room and returns it.
func (s *Server) CreateRoom(t testing.TB, token, name string, vis protocol.Visibility) protocol.Room {
	t.Helper()
	r := s.Do(t, "POST", "/api/v1/rooms", token, map[string]string{"name": name, "visibility": string(vis)})
	if r.Status != http.StatusCreated {
		t.Fatalf("create room: %d %s", r.Status, r.Raw)
	}
	var out struct {
		Room protocol.Room `json:"room"`
	}
	r.Decode(t, &out)
	return out.Room
}

// testWriter sends log output to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // a log line after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// StartPersister runs the persister app as a separate process on the
// cluster's database and topic; it is killed when the test ends.
func (c *Cluster) StartPersister(t testing.TB, vars ...string) *devenv.Proc {
	t.Helper()
	port, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"DATABASE_URL=" + c.Vars["DATABASE_URL"], "KAFKA_BROKERS=" + c.Vars["KAFKA_BROKERS"],
		"KAFKA_TOPIC=" + c.Vars["KAFKA_TOPIC"], "KAFKA_GROUP=" + c.Vars["KAFKA_TOPIC"],
		"KAFKA_DLQ_TOPIC=" + c.Vars["KAFKA_TOPIC"] + "-dlq", fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port),
		"LOG_LEVEL=warn", "RETRY_MAX=500ms"}
	return testenv.StartApp(t, "persister", testenv.BuildApp(t, "persister"), append(env, vars...)...)
}
