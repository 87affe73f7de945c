package main_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/segmentio/kafka-go"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/devenv"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// fixture is a database with one user and one room, and a fresh topic.
type fixture struct {
	dbURL, brokers, topic, dlq string
	pool                       *pgxpool.Pool
	user                       protocol.User
	room                       uuid.UUID
}

func newFixture(t *testing.T, dbURL string) *fixture {
	t.Helper()
	ctx := testenv.Ctx(t)
	f := &fixture{dbURL: dbURL}
	f.brokers, f.topic = testenv.Kafka(t, 4)
	f.dlq = f.topic + "-dlq"
	if err := devenv.CreateTopic(ctx, f.brokers, f.dlq, 1); err != nil {
		t.Fatal(err)
	}
	var err error
	f.pool, err = db.Open(ctx, dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.pool.Close)
	q := db.New(f.pool)
	u, err := q.CreateUser(ctx, db.CreateUserParams{ID: uuid.Must(uuid.NewV7()), Username: "writer", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	f.user = protocol.User{ID: u.ID.String(), Username: u.Username}
	r, err := q.CreateRoom(ctx, db.CreateRoomParams{ID: uuid.Must(uuid.NewV7()), Name: "r", Visibility: "public",
		CreatedBy: pgtype.UUID{Bytes: u.ID, Valid: true}})
	if err != nil {
		t.Fatal(err)
	}
	f.room = r.ID
	return f
}

func (f *fixture) start(t *testing.T, name string, extra ...string) *devenv.Proc {
	p, _ := f.startAt(t, name, extra...)
	return p
}

// startAt starts a persister and also returns its base URL.
func (f *fixture) startAt(t *testing.T, name string, extra ...string) (*devenv.Proc, string) {
	port, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := append([]string{"DATABASE_URL=" + f.dbURL, "KAFKA_BROKERS=" + f.brokers, "KAFKA_TOPIC=" + f.topic,
		"KAFKA_DLQ_TOPIC=" + f.dlq, "KAFKA_GROUP=" + f.topic, "KAFKA_CREATE_TOPIC=false",
		fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port), "LOG_LEVEL=warn", "RETRY_MAX=500ms"}, extra...)
	return testenv.StartApp(t, name, testenv.BuildApp(t, "persister"), env...), fmt.Sprintf("http://127.0.0.1:%d", port)
}

// waitStatus polls url until it answers status.
func waitStatus(t *testing.T, url string, status int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := 0
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			last = resp.StatusCode
			if last == status {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // poll interval, bounded by deadline
	}
	t.Fatalf("%s answered %d, want %d within %s", url, last, status, within)
}

func (f *fixture) msg(seq int) protocol.Event {
	return protocol.Event{ID: uuid.Must(uuid.NewV7()).String(), Room: f.room.String(), Seq: int64(seq), Sender: f.user,
		Body: fmt.Sprintf("message %d", seq), TS: protocol.FormatTime(time.Now()), Ref: fmt.Sprintf("ref-%d", seq)}
}

// produce sends seqs from..to (inclusive) with several concurrent producers.
func (f *fixture) produce(t *testing.T, from, to int) {
	t.Helper()
	p := bus.NewProducer(bus.ProducerConfig{Kafka: bus.PlainKafka(strings.Split(f.brokers, ",")), Topic: f.topic, BatchTimeout: 2 * time.Millisecond})
	defer p.Close()
	var wg sync.WaitGroup
	const workers = 16
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := from + w; s <= to; s += workers {
				if err := p.Produce(context.Background(), f.msg(s)); err != nil {
					t.Errorf("produce %d: %v", s, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// waitCount waits until the room holds n messages.
func (f *fixture) waitCount(t *testing.T, n int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got int64
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := db.New(f.pool).CountMessages(ctx, f.room)
		cancel()
		if err == nil {
			got = c
			if got >= n {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // poll interval, bounded by deadline
	}
	t.Fatalf("room has %d messages after %s, want %d", got, within, n)
}

// checkExactlyOnce: seqs 1..n each stored once, with their own body.
func (f *fixture) checkExactlyOnce(t *testing.T, n int) {
	t.Helper()
	var count, distinct, min, max int64
	var badBodies int64
	err := f.pool.QueryRow(testenv.Ctx(t), `SELECT count(*), count(DISTINCT seq), min(seq), max(seq),
		count(*) FILTER (WHERE body <> 'message ' || seq) FROM messages WHERE room_id = $1`, f.room).
		Scan(&count, &distinct, &min, &max, &badBodies)
	if err != nil {
		t.Fatal(err)
	}
	if count != int64(n) || distinct != int64(n) || min != 1 || max != int64(n) || badBodies != 0 {
		t.Fatalf("stored %d rows, %d distinct seqs, seqs %d..%d, %d wrong bodies; want exactly 1..%d", count, distinct, min, max, badBodies, n)
	}
	var lastSeq int64
	if err := f.pool.QueryRow(testenv.Ctx(t), `SELECT last_seq FROM rooms WHERE id = $1`, f.room).Scan(&lastSeq); err != nil {
		t.Fatal(err)
	}
	if lastSeq != int64(n) {
		t.Fatalf("rooms.last_seq = %d, want %d", lastSeq, n)
	}
}

// TestKillNineMidStream: the persister is killed hard while thousands of
// messages stream in; after a restart every message is stored exactly once.
func TestKillNineMidStream(t *testing.T) {
	f := newFixture(t, testenv.DatabaseURL(t))
	const n = 6000
	p := f.start(t, "persister-1", "BATCH_SIZE=100", "BATCH_TIMEOUT=10ms")
	done := make(chan struct{})
	go func() { defer close(done); f.produce(t, 1, n) }()
	f.waitCount(t, n/5, time.Minute)
	p.Signal(syscall.SIGKILL)
	<-p.Done()
	<-done
	p2 := f.start(t, "persister-2", "BATCH_SIZE=100", "BATCH_TIMEOUT=10ms")
	f.waitCount(t, n, time.Minute)
	f.checkExactlyOnce(t, n)
	// A clean stop: leave the group, exit 0.
	if err := p2.Stop(syscall.SIGTERM, 30*time.Second); err != nil || p2.Err() != nil {
		t.Fatalf("SIGTERM: %v, exit: %v", err, p2.Err())
	}
}

// TestReplayedRowsAreStoredOnce: records that repeat stored rows (as after a
// crash between the database commit and the offset commit) make COPY fail;
// the batch is then stored row-checked, new rows in, repeats skipped.
func TestReplayedRowsAreStoredOnce(t *testing.T) {
	f := newFixture(t, testenv.DatabaseURL(t))
	f.produce(t, 1, 100)
	p, base := f.startAt(t, "persister-1", "BATCH_SIZE=1000", "BATCH_TIMEOUT=200ms")
	f.waitCount(t, 100, time.Minute)
	if got := metric(t, base, "rookery_persister_slow_batches_total"); got != 0 {
		t.Fatalf("slow batches before any replay: %v", got)
	}
	f.produce(t, 1, 200) // 1..100 again, then 100 new ones
	f.waitCount(t, 200, time.Minute)
	f.checkExactlyOnce(t, 200)
	if got := metric(t, base, "rookery_persister_slow_batches_total"); got < 1 {
		t.Fatalf("slow batches after a replay: %v, want ≥ 1", got)
	}
	if err := p.Stop(syscall.SIGTERM, 30*time.Second); err != nil || p.Err() != nil {
		t.Fatalf("SIGTERM: %v, exit: %v", err, p.Err())
	}
}

// metric reads one unlabelled value from a persister's /metrics.
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// TestMaxRowsPerSecond: the write-rate cap holds the backlog in Kafka.
func TestMaxRowsPerSecond(t *testing.T) {
	f := newFixture(t, testenv.DatabaseURL(t))
	const n, rate = 1500, 1000
	f.produce(t, 1, n)
	start := time.Now()
	f.start(t, "persister", "BATCH_SIZE=100", fmt.Sprintf("MAX_ROWS_PER_SEC=%d", rate))
	f.waitCount(t, n, time.Minute)
	// A full bucket lets the first `rate` rows through at once; the other
	// 500 need at least half a second more. (A lower bound: a slow machine
	// cannot make this fail.)
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Fatalf("stored %d rows in %s with MAX_ROWS_PER_SEC=%d", n, took, rate)
	}
	f.checkExactlyOnce(t, n)
}

// TestPostgresOutage: PostgreSQL stops while messages keep coming; the
// persister retries, and once the database is back everything is stored
// exactly once.
func TestPostgresOutage(t *testing.T) {
	pg, url := testenv.StartPostgres(t)
	f := newFixture(t, url)
	const n = 3000
	_, base := f.startAt(t, "persister", "BATCH_SIZE=200")
	f.produce(t, 1, n/3)
	f.waitCount(t, n/3, time.Minute)
	if err := pg.Shutdown(); err != nil {
		t.Fatal(err)
	}
	f.produce(t, n/3+1, n) // Kafka takes them while the database is down
	// The persister notices, says so, and keeps retrying.
	waitStatus(t, base+"/readyz", http.StatusServiceUnavailable, 30*time.Second)
	testenv.RestartPostgres(t, pg)
	waitStatus(t, base+"/readyz", http.StatusOK, 30*time.Second)
	f.waitCount(t, n, time.Minute)
	f.checkExactlyOnce(t, n)
}

// TestPoisonMessageIsDeadLettered: records that can never be stored go to
// the dead-letter topic and do not hold up their partition.
func TestPoisonMessageIsDeadLettered(t *testing.T) {
	f := newFixture(t, testenv.DatabaseURL(t))
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(f.brokers, ",")...), Topic: f.topic, RequiredAcks: kafka.RequireAll,
		Transport: &kafka.Transport{}}
	defer w.Close()
	ghost := f.msg(2)
	ghost.Room = uuid.Must(uuid.NewV7()).String() // no such room
	stranger := f.msg(4)
	stranger.Sender.ID = uuid.Must(uuid.NewV7()).String() // no such user
	key := []byte(f.room.String())
	good1, good3 := protocol.Encode(f.msg(1)), protocol.Encode(f.msg(3))
	err := w.WriteMessages(testenv.Ctx(t),
		kafka.Message{Key: key, Value: good1},
		kafka.Message{Key: key, Value: []byte("{not json")},
		kafka.Message{Key: key, Value: protocol.Encode(ghost)},
		kafka.Message{Key: key, Value: good3},
		kafka.Message{Key: key, Value: protocol.Encode(stranger)},
	)
	if err != nil {
		t.Fatal(err)
	}
	f.start(t, "persister")
	f.waitCount(t, 2, time.Minute)

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: strings.Split(f.brokers, ","), Topic: f.dlq, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	reasons := map[string]string{}
	for len(reasons) < 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		m, err := r.ReadMessage(ctx)
		cancel()
		if err != nil {
			t.Fatalf("dead-letter topic: %v (have %v)", err, reasons)
		}
		for _, h := range m.Headers {
			if h.Key == "reason" {
				reasons[string(m.Value)] = string(h.Value)
			}
		}
	}
	if !strings.Contains(reasons["{not json"], "JSON") {
		t.Errorf("reason for bad JSON: %q", reasons["{not json"])
	}
	if !strings.Contains(reasons[string(protocol.Encode(ghost))], "room") {
		t.Errorf("message for a missing room not dead-lettered: %v", reasons)
	}
	if !strings.Contains(reasons[string(protocol.Encode(stranger))], "sender") {
		t.Errorf("message from a missing user not dead-lettered: %v", reasons)
	}
	var n int64
	if err := f.pool.QueryRow(testenv.Ctx(t), `SELECT count(*) FROM messages WHERE seq IN (1, 3) AND room_id = $1`, f.room).Scan(&n); err != nil || n != 2 {
		t.Fatalf("good messages stored: %d (%v)", n, err)
	}
}
