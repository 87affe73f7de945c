// Package config reads the chat server's configuration from the environment.
// Every variable, its default and its meaning is listed in the README.
package config

import (
	"fmt"
	"os"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/rookery-chat/rookery/packages/bus"
)

// Config is the server's configuration.
type Config struct {
	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8080"`
	// AdminAddr serves /metrics, the probes and (with PPROF) the profiler,
	// off the public port; empty turns the admin listener off.
	AdminAddr string `env:"ADMIN_ADDR" envDefault:"127.0.0.1:9091"`
	// PublicMetrics also serves /metrics on HTTP_ADDR, where the contract
	// lists it; deployments that scrape ADMIN_ADDR turn it off.
	PublicMetrics bool `env:"PUBLIC_METRICS" envDefault:"true"`
	// HTTP timeouts of the API (WebSockets are not bound by them).
	HTTPReadTimeout  time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"30s"`
	HTTPWriteTimeout time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"30s"`
	HTTPIdleTimeout  time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"120s"`
	// ServerID names this instance in welcome frames and logs.
	ServerID  string `env:"SERVER_ID"`
	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"text"`
	// Pprof serves /debug/pprof on the admin listener.
	Pprof bool `env:"PPROF" envDefault:"false"`

	DatabaseURL string `env:"DATABASE_URL,required"`
	DBMaxConns  int32  `env:"DB_MAX_CONNS" envDefault:"20"`
	DBMinConns  int32  `env:"DB_MIN_CONNS" envDefault:"20"`
	RedisURL    string `env:"REDIS_URL,required"`
	RedisPrefix string `env:"REDIS_PREFIX" envDefault:"rk:"`
	// RedisMode is "single", "cluster" (REDIS_URL names cluster nodes) or
	// "sentinel" (REDIS_URL names Sentinels and ?master_name=).
	RedisMode         string        `env:"REDIS_MODE" envDefault:"single"`
	KafkaBrokers      []string      `env:"KAFKA_BROKERS,required" envSeparator:","`
	KafkaTopic        string        `env:"KAFKA_TOPIC" envDefault:"chat.messages"`
	KafkaPartitions   int           `env:"KAFKA_PARTITIONS" envDefault:"8"`
	KafkaCreateTopic  bool          `env:"KAFKA_CREATE_TOPIC" envDefault:"true"`
	KafkaBatchTimeout time.Duration `env:"KAFKA_BATCH_TIMEOUT" envDefault:"0s"`
	KafkaWriteTimeout time.Duration `env:"KAFKA_WRITE_TIMEOUT" envDefault:"5s"`
	// RedisTLSCAFile is the CA a rediss:// URL trusts (empty: the system's).
	RedisTLSCAFile string `env:"REDIS_TLS_CA_FILE"`
	// Kafka is how the Kafka clients authenticate.
	Kafka bus.KafkaAuth
	JWT   JWT

	// AllowedOrigins may open WebSockets and call the API from a browser,
	// besides same-origin pages.
	AllowedOrigins []string `env:"ALLOWED_ORIGINS" envSeparator:","`
	// TrustForwardedFor takes the client address from X-Forwarded-For; only
	// behind a proxy that sets it.
	TrustForwardedFor bool `env:"TRUST_FORWARDED_FOR" envDefault:"false"`
	// WSConnsPerAddr caps the WebSockets one client address holds open at
	// once (0: no cap); past it the upgrade gets 429.
	WSConnsPerAddr int `env:"WS_CONNS_PER_ADDR" envDefault:"500"`

	TokenTTL      time.Duration `env:"TOKEN_TTL" envDefault:"720h"`
	LoginPerUser  int           `env:"LOGIN_LIMIT_PER_USER" envDefault:"10"`
	LoginPerAddr  int           `env:"LOGIN_LIMIT_PER_ADDR" envDefault:"30"`
	SignupPerAddr int           `env:"SIGNUP_LIMIT_PER_ADDR" envDefault:"20"`
	LimitWindow   time.Duration `env:"AUTH_LIMIT_WINDOW" envDefault:"1m"`
	MaxBodyBytes  int64         `env:"MAX_BODY_BYTES" envDefault:"65536"`

	// Real-time.
	SendRate  float64 `env:"SEND_RATE" envDefault:"20"`
	SendBurst int     `env:"SEND_BURST" envDefault:"40"`
	SendQueue int     `env:"SEND_QUEUE" envDefault:"128"`
	// BotSendRate is each bot's limit of messages per second through the
	// server API, across the cluster.
	BotSendRate int `env:"BOT_SEND_RATE" envDefault:"50"`
	// Workers read the clients' sockets (watched by one epoll poller) and
	// handle their requests, so a burst is back-pressure, not goroutines.
	// Sends and subscribes, which wait on Kafka or a replay, run off them.
	Workers      int           `env:"WORKERS" envDefault:"128"`
	HelloTimeout time.Duration `env:"HELLO_TIMEOUT" envDefault:"10s"`
	PingInterval time.Duration `env:"PING_INTERVAL" envDefault:"25s"`
	WriteTimeout time.Duration `env:"WRITE_TIMEOUT" envDefault:"10s"`
	WriteDelay   time.Duration `env:"WS_WRITE_DELAY" envDefault:"8ms"`
	RecentMax    int64         `env:"RECENT_MAX" envDefault:"500"`
	RecentTTL    time.Duration `env:"RECENT_TTL" envDefault:"24h"`
	ReplayMax    int           `env:"REPLAY_MAX" envDefault:"1000"`
	GapTimeout   time.Duration `env:"GAP_TIMEOUT" envDefault:"6s"`
	DedupTTL     time.Duration `env:"DEDUP_TTL" envDefault:"24h"`
	DrainTimeout time.Duration `env:"DRAIN_TIMEOUT" envDefault:"10s"`
	// DrainGrace is how long, after SIGTERM, the server keeps serving
	// while /readyz answers 503, so load balancers stop sending it new
	// clients before it stops accepting.
	DrainGrace  time.Duration `env:"DRAIN_GRACE" envDefault:"5s"`
	PresenceTTL time.Duration `env:"PRESENCE_TTL" envDefault:"30s"`
}

// JWT turns on sign-in with the JWTs of an embedding product's identity
// provider (README "Embedding"): HS256 with a shared secret, RS256 and
// ES256 with the keys at a JWKS URL. Both empty: off.
type JWT struct {
	HS256Secret string        `env:"JWT_HS256_SECRET"`
	JWKSURL     string        `env:"JWT_JWKS_URL"`
	JWKSRefresh time.Duration `env:"JWT_JWKS_REFRESH" envDefault:"1h"`
	// JWKSRefetchGap is the least time between two fetches caused by
	// tokens naming a key the cache lacks.
	JWKSRefetchGap time.Duration `env:"JWT_JWKS_REFETCH_GAP" envDefault:"10s"`
	Issuer         string        `env:"JWT_ISSUER"`
	Audience       string        `env:"JWT_AUDIENCE"`
	UsernameClaim  string        `env:"JWT_USERNAME_CLAIM" envDefault:"preferred_username"`
	Leeway         time.Duration `env:"JWT_LEEWAY" envDefault:"30s"`
}

// Enabled reports whether JWTs are accepted.
func (j JWT) Enabled() bool { return j.HS256Secret != "" || j.JWKSURL != "" }

// Load reads the configuration from the environment.
func Load() (Config, error) {
	return parse(env.Options{})
}

// FromMap reads the configuration from vars instead of the environment.
func FromMap(vars map[string]string) (Config, error) {
	return parse(env.Options{Environment: vars})
}

func parse(opts env.Options) (Config, error) {
	c, err := env.ParseAsWithOptions[Config](opts)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if c.ServerID == "" {
		host, _ := os.Hostname()
		c.ServerID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if c.HTTPReadTimeout <= 0 || c.HTTPWriteTimeout <= 0 || c.HTTPIdleTimeout <= 0 {
		return c, fmt.Errorf("config: HTTP_READ_TIMEOUT, HTTP_WRITE_TIMEOUT and HTTP_IDLE_TIMEOUT must be positive")
	}
	switch c.RedisMode {
	case "single", "cluster", "sentinel":
	default:
		return c, fmt.Errorf("config: REDIS_MODE must be single, cluster or sentinel, not %q", c.RedisMode)
	}
	if c.DrainGrace < 0 {
		return c, fmt.Errorf("config: DRAIN_GRACE must not be negative")
	}
	if c.WSConnsPerAddr < 0 {
		return c, fmt.Errorf("config: WS_CONNS_PER_ADDR must be 0 (no cap) or positive")
	}
	if c.PresenceTTL < time.Second {
		return c, fmt.Errorf("config: PRESENCE_TTL must be at least 1s")
	}
	if s := c.JWT.HS256Secret; s != "" && len(s) < 32 {
		return c, fmt.Errorf("config: JWT_HS256_SECRET must be at least 32 bytes")
	}
	if c.JWT.Enabled() && (c.JWT.JWKSRefresh < time.Minute || c.JWT.Leeway < 0 || c.JWT.UsernameClaim == "") {
		return c, fmt.Errorf("config: JWT_JWKS_REFRESH must be at least 1m, JWT_LEEWAY not negative, JWT_USERNAME_CLAIM set")
	}
	if c.SendRate <= 0 || c.SendBurst <= 0 || c.SendQueue <= 0 || c.Workers <= 0 || c.BotSendRate <= 0 {
		return c, fmt.Errorf("config: SEND_RATE, SEND_BURST, SEND_QUEUE, WORKERS and BOT_SEND_RATE must be positive")
	}
	return c, nil
}
