package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/segmentio/kafka-go"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// TestKillNineManyRooms: a backlog over 16 rooms and 4 partitions, in big
// batches that each hold many rooms; the persister is killed hard mid-way,
// so the batch it was writing is read again after the restart. Every room
// then holds each of its messages once, with its last_seq.
func TestKillNineManyRooms(t *testing.T) {
	f := newFixture(t, testenv.DatabaseURL(t))
	ctx := testenv.Ctx(t)
	q := db.New(f.pool)
	rooms := []uuid.UUID{f.room}
	for i := 1; i < 16; i++ {
		r, err := q.CreateRoom(ctx, db.CreateRoomParams{ID: uuid.Must(uuid.NewV7()), Name: fmt.Sprintf("r%d", i), Visibility: "public",
			CreatedBy: pgtype.UUID{Bytes: uuid.MustParse(f.user.ID), Valid: true}})
		if err != nil {
			t.Fatal(err)
		}
		rooms = append(rooms, r.ID)
	}
	const perRoom = 500
	total := int64(perRoom * len(rooms))
	// Room-keyed records, as the servers write them (one room, one
	// partition), written in bulk: 8,000 one at a time would take long.
	w := &kafka.Writer{Addr: kafka.TCP(strings.Split(f.brokers, ",")...), Topic: f.topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchSize: 1000, BatchTimeout: 5 * time.Millisecond}
	var batch []kafka.Message
	for seq := 1; seq <= perRoom; seq++ {
		for _, room := range rooms {
			m := protocol.Event{ID: uuid.Must(uuid.NewV7()).String(), Room: room.String(), Seq: int64(seq), Sender: f.user,
				Body: fmt.Sprintf("message %d", seq), TS: protocol.FormatTime(time.Now()), Ref: fmt.Sprintf("ref-%d", seq)}
			v, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			batch = append(batch, kafka.Message{Key: []byte(m.Room), Value: v})
		}
	}
	if err := w.WriteMessages(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	count := func() int64 {
		var n int64
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = f.pool.QueryRow(cctx, `SELECT count(*) FROM messages WHERE room_id = ANY($1)`, rooms).Scan(&n)
		return n
	}
	waitFor := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("stored %d of %d rows within a minute", count(), n)
			}
			time.Sleep(20 * time.Millisecond) // poll interval, bounded by deadline
		}
	}
	settings := []string{"BATCH_SIZE=2000", "BATCH_TIMEOUT=200ms"}
	first := f.start(t, "persister-1", settings...)
	waitFor(total / 4)
	first.Signal(syscall.SIGKILL)
	<-first.Done()
	second := f.start(t, "persister-2", settings...)
	waitFor(total)

	var bad int64
	err := f.pool.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT m.room_id FROM messages m WHERE m.room_id = ANY($1)
		GROUP BY m.room_id HAVING count(*) <> $2 OR count(DISTINCT m.seq) <> $2 OR min(m.seq) <> 1 OR max(m.seq) <> $2
			OR count(*) FILTER (WHERE m.body <> 'message ' || m.seq) > 0) x`, rooms, perRoom).Scan(&bad)
	if err != nil {
		t.Fatal(err)
	}
	if n := count(); bad != 0 || n != total {
		t.Fatalf("%d rooms without exactly seqs 1..%d; %d rows in all, want %d", bad, perRoom, n, total)
	}
	var lagging int64
	if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM rooms WHERE id = ANY($1) AND last_seq <> $2`, rooms, perRoom).Scan(&lagging); err != nil {
		t.Fatal(err)
	}
	if lagging != 0 {
		t.Fatalf("%d rooms with last_seq other than %d", lagging, perRoom)
	}
	if err := second.Stop(syscall.SIGTERM, 30*time.Second); err != nil || second.Err() != nil {
		t.Fatalf("SIGTERM: %v, exit: %v", err, second.Err())
	}
}
