package bus

import (
	"context"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracer names the bus's spans: the Redis steps of a send and the Kafka
// produce. With no tracer provider installed they cost next to nothing.
var tracer = otel.Tracer("github.com/rookery-chat/rookery/packages/bus")

// startSpan starts a client span of the bus for room.
func startSpan(ctx context.Context, name, system, room string, kind trace.SpanKind) (context.Context, trace.Span) {
	ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(kind))
	if span.IsRecording() { // with tracing off, a send's three spans allocate nothing more
		span.SetAttributes(attribute.String("db.system.name", system), attribute.String("rookery.room", room))
	}
	return ctx, span
}

// endSpan records err, if any, and ends span.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// headerCarrier lets the propagator read and write a Kafka record's
// headers, so a record carries the trace of the request that wrote it.
type headerCarrier struct{ h *[]kafka.Header }

// Get implements propagation.TextMapCarrier.
func (c headerCarrier) Get(key string) string {
	for _, h := range *c.h {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Set implements propagation.TextMapCarrier.
func (c headerCarrier) Set(key, value string) {
	for i, h := range *c.h {
		if h.Key == key {
			(*c.h)[i].Value = []byte(value)
			return
		}
	}
	*c.h = append(*c.h, kafka.Header{Key: key, Value: []byte(value)})
}

// Keys implements propagation.TextMapCarrier.
func (c headerCarrier) Keys() []string {
	out := make([]string, len(*c.h))
	for i, h := range *c.h {
		out[i] = h.Key
	}
	return out
}

// RecordTrace is the span context a log record was written in (invalid
// when it carries none): the persister links its batch span to it.
func RecordTrace(m kafka.Message) trace.SpanContext {
	ctx := otel.GetTextMapPropagator().Extract(context.Background(), headerCarrier{&m.Headers})
	return trace.SpanContextFromContext(ctx)
}
