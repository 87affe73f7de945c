// Package app assembles a chat server from its parts. main only reads the
// configuration and calls Run; tests call New to get several servers in one
// process.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rookery-chat/rookery/apps/server/internal/auth"
	"github.com/rookery-chat/rookery/apps/server/internal/config"
	"github.com/rookery-chat/rookery/apps/server/internal/history"
	"github.com/rookery-chat/rookery/apps/server/internal/httpapi"
	"github.com/rookery-chat/rookery/apps/server/internal/ratelimit"
	"github.com/rookery-chat/rookery/apps/server/internal/realtime"
	"github.com/rookery-chat/rookery/apps/server/internal/store"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/db"
)

var (
	_ httpapi.Store          = (*store.Store)(nil)
	_ httpapi.Limiter        = (*ratelimit.Window)(nil)
	_ httpapi.Events         = (*realtime.Hub)(nil)
	_ realtime.Store         = (*store.Store)(nil)
	_ httpapi.Rooms          = (*history.Reader)(nil)
	_ auth.Users             = (*store.Store)(nil)
	_ httpapi.Authenticator  = (*auth.Authenticator)(nil)
	_ realtime.Authenticator = (*auth.Authenticator)(nil)
	_ httpapi.ServerStore    = (*store.Store)(nil)
	_ httpapi.Publisher      = (*realtime.Hub)(nil)
)

// App is one chat server.
type App struct {
	log     *slog.Logger
	cfg     config.Config
	pool    *pgxpool.Pool
	handler http.Handler
	admin   http.Handler
	// draining makes /readyz answer 503 (BeginDrain).
	draining atomic.Bool
	hub      *realtime.Hub
	closers  []func()
}

// New connects to the dependencies, migrates the database and builds the
// handlers. Close releases what New acquired.
func New(ctx context.Context, log *slog.Logger, cfg config.Config) (_ *App, err error) {
	a := &App{log: log, cfg: cfg}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.pool, err = db.OpenWarm(ctx, cfg.DatabaseURL, cfg.DBMaxConns, cfg.DBMinConns)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.pool.Close)
	if err := db.Migrate(ctx, a.pool, log); err != nil {
		return nil, err
	}
	rdb, err := bus.OpenRedis(ctx, bus.RedisConfig{URL: cfg.RedisURL, Cluster: cfg.RedisMode == "cluster",
		Sentinel: cfg.RedisMode == "sentinel", CAFile: cfg.RedisTLSCAFile})
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { _ = rdb.Close() })
	broker := bus.NewRedis(rdb, bus.Keys{Prefix: cfg.RedisPrefix}, cfg.RecentMax, cfg.RecentTTL)

	kfk, err := bus.NewKafka(cfg.KafkaBrokers, cfg.Kafka)
	if err != nil {
		return nil, err
	}
	if cfg.KafkaCreateTopic {
		if err := kfk.EnsureTopic(ctx, cfg.KafkaTopic, cfg.KafkaPartitions); err != nil {
			return nil, err
		}
	}
	producer := bus.NewProducer(bus.ProducerConfig{Kafka: kfk, Topic: cfg.KafkaTopic, BatchTimeout: cfg.KafkaBatchTimeout, WriteTimeout: cfg.KafkaWriteTimeout})
	a.closers = append(a.closers, func() {
		if err := producer.Close(); err != nil {
			log.Error("kafka producer close", "err", err)
		}
	})

	st := store.New(a.pool)
	authn := auth.NewAuthenticator(st, jwtConfig(log, cfg.JWT))
	a.closers = append(a.closers, startSweeper(log, st, tokenSweepEvery).stop)
	ropts := realtimeOptions(cfg)
	ropts.Auth = authn
	if a.hub, err = realtime.NewHub(log, ropts, st, broker, producer); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, a.hub.Close)
	deps := httpapi.Deps{
		Log:        log,
		Config:     cfg,
		Store:      st,
		Auth:       authn,
		Events:     a.hub,
		Rooms:      a.hub.History(),
		WebSocket:  a.hub,
		Limiter:    ratelimit.NewWindow(broker, cfg.LimitWindow),
		Draining:   &a.draining,
		Server:     st,
		Publisher:  a.hub,
		BotLimiter: ratelimit.NewWindow(broker, time.Second),
		Markers:    producer,
		Checks: []httpapi.Check{
			{Name: "postgres", Fn: st.Ping},
			{Name: "redis", Fn: broker.Ping},
			{Name: "kafka", Fn: kfk.Reachable},
		},
	}
	a.handler, a.admin = httpapi.NewRouter(deps), httpapi.NewAdminRouter(deps)
	return a, nil
}

// Handler serves the HTTP API and the WebSocket endpoint.
func (a *App) Handler() http.Handler { return a.handler }

// AdminHandler serves the admin listener: probes, metrics, profiler.
func (a *App) AdminHandler() http.Handler { return a.admin }

// BeginDrain makes the server unready: /readyz answers 503 from now on,
// while everything else is still served.
func (a *App) BeginDrain() { a.draining.Store(true) }

// Drain tells every client to go elsewhere and waits, up to ctx, until they
// are gone and every accepted message is flushed to Kafka.
func (a *App) Drain(ctx context.Context) {
	if a.hub != nil {
		a.hub.Drain(ctx)
	}
}

// Close releases the dependencies, last acquired first.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// HTTPServer is the server's listener with its timeouts: a request must
// arrive within HTTP_READ_TIMEOUT and be answered within
// HTTP_WRITE_TIMEOUT, and a keep-alive connection may idle for
// HTTP_IDLE_TIMEOUT. A WebSocket is not bound by them: the upgrade clears
// the deadlines of the connection it takes over (socket.Writers.Upgrade).
func HTTPServer(cfg config.Config, h http.Handler) *http.Server {
	return &http.Server{Addr: cfg.HTTPAddr, Handler: h, ReadHeaderTimeout: min(10*time.Second, cfg.HTTPReadTimeout),
		ReadTimeout: cfg.HTTPReadTimeout, WriteTimeout: cfg.HTTPWriteTimeout, IdleTimeout: cfg.HTTPIdleTimeout}
}

// Run serves on cfg.HTTPAddr (and the admin endpoints on cfg.AdminAddr)
// until ctx ends, then shuts down in order: unready for DRAIN_GRACE while
// still serving, stop accepting, drain clients and Kafka, close the
// dependencies.
func Run(ctx context.Context, log *slog.Logger, cfg config.Config) error {
	a, err := New(ctx, log, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	srv := HTTPServer(cfg, a.Handler())
	errc := make(chan error, 2)
	// The public port is bound first: an admin address with port 0 (the
	// tests' stacks) could otherwise be given the very port that was
	// picked for HTTP_ADDR, and the server would fail to start.
	pub, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	if cfg.AdminAddr != "" {
		// Bound before anything is served, so a taken admin port fails
		// the start instead of leaving a server nobody can scrape.
		ln, err := net.Listen("tcp", cfg.AdminAddr)
		if err != nil {
			_ = pub.Close()
			return fmt.Errorf("admin listener: %w", err)
		}
		admin := &http.Server{Handler: a.AdminHandler(), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: cfg.HTTPReadTimeout, IdleTimeout: cfg.HTTPIdleTimeout}
		go func() { errc <- fmt.Errorf("admin: %w", admin.Serve(ln)) }()
		defer admin.Close() // when Run returns, after the drain: metrics stay scrapable while draining
		log.Info("admin listening", "addr", ln.Addr().String())
	}
	go func() { errc <- srv.Serve(pub) }()
	log.Info("listening", "addr", pub.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	// Unready first, still serving: load balancers see /readyz fail and
	// move new clients elsewhere before the listener closes.
	a.BeginDrain()
	log.Info("shutting down: unready", "grace", cfg.DrainGrace)
	select {
	case <-time.After(cfg.DrainGrace):
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	}
	log.Info("shutting down: closing the listener and draining clients")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout+5*time.Second)
	defer cancel()
	// Shutdown closes the listener first; hijacked WebSockets are not
	// waited for, so Drain handles them.
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(sctx) }()
	a.Drain(sctx)
	if err := <-shut; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// jwtConfig is the JWT checks of cfg; nil when JWTs are off.
func jwtConfig(log *slog.Logger, cfg config.JWT) *auth.JWTConfig {
	if !cfg.Enabled() {
		return nil
	}
	j := &auth.JWTConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, UsernameClaim: cfg.UsernameClaim, Leeway: cfg.Leeway}
	if cfg.HS256Secret != "" {
		j.Secret = []byte(cfg.HS256Secret)
	}
	if cfg.JWKSURL != "" {
		j.JWKS = auth.NewJWKS(log, cfg.JWKSURL, cfg.JWKSRefresh, cfg.JWKSRefetchGap)
	}
	return j
}
