package realtime

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/rookery-chat/rookery/packages/protocol"
)

var tracer = otel.Tracer("github.com/rookery-chat/rookery/apps/server/internal/realtime")

// traced are the WebSocket requests that get a span of their own: those
// that write the room's log or read its past. Pings, typing and read
// markers would be noise.
var traced = map[string]bool{
	protocol.TypeSend: true, protocol.TypeEdit: true, protocol.TypeDelete: true, protocol.TypeReact: true,
	protocol.TypeSubscribe: true,
}

// startRequest starts the server span of one WebSocket request (a root:
// a WebSocket frame carries no trace context).
func startRequest(ctx context.Context, c *client, f protocol.ClientFrame) (context.Context, trace.Span) {
	if !traced[f.Type] {
		return ctx, trace.SpanFromContext(ctx)
	}
	return tracer.Start(ctx, "ws."+f.Type, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("rookery.room", f.Room), attribute.String("rookery.user", c.user.ID),
			attribute.String("rookery.ref", f.Ref)))
}

// endRequest records the request's error code, if any, and ends span.
func endRequest(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		code := protocol.ErrorCode(err)
		span.SetAttributes(attribute.String("rookery.error", string(code)))
		if code == protocol.CodeInternal || code == protocol.CodeUnavailable {
			span.SetStatus(codes.Error, err.Error())
		}
	}
	if span.IsRecording() {
		span.End()
	}
}
