// Package persist moves the message log from Kafka into PostgreSQL: batches
// bounded by size and time, one statement per batch, Kafka offsets
// committed only after the database committed, retries with capped
// exponential backoff, and a dead-letter topic for what can never be stored.
package persist

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// row is a decoded, validated message, or fence, ready for the database.
type row struct {
	id, room, sender uuid.UUID
	seq              int64
	body, ref        string
	at               time.Time
	fence            bool // a fence record: no sender, body or ref
	src              int  // index of the record in its batch
}

// record is either kind of log record: a message, or a bus.Fence.
type record struct {
	Type string `json:"type"`
	protocol.Message
}

// decode parses and checks one record value. An error means the record can
// never be stored: it goes to the dead-letter topic.
func decode(value []byte) (row, error) {
	var rec record
	if err := json.Unmarshal(value, &rec); err != nil {
		return row{}, fmt.Errorf("undecodable JSON: %w", err)
	}
	m := rec.Message
	var r row
	var err error
	switch rec.Type {
	case "":
	case bus.TypeFence:
		return decodeFence(m)
	default:
		return row{}, fmt.Errorf("unknown record type %q", rec.Type)
	}
	if r.id, err = uuid.Parse(m.ID); err != nil {
		return row{}, fmt.Errorf("bad id %q", m.ID)
	}
	if r.room, err = uuid.Parse(m.Room); err != nil {
		return row{}, fmt.Errorf("bad room %q", m.Room)
	}
	if r.sender, err = uuid.Parse(m.Sender.ID); err != nil {
		return row{}, fmt.Errorf("bad sender %q", m.Sender.ID)
	}
	if m.Seq <= 0 {
		return row{}, fmt.Errorf("bad seq %d", m.Seq)
	}
	if r.at, err = protocol.ParseTime(m.TS); err != nil {
		return row{}, fmt.Errorf("bad ts %q", m.TS)
	}
	if _, err := protocol.NormalizeBody(m.Body); err != nil {
		return row{}, fmt.Errorf("bad body: %w", err)
	}
	if err := protocol.ValidateRef(m.Ref); err != nil {
		return row{}, fmt.Errorf("bad ref: %w", err)
	}
	r.seq, r.body, r.ref = m.Seq, m.Body, m.Ref
	return r, nil
}

// decodeFence checks a fence record (its fields are a Message's).
func decodeFence(m protocol.Message) (row, error) {
	r := row{fence: true}
	var err error
	if r.id, err = uuid.Parse(m.ID); err != nil {
		return row{}, fmt.Errorf("bad fence id %q", m.ID)
	}
	if r.room, err = uuid.Parse(m.Room); err != nil {
		return row{}, fmt.Errorf("bad fence room %q", m.Room)
	}
	if m.Seq <= 0 || !bus.IsEpochStart(m.Seq) {
		return row{}, fmt.Errorf("bad fence seq %d", m.Seq)
	}
	if r.at, err = protocol.ParseTime(m.TS); err != nil {
		return row{}, fmt.Errorf("bad fence ts %q", m.TS)
	}
	r.seq = m.Seq
	return r, nil
}

// params turns rows into the arrays of the batch statement.
func params(rows []row) db.PersistMessagesParams {
	p := db.PersistMessagesParams{
		Ids: make([]uuid.UUID, len(rows)), RoomIds: make([]uuid.UUID, len(rows)), Seqs: make([]int64, len(rows)),
		SenderIds: make([]uuid.UUID, len(rows)), Bodies: make([]string, len(rows)), Refs: make([]string, len(rows)),
		CreatedAts: make([]time.Time, len(rows)), Fences: make([]bool, len(rows)),
	}
	for i, r := range rows {
		p.Ids[i], p.RoomIds[i], p.Seqs[i], p.SenderIds[i] = r.id, r.room, r.seq, r.sender
		p.Bodies[i], p.Refs[i], p.CreatedAts[i], p.Fences[i] = r.body, r.ref, r.at, r.fence
	}
	return p
}

// copyParams turns rows into the fast path's COPY rows.
func copyParams(rows []row) []db.CopyMessagesParams {
	out := make([]db.CopyMessagesParams, len(rows))
	for i, r := range rows {
		out[i] = db.CopyMessagesParams{ID: r.id, RoomID: r.room, Seq: r.seq, SenderID: r.sender,
			Body: r.body, Ref: r.ref, CreatedAt: r.at, Fence: r.fence}
	}
	return out
}

// advanceParams gives each room of rows its newest seq and time, rooms in
// a fixed order so that concurrent batches lock them in that order.
func advanceParams(rows []row) db.AdvanceRoomsParams {
	type top struct {
		seq int64
		at  time.Time
	}
	rooms := map[uuid.UUID]top{}
	for _, r := range rows {
		t := rooms[r.room]
		t.seq = max(t.seq, r.seq)
		if !r.fence && r.at.After(t.at) { // a fence is no activity
			t.at = r.at
		}
		rooms[r.room] = t
	}
	var p db.AdvanceRoomsParams
	for _, id := range slices.SortedFunc(maps.Keys(rooms), func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) }) {
		p.Ids = append(p.Ids, id)
		p.MaxSeqs = append(p.MaxSeqs, rooms[id].seq)
		p.MaxAts = append(p.MaxAts, rooms[id].at)
	}
	return p
}
