package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	deliveries = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "rookery_webhook_deliveries_total",
		Help: "Webhook POSTs by result: ok (2xx), refused (another status), error (no answer)."}, []string{"result"})
	deliverySeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "rookery_webhook_delivery_seconds",
		Help:    "Time of successful webhook POSTs.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}})
	pendingRecords = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "rookery_webhook_pending_records",
		Help: "Records read from Kafka and not yet delivered to every webhook of their room."})
	gapsSkipped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_webhook_gaps_skipped_total",
		Help: "Seq gaps a webhook stopped waiting for after WEBHOOK_GAP_WAIT."})
	consumerLag = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "rookery_webhook_consumer_lag",
		Help: "Records of the topic the webhook consumer group has not committed: the backlog waiting in Kafka."})
)

// ReportLag sets the consumer lag gauge (bus.LagWatcher's report).
func ReportLag(n int64) { consumerLag.Set(float64(n)) }
