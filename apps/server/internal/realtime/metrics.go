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
	messagesSent = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_messages_sent_total", Help: "Messages acknowledged to their senders."})
	messagesFanout = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_messages_fanout_total", Help: "Messages delivered to a room's local subscribers (once per room)."})
	framesOut = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_ws_frames_out_total", Help: "Frames written to clients."})
	writeBatches = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_ws_write_batches_total", Help: "Batched writes (system calls) to clients; frames_out / write_batches is the batching factor."})
	slowClosed = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_ws_slow_closed_total", Help: "Connections closed with 4408 for falling behind."})
	rateLimited = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_ws_rate_limited_total", Help: "Sends refused by the rate limit."})
	gapsSkipped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_seq_gaps_skipped_total", Help: "Seqs a room stopped waiting for because its buffer was full."})
	epochsFenced = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_seq_epochs_fenced_total", Help: "Epochs this server fenced (a send's owner died, or Redis lost data) and wrote a fence record for."})
	sendsSettled = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "rookery_sends_settled_total", Help: "Sends whose first attempt failed, by how their fate was settled: committed, stored (found in the log after a fence), resent (not stored; sent again under a new seq)."},
		[]string{"fate"})
	sendLatency = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "rookery_send_ack_seconds", Help: "Time from a send frame to its ack.",
		Buckets: []float64{.001, .002, .005, .01, .015, .025, .05, .1, .25, .5, 1, 5}})
	slowWrites = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_ws_slow_writes_total", Help: "Writes the client's socket could not take at once, finished on a goroutine of their own."})
)
