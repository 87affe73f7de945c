package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/segmentio/kafka-go"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// PersistResult compares the persister with one INSERT per row, both
// measured by counting rows in PostgreSQL.
type PersistResult struct {
	Scenario      string  `json:"scenario"`
	Messages      int     `json:"messages"`
	Rooms         int     `json:"rooms"`
	PersisterRate float64 `json:"persister_rows_per_s"`
	PersisterSecs float64 `json:"persister_seconds"`
	PersisterCPU  float64 `json:"persister_cpu_seconds"` // the persister process's own CPU, start to finish
	// MergeTailSecs is the part of PersisterSecs spent, after the last row
	// was stored, merging what was left in the search index's pending list:
	// work deferred is counted, so the rate is one the index can sustain.
	MergeTailSecs  float64 `json:"merge_tail_seconds"`
	MergeTailPages int64   `json:"merge_tail_pages"`
	// CeilingRate is PostgreSQL's own rate for the same rows with no broker
	// and no persister (pgCeiling): the most any persister could reach.
	CeilingRate  float64 `json:"pg_ceiling_rows_per_s"`
	CeilingSecs  float64 `json:"pg_ceiling_seconds"`
	BaselineRows int     `json:"baseline_rows"`
	BaselineRate float64 `json:"baseline_rows_per_s"`
	Speedup      float64 `json:"speedup"`
}

type persistOpts struct {
	dbURL, brokers, bin string
	n, baseline         int
	rooms               int // the messages are spread over this many rooms (at least 1)
	env                 []string
}

func seedRoom(ctx context.Context, q *db.Queries, tag string) (protocol.User, uuid.UUID, error) {
	u, err := q.CreateUser(ctx, db.CreateUserParams{ID: uuid.Must(uuid.NewV7()), Username: "lg-db-" + tag, PasswordHash: "x"})
	if err != nil {
		return protocol.User{}, uuid.Nil, err
	}
	r, err := q.CreateRoom(ctx, db.CreateRoomParams{ID: uuid.Must(uuid.NewV7()), Name: "persist-" + tag, Visibility: "public",
		CreatedBy: pgtype.UUID{Bytes: u.ID, Valid: true}})
	return protocol.User{ID: u.ID.String(), Username: u.Username}, r.ID, err
}

func runPersist(ctx context.Context, o persistOpts) (PersistResult, error) {
	o.rooms = max(o.rooms, 1)
	res := PersistResult{Scenario: "persist", Messages: o.n, Rooms: o.rooms, BaselineRows: o.baseline}
	pool, err := db.Open(ctx, o.dbURL, 4)
	if err != nil {
		return res, err
	}
	defer pool.Close()
	q := db.New(pool)
	tag := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	user, room, err := seedRoom(ctx, q, tag)
	if err != nil {
		return res, err
	}
	rooms := []uuid.UUID{room}
	for i := 1; i < o.rooms; i++ {
		r, err := q.CreateRoom(ctx, db.CreateRoomParams{ID: uuid.Must(uuid.NewV7()), Name: fmt.Sprintf("persist-%s-%d", tag, i),
			Visibility: "public", CreatedBy: pgtype.UUID{Bytes: uuid.MustParse(user.ID), Valid: true}})
		if err != nil {
			return res, err
		}
		rooms = append(rooms, r.ID)
	}

	// Fill a fresh topic first, so the persister's rate is its own, not the
	// producer's.
	topic := "lg-persist-" + tag
	brokers := splitComma(o.brokers)
	if err := bus.PlainKafka(brokers).EnsureTopic(ctx, topic, 8); err != nil {
		return res, err
	}
	// The broker keeps every record of every topic (kfake holds them in
	// memory too): a run's 200,000 records left behind grew `task dev`'s
	// broker by ~90 MB a run, to 13.7 GB of memory after about 130 runs,
	// which crowded PostgreSQL's data out of the page cache. Registered
	// first, so it runs after the persister is stopped.
	defer deleteTopics(brokers, topic, topic+"-dlq")
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchSize: 1000, BatchBytes: 900 << 10, BatchTimeout: 5 * time.Millisecond, Transport: &kafka.Transport{}}
	batch := make([]kafka.Message, 0, 1000)
	for i := 1; i <= o.n; i++ {
		// Round robin: room k gets seqs 1, 2, … in order.
		m := protocol.Message{ID: uuid.Must(uuid.NewV7()).String(), Room: rooms[(i-1)%len(rooms)].String(), Seq: int64((i-1)/len(rooms) + 1), Sender: user,
			Body: fmt.Sprintf("persist benchmark message %d", i), TS: protocol.FormatTime(time.Now()), Ref: fmt.Sprintf("r%d", i)}
		v, _ := json.Marshal(m)
		batch = append(batch, kafka.Message{Key: []byte(m.Room), Value: v})
		if len(batch) == cap(batch) || i == o.n {
			if err := w.WriteMessages(ctx, batch...); err != nil {
				msg := err.Error()
				if len(msg) > 300 {
					msg = msg[:300] + "…"
				}
				return res, fmt.Errorf("produce: %s", msg)
			}
			batch = batch[:0]
		}
	}
	w.Close()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.CommandContext(ctx, o.bin)
	cmd.Env = append(append(os.Environ(), o.env...), "DATABASE_URL="+o.dbURL, "KAFKA_BROKERS="+o.brokers,
		"KAFKA_TOPIC="+topic, "KAFKA_GROUP="+topic, "KAFKA_DLQ_TOPIC="+topic+"-dlq", "LOG_LEVEL=warn",
		fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	var first time.Time
	deadline := time.Now().Add(5 * time.Minute)
	for {
		// The rooms' last stored seqs, one row each: counting the
		// messages every poll kept a PostgreSQL backend busy beside the
		// persister's (a count of 200,000 rows every 10 ms), on the
		// same two cores. A room is on one partition, stored in seq
		// order, so when the last seqs add up to n all n are stored; a
		// count confirms it once.
		positions, err := q.RoomPositions(ctx, rooms)
		if err != nil {
			return res, err
		}
		var last int64
		for _, p := range positions {
			last += p.LastSeq
		}
		if last > 0 && first.IsZero() {
			first = time.Now()
		}
		if last >= int64(o.n) {
			stored := time.Now()
			res.MergeTailPages, err = q.MergeSearchPending(ctx)
			if err != nil {
				return res, fmt.Errorf("merge the search index's pending list: %w", err)
			}
			res.MergeTailSecs = time.Since(stored).Seconds()
			res.PersisterSecs = time.Since(first).Seconds()
			if ps, err := readProc(cmd.Process.Pid); err == nil {
				res.PersisterCPU = ps.CPUSecs
			}
			var n int64
			for _, r := range rooms {
				c, err := q.CountMessages(ctx, r)
				if err != nil {
					return res, err
				}
				n += c
			}
			if n != int64(o.n) {
				return res, fmt.Errorf("the rooms' last seqs add up to %d but they hold %d messages, not %d", last, n, o.n)
			}
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("persister stored %d of %d in 5 minutes", last, o.n)
		}
		time.Sleep(10 * time.Millisecond) // poll interval of the measurement
	}
	res.PersisterRate = float64(o.n) / res.PersisterSecs

	uid := uuid.MustParse(user.ID)
	if res.CeilingRate, res.CeilingSecs, err = pgCeiling(ctx, pool, q, uid, tag, o.n); err != nil {
		return res, err
	}

	// Baseline: one INSERT statement per row, one connection.
	_, room2, err := seedRoom(ctx, q, tag+"b")
	if err != nil {
		return res, err
	}
	start := time.Now()
	for i := 1; i <= o.baseline; i++ {
		_, err := q.InsertMessageRow(ctx, db.InsertMessageRowParams{ID: uuid.Must(uuid.NewV7()), RoomID: room2, Seq: int64(i),
			SenderID: uid, Body: fmt.Sprintf("baseline message %d", i), Ref: fmt.Sprintf("r%d", i), CreatedAt: time.Now()})
		if err != nil {
			return res, err
		}
	}
	res.BaselineRate = float64(o.baseline) / time.Since(start).Seconds()
	res.Speedup = res.PersisterRate / res.BaselineRate
	return res, nil
}

// deleteTopics deletes a run's topics, best effort: a broker that refuses
// leaves them, and says so.
func deleteTopics(brokers []string, topics ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := bus.PlainKafka(brokers).Client(30*time.Second).DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
	if err == nil {
		for t, e := range resp.Errors {
			if e != nil && !errors.Is(e, kafka.UnknownTopicOrPartition) {
				err = fmt.Errorf("%s: %w", t, e)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: delete topics %v: %v\n", topics, err)
	}
}
