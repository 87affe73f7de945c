package fanout

import (
	"bytes"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/rookery-chat/rookery/packages/protocol"
)

var (
	messagesFanout = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_messages_fanout_total", Help: "Messages delivered to a room's local subscribers (once per room)."})
	fanoutLatency = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "rookery_fanout_latency_seconds",
		Help:    "Age of a message (since its sending server stamped ts) when this server hands it to the room's local subscribers, once per room; includes waits for missing seqs and repairs, and the servers' clock offset.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}})
	gapsSkipped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_seq_gaps_skipped_total", Help: "Seqs a room stopped waiting for because its buffer was full."})
)

var tsField = []byte(`"ts":"`)

// frameTime is the ts of a message frame. A body cannot hide the pattern:
// inside a JSON string its quotes are escaped.
func frameTime(frame []byte) (time.Time, bool) {
	i := bytes.Index(frame, tsField)
	if i < 0 {
		return time.Time{}, false
	}
	rest := frame[i+len(tsField):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return time.Time{}, false
	}
	t, err := protocol.ParseTime(string(rest[:j]))
	return t, err == nil
}
