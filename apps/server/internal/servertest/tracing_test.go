package servertest_test

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// otlpSink is an OTLP/HTTP collector in the test: it keeps the spans a
// process exports, by name, with their trace id and links.
type otlpSink struct {
	mu    sync.Mutex
	spans []sinkSpan
}

type sinkSpan struct {
	name, trace, parent string
	links               []string // trace ids
}

func (s *otlpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				x := sinkSpan{name: sp.Name, trace: hex.EncodeToString(sp.TraceId), parent: hex.EncodeToString(sp.ParentSpanId)}
				for _, l := range sp.Links {
					x.links = append(x.links, hex.EncodeToString(l.TraceId))
				}
				s.spans = append(s.spans, x)
			}
		}
	}
	s.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (s *otlpSink) find(name, linkedTo string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range s.spans {
		if sp.name != name {
			continue
		}
		for _, l := range sp.links {
			if l == linkedTo {
				return true
			}
		}
	}
	return false
}

// TestTracing follows one message: the server's spans (in-memory
// exporter) of its WebSocket request, Redis steps and Kafka produce share
// one trace; the record carries it to the persister, a separate process
// exporting by OTLP/HTTP as its OTEL_* variables say, whose batch span
// links to that trace and contains the database write; and a history read
// is a trace of its own with its store step.
func TestTracing(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	sink := &otlpSink{}
	collector := httptest.NewServer(sink)
	defer collector.Close()
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1")
	c.StartPersister(t, "OTEL_EXPORTER_OTLP_ENDPOINT="+collector.URL, "OTEL_BSP_SCHEDULE_DELAY=50",
		"OTEL_EXPORTER_OTLP_COMPRESSION=none")
	_, tok := s.Signup(t, "alice")
	room := s.CreateRoom(t, tok, "traced", protocol.Public)
	w := s.Dial(t, tok)
	expectAck(t, w.SendMsg(room.ID, "traced-1", "follow me"))

	// The request's span ends just after its ack is queued.
	var sendTrace string
	byTrace := map[string]map[string]bool{}
	waitUntil(t, func() bool {
		clear(byTrace)
		for _, sp := range exp.GetSpans() {
			id := sp.SpanContext.TraceID().String()
			if byTrace[id] == nil {
				byTrace[id] = map[string]bool{}
			}
			byTrace[id][sp.Name] = true
			if sp.Name == "ws.send" {
				sendTrace = id
			}
		}
		return sendTrace != ""
	}, "the ws.send span")
	for _, name := range []string{"redis.begin", "kafka.produce", "redis.commit"} {
		if !byTrace[sendTrace][name] {
			t.Fatalf("the send's trace lacks %s: %v", name, byTrace[sendTrace])
		}
	}
	waitUntil(t, func() bool { return sink.find("persister.batch", sendTrace) }, "the persister's batch span linked to the send")
	sink.mu.Lock()
	var batchTrace string
	for _, sp := range sink.spans {
		if sp.name == "persister.batch" && len(sp.links) > 0 && sp.links[0] == sendTrace {
			batchTrace = sp.trace
		}
	}
	sink.mu.Unlock()
	waitUntil(t, func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, sp := range sink.spans {
			if (sp.name == "postgres.copy" || sp.name == "postgres.insert") && sp.trace == batchTrace {
				return true
			}
		}
		return false
	}, "the batch's database write in its trace")

	exp.Reset()
	s.Do(t, "GET", "/api/v1/rooms/"+room.ID+"/messages", tok, nil)
	names := map[string]string{}
	waitUntil(t, func() bool {
		for _, sp := range exp.GetSpans() {
			names[sp.Name] = sp.SpanContext.TraceID().String()
		}
		return names["GET /api/v1/rooms/{id}/messages"] != ""
	}, "the history request's span")
	if names["history.page"] != names["GET /api/v1/rooms/{id}/messages"] {
		t.Fatalf("history read spans: %v", names)
	}
}
