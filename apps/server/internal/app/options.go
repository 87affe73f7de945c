package app

import (
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/config"
	"github.com/rookery-chat/rookery/apps/server/internal/fanout"
	"github.com/rookery-chat/rookery/apps/server/internal/history"
	"github.com/rookery-chat/rookery/apps/server/internal/realtime"
	"github.com/rookery-chat/rookery/apps/server/internal/send"
	"github.com/rookery-chat/rookery/apps/server/internal/socket"
)

// realtimeOptions picks the real-time core's settings from the server's.
func realtimeOptions(cfg config.Config) realtime.Options {
	return realtime.Options{
		ServerID:          cfg.ServerID,
		Workers:           cfg.Workers,
		HelloTimeout:      cfg.HelloTimeout,
		PingInterval:      cfg.PingInterval,
		SendRate:          cfg.SendRate,
		SendBurst:         cfg.SendBurst,
		PresenceTTL:       cfg.PresenceTTL,
		AllowedOrigins:    cfg.AllowedOrigins,
		ConnsPerAddr:      cfg.WSConnsPerAddr,
		TrustForwardedFor: cfg.TrustForwardedFor,
		// A send may wait for Kafka for KafkaWriteTimeout, and then commit.
		RequestTimeout: cfg.KafkaWriteTimeout + 5*time.Second,
		Socket:         socket.Options{Queue: cfg.SendQueue, Delay: cfg.WriteDelay, Timeout: cfg.WriteTimeout},
		Send:           send.Options{DedupTTL: cfg.DedupTTL, KafkaWriteTimeout: cfg.KafkaWriteTimeout, GapTimeout: cfg.GapTimeout},
		Fanout:         fanout.Options{GapTimeout: cfg.GapTimeout},
		History:        history.Options{RecentMax: cfg.RecentMax, ReplayMax: cfg.ReplayMax},
	}
}
