package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OpsMux is the operations listener of a worker process (the persister,
// the webhook dispatcher): /healthz (alive), /readyz (503 with the list
// failing returns, the contract's error shape plus "unavailable"),
// /metrics and, with withPprof, Go's profiler.
func OpsMux(withPprof bool, failing func(ctx context.Context) []string) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":"ok"}`)) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if down := failing(ctx); len(down) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{
				"error":       map[string]string{"code": "unavailable", "message": "dependencies unavailable"},
				"unavailable": down,
			})
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})
	mux.Handle("GET /metrics", promhttp.Handler())
	if withPprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	}
	return mux
}

// Worker is the work of a worker process: it runs until ctx ends (nil)
// or it fails.
type Worker func(ctx context.Context) error

// RunWorker serves ops on addr and runs work until ctx ends, work fails or
// the listener fails; then it stops work (cancelling its context and
// waiting), calls each of after in order (leave the consumer group, flush
// writers), and shuts the listener down last, so the process stays
// observable while it stops.
func RunWorker(ctx context.Context, log *slog.Logger, addr string, ops http.Handler, work Worker, after ...func() error) error {
	srv := &http.Server{Addr: addr, Handler: ops, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("listening", "addr", addr)

	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- work(wctx) }()
	var runErr error
	select {
	case err := <-errc:
		runErr = fmt.Errorf("http: %w", err)
	case err := <-done:
		runErr = err
		done <- nil
	case <-ctx.Done():
	}
	stop()
	if err := <-done; err != nil && runErr == nil {
		runErr = err
	}
	for _, f := range after {
		if err := f(); err != nil {
			log.Warn("stopping", "err", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
		runErr = err
	}
	log.Info("stopped")
	return runErr
}
