package persist

import (
	"context"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/rookery-chat/rookery/packages/bus"
)

var tracer = otel.Tracer("github.com/rookery-chat/rookery/apps/persister/internal/persist")

// maxLinks bounds the links of one batch span (the SDK keeps 128 by
// default): the first records of a batch stand for the rest.
const maxLinks = 128

// startBatch starts the span of one batch, linked to the spans that wrote
// its records (their trace context rides in the records' headers): a
// batch serves many requests, so it is a root with links, not a child.
func startBatch(ctx context.Context, msgs []kafka.Message) (context.Context, trace.Span) {
	ctx, span := tracer.Start(ctx, "persister.batch", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithNewRoot(),
		trace.WithAttributes(attribute.Int("messaging.batch.message_count", len(msgs))))
	if !span.IsRecording() {
		return ctx, span // tracing is off: no need to read the headers
	}
	n := 0
	for _, m := range msgs {
		if n == maxLinks {
			break
		}
		if sc := bus.RecordTrace(m); sc.IsValid() {
			span.AddLink(trace.Link{SpanContext: sc})
			n++
		}
	}
	return ctx, span
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
