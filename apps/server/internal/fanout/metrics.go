package fanout

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	messagesFanout = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_messages_fanout_total", Help: "Messages delivered to a room's local subscribers (once per room)."})
	gapsSkipped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_seq_gaps_skipped_total", Help: "Seqs a room stopped waiting for because its buffer was full."})
)
