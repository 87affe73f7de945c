package socket

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	framesOut = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_ws_frames_out_total", Help: "Frames written to clients."})
	writeBatches = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_ws_write_batches_total", Help: "Batched writes (system calls) to clients; frames_out / write_batches is the batching factor."})
	slowClosed = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_ws_slow_closed_total", Help: "Connections closed with 4408 for falling behind."})
	idleClosed = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_ws_idle_closed_total", Help: "Connections closed after nothing came from the client for 2 × PING_INTERVAL + WRITE_TIMEOUT."})
	slowWrites = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_ws_slow_writes_total", Help: "Writes the client's socket could not take at once, finished on a goroutine of their own."})
)
