package persist

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	batchSize = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "rookery_persister_batch_size", Help: "Records per batch.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 9)})
	rowsWritten = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_persister_rows_written_total", Help: "Messages inserted into PostgreSQL (replays not counted)."})
	writeLatency = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "rookery_persister_write_seconds", Help: "Time of one batch statement.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	consumerLag = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "rookery_persister_consumer_lag", Help: "Records of the log not yet stored: the end of each partition minus the group's committed offset, measured from the broker every 2 s."})
	deadLettered = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_persister_dead_lettered_total", Help: "Records sent to the dead-letter topic."})
	retries = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "rookery_persister_retries_total", Help: "Retried operations."}, []string{"what"})
)

var slowBatches = promauto.NewCounter(prometheus.CounterOpts{
	Name: "rookery_persister_slow_batches_total",
	Help: "Batches COPY could not take whole (replayed or rejected rows), stored row-checked instead."})

var fencedOut = promauto.NewCounter(prometheus.CounterOpts{
	Name: "rookery_persister_fenced_out_total",
	Help: "Records dropped because a newer epoch of their room was stored before them (their seq was fenced)."})

// ReportLag sets the consumer lag gauge (bus.LagWatcher's report).
func ReportLag(n int64) { consumerLag.Set(float64(n)) }

var readerRenewals = promauto.NewCounter(prometheus.CounterOpts{
	Name: "rookery_persister_reader_renewals_total",
	Help: "Kafka readers replaced because they stalled with a backlog on the broker."})
