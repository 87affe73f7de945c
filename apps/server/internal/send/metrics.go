package send

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	messagesSent = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_messages_sent_total", Help: "Messages acknowledged to their senders."})
	epochsFenced = promauto.NewCounter(prometheus.CounterOpts{
		Name: "rookery_seq_epochs_fenced_total", Help: "Epochs this server fenced (a send's owner died, or Redis lost data) and wrote a fence record for."})
	sendsSettled = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "rookery_sends_settled_total", Help: "Sends whose first attempt failed, by how their fate was settled: committed, stored (found in the log after a fence), resent (not stored; sent again under a new seq)."},
		[]string{"fate"})
)
