// Package httpapi is the chat server's HTTP API (shared/PROTOCOL.md, prefix
// /api/v1), with health and metrics endpoints.
package httpapi

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/cors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rookery-chat/rookery/apps/server/internal/config"
	"github.com/rookery-chat/rookery/apps/server/internal/history"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Store is what the API needs from the database adapter.
type Store interface {
	CreateUser(ctx context.Context, username, passwordHash string) (protocol.User, error)
	Credentials(ctx context.Context, username string) (protocol.User, string, error)
	SearchUsers(ctx context.Context, prefix string, max int32) ([]protocol.User, error)
	CreateToken(ctx context.Context, hash []byte, userID string, expires time.Time) error
	DeleteToken(ctx context.Context, hash []byte) error

	CheckMember(ctx context.Context, roomID string, user protocol.User) error
	CreateRoom(ctx context.Context, creator protocol.User, name string, vis protocol.Visibility) (protocol.Room, error)
	Join(ctx context.Context, roomID string, user protocol.User) (protocol.Room, error)
	Leave(ctx context.Context, roomID string, user protocol.User) error
	AddMember(ctx context.Context, roomID string, actor protocol.User, username string) (protocol.Room, protocol.User, error)
	DirectRoom(ctx context.Context, me protocol.User, username string) (protocol.Room, error)
	// ListRooms also returns the user's read marker of each room.
	ListRooms(ctx context.Context, user protocol.User) ([]protocol.Room, []int64, error)
	PublicRooms(ctx context.Context, q string) ([]protocol.Room, error)
	// v1.1: moderation and blocks.
	RemoveMember(ctx context.Context, roomID string, actor protocol.User, userID string) error
	Block(ctx context.Context, me protocol.User, username string) (protocol.User, error)
	Unblock(ctx context.Context, me protocol.User, userID string) error
	Blocked(ctx context.Context, me protocol.User) ([]protocol.User, error)
	RoomMembers(ctx context.Context, roomID string, max int32) ([]protocol.User, error)
}

// Authenticator finds the user of a bearer token (auth.Authenticator).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (protocol.User, []byte, error)
}

// Limiter counts events against cluster-wide limits.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int) error
}

// Events is told of changes other parts of the cluster must hear about.
type Events interface {
	// MembershipChanged: user joined or left room (invalidate caches).
	MembershipChanged(ctx context.Context, roomID, userID string)
	// TokenRevoked: close the user's connections that authenticated with it.
	TokenRevoked(ctx context.Context, userID string, tokenHash []byte)
	// BlocksChanged: blocker blocked or unblocked blocked.
	BlocksChanged(ctx context.Context, blockerID, blockedID string)
}

// Rooms answers the room queries that need live state (sequence numbers
// and messages not yet in PostgreSQL); nil until real-time is wired.
type Rooms interface {
	// Decorate brings LastSeq and Unread of rooms up to date; lastRead[i]
	// is the user's read marker in rooms[i].
	Decorate(ctx context.Context, user protocol.User, rooms []protocol.Room, lastRead []int64)
	// Page serves GET /rooms/{id}/messages for a member.
	Page(ctx context.Context, viewer protocol.User, roomID string, q history.Query) ([]protocol.Message, bool, error)
	// Search serves GET /search.
	Search(ctx context.Context, viewer protocol.User, roomID, query string, limit int) ([]protocol.Message, error)
}

// Check is one readiness probe.
type Check struct {
	Name string
	Fn   func(context.Context) error
}

// Deps are the API's collaborators.
type Deps struct {
	Log     *slog.Logger
	Config  config.Config
	Store   Store
	Auth    Authenticator
	Limiter Limiter
	Events  Events
	Rooms   Rooms
	Checks  []Check
	// Draining, once true, makes /readyz answer 503: the server is
	// shutting down and a load balancer should stop sending it clients.
	Draining *atomic.Bool
	// WebSocket handles GET /ws.
	WebSocket http.Handler
	// The server API (/api/v1/server): its store, the hub it publishes
	// through, and the per-bot send limit (fixed one-second windows).
	Server     ServerStore
	Publisher  Publisher
	BotLimiter Limiter
	Markers    Markers
}

// API holds the handlers.
type API struct {
	log        *slog.Logger
	cfg        config.Config
	store      Store
	auth       Authenticator
	limiter    Limiter
	events     Events
	rooms      Rooms
	checks     []Check
	server     ServerStore
	publisher  Publisher
	botLimiter Limiter
	markers    Markers
	// draining is Deps.Draining (never nil).
	draining *atomic.Bool
}

// NewRouter builds the server's HTTP handler.
func NewRouter(d Deps) http.Handler {
	a := &API{log: d.Log, cfg: d.Config, store: d.Store, auth: d.Auth, limiter: d.Limiter, events: d.Events, rooms: d.Rooms, checks: d.Checks,
		draining: cmp.Or(d.Draining, new(atomic.Bool)), server: d.Server, publisher: d.Publisher, botLimiter: d.BotLimiter, markers: d.Markers}
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(securityHeaders)
	a.probes(r)
	if d.Config.PublicMetrics {
		r.Method(http.MethodGet, "/metrics", promhttp.Handler())
	}
	if d.WebSocket != nil {
		r.Method(http.MethodGet, "/ws", d.WebSocket)
	}
	r.Route("/api/v1", func(r chi.Router) {
		// Cross-origin calls only from the configured origins (the web
		// app's): go-chi/cors treats an empty list as "every origin",
		// which would let any page sign its visitors up and log them in.
		if len(d.Config.AllowedOrigins) > 0 {
			r.Use(cors.Handler(cors.Options{
				AllowedOrigins: d.Config.AllowedOrigins,
				AllowedMethods: []string{"GET", "POST", "DELETE"},
				AllowedHeaders: []string{"Authorization", "Content-Type"},
				ExposedHeaders: []string{"Retry-After"},
				MaxAge:         600,
			}))
		}
		r.Use(metricsMiddleware)
		r.Get("/openapi.json", serveOpenAPI)
		r.Post("/auth/signup", a.handle(a.signup))
		r.Post("/auth/login", a.handle(a.login))
		r.Route("/server", a.serverRoutes)
		r.Group(func(r chi.Router) {
			r.Use(a.authenticate)
			r.Post("/auth/logout", a.handle(a.logout))
			r.Get("/me", a.handle(a.me))
			r.Get("/users", a.handle(a.searchUsers))
			r.Get("/rooms", a.handle(a.listRooms))
			r.Post("/rooms", a.handle(a.createRoom))
			r.Get("/rooms/public", a.handle(a.publicRooms))
			r.Post("/rooms/{id}/join", a.handle(a.join))
			r.Post("/rooms/{id}/leave", a.handle(a.leave))
			r.Post("/rooms/{id}/members", a.handle(a.addMember))
			r.Get("/rooms/{id}/messages", a.handle(a.history))
			r.Get("/rooms/{id}/members", a.handle(a.members))
			r.Delete("/rooms/{id}/members/{user_id}", a.handle(a.removeMember))
			r.Post("/dm", a.handle(a.direct))
			r.Get("/search", a.handle(a.search))
			r.Get("/blocks", a.handle(a.blocked))
			r.Post("/blocks", a.handle(a.block))
			r.Delete("/blocks/{user_id}", a.handle(a.unblock))
		})
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			a.writeError(w, r, protocol.Errorf(protocol.CodeNotFound, "no such endpoint"))
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			a.writeError(w, r, protocol.Errorf(protocol.CodeBadRequest, "method %s not allowed here", r.Method))
		})
	})
	return r
}

// NewAdminRouter builds the admin listener's handler (ADMIN_ADDR): the
// probes, Prometheus metrics and, with PPROF, the profiler. The profiler is
// never on the public listener (it can stall the process), metrics only
// with PUBLIC_METRICS (they tell anyone about load and users).
func NewAdminRouter(d Deps) http.Handler {
	a := &API{log: d.Log, cfg: d.Config, checks: d.Checks, draining: cmp.Or(d.Draining, new(atomic.Bool))}
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	a.probes(r)
	r.Method(http.MethodGet, "/metrics", promhttp.Handler())
	if d.Config.Pprof {
		r.Mount("/debug", middleware.Profiler())
	}
	return r
}

// probes are the health (the process runs) and readiness (its
// dependencies answer) probes, on both listeners: load balancers probe the
// public port, orchestrators either.
func (a *API) probes(r chi.Router) {
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	r.Get("/readyz", a.ready)
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

func (a *API) ready(w http.ResponseWriter, r *http.Request) {
	if a.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"error":       protocol.ErrorDetail{Code: protocol.CodeUnavailable, Message: "shutting down"},
			"unavailable": []string{"draining"},
		})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var failing []string
	for _, c := range a.checks {
		if err := c.Fn(ctx); err != nil {
			a.log.Warn("not ready", "dependency", c.Name, "err", err)
			failing = append(failing, c.Name)
		}
	}
	if len(failing) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"error":       protocol.ErrorDetail{Code: protocol.CodeUnavailable, Message: "dependencies unavailable"},
			"unavailable": failing,
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
}
