package realtime

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	connections = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "rookery_ws_connections", Help: "Open WebSocket connections."})
	framesIn = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_ws_frames_in_total", Help: "Frames received from clients."})
	rateLimited = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_ws_rate_limited_total", Help: "Sends refused by the rate limit."})
	sendLatency = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "rookery_send_ack_seconds", Help: "Time from a send frame to its ack.",
		Buckets: []float64{.001, .002, .005, .01, .015, .025, .05, .1, .25, .5, 1, 5}})
)
