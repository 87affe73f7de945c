// Package persist moves the message log from Kafka into PostgreSQL: batches
// bounded by size and time, one statement per batch, Kafka offsets
// committed only after the database committed, retries with capped
// exponential backoff, and a dead-letter topic for what can never be stored.
package persist

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// row is a decoded, validated message ready for the database.
type row struct {
	id, room, sender uuid.UUID
	seq              int64
	body, ref        string
	at               time.Time
	src              int // index of the record in its batch
}

// decode parses and checks one record value. An error means the record can
// never be stored: it goes to the dead-letter topic.
func decode(value []byte) (row, error) {
	var m protocol.Message
	if err := json.Unmarshal(value, &m); err != nil {
		return row{}, fmt.Errorf("undecodable JSON: %w", err)
	}
	var r row
	var err error
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

// params turns rows into the arrays of the batch statement.
func params(rows []row) db.PersistMessagesParams {
	p := db.PersistMessagesParams{
		Ids: make([]uuid.UUID, len(rows)), RoomIds: make([]uuid.UUID, len(rows)), Seqs: make([]int64, len(rows)),
		SenderIds: make([]uuid.UUID, len(rows)), Bodies: make([]string, len(rows)), Refs: make([]string, len(rows)),
		CreatedAts: make([]time.Time, len(rows)),
	}
	for i, r := range rows {
		p.Ids[i], p.RoomIds[i], p.Seqs[i], p.SenderIds[i] = r.id, r.room, r.seq, r.sender
		p.Bodies[i], p.Refs[i], p.CreatedAts[i] = r.body, r.ref, r.at
	}
	return p
}
