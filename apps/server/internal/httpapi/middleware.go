package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/rookery-chat/rookery/apps/server/internal/ratelimit"
	"github.com/rookery-chat/rookery/packages/protocol"
)

type ctxKey int

const (
	userKey ctxKey = iota
	tokenHashKey
	apiKeyKey
)

// UserFrom returns the authenticated user of a request.
func UserFrom(ctx context.Context) protocol.User {
	u, _ := ctx.Value(userKey).(protocol.User)
	return u
}

// BearerToken extracts the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := BearerToken(r)
		if tok == "" {
			a.writeError(w, r, protocol.Errorf(protocol.CodeUnauthorized, "missing bearer token"))
			return
		}
		u, hash, err := a.auth.Authenticate(r.Context(), tok)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), userKey, u)
		ctx = context.WithValue(ctx, tokenHashKey, hash)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// clientAddr is the caller's IP address, for per-address limits.
func (a *API) clientAddr(r *http.Request) string {
	return ratelimit.ClientAddr(r, a.cfg.TrustForwardedFor)
}

var httpRequests = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "rookery_http_request_duration_seconds",
	Help:    "HTTP API requests by route and status.",
	Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
}, []string{"method", "route", "status"})

func metricsMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// A server span per request, continuing the caller's trace if it
		// sent one (traceparent); named by its route once routed.
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, r.Method+" /api/v1", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r.WithContext(ctx))
		route := chi.RouteContext(r.Context()).RoutePattern()
		status := ww.Status()
		httpRequests.WithLabelValues(r.Method, route, strconv.Itoa(status)).Observe(time.Since(start).Seconds())
		span.SetName(r.Method + " " + route)
		span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", route),
			attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

var tracer = otel.Tracer("github.com/rookery-chat/rookery/apps/server/internal/httpapi")
