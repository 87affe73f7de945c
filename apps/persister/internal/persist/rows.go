// Package persist moves the message log from Kafka into PostgreSQL: batches
// bounded by size and time, one statement per batch, Kafka offsets
// committed only after the database committed, retries with capped
// exponential backoff, and a dead-letter topic for what can never be stored.
package persist

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	json "github.com/segmentio/encoding/json"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// row is a decoded, validated log record ready for the database: a
// message, an edit, deletion or reaction of one, or a fence.
type row struct {
	id, room, sender uuid.UUID
	seq              int64
	body, ref        string
	at               time.Time
	fence            bool // a fence record: no sender, body or ref
	kind             string
	target           uuid.UUID // events: the message they are about
	emoji            string
	on               bool
	replyTo          string // messages: a message id, or ""
	mentions         []byte // messages: [User] as JSON, or nil
	mentioned        []uuid.UUID
	src              int // index of the record in its batch
}

// event reports whether r is an edit, deletion or reaction.
func (r row) event() bool { return r.kind != protocol.KindMessage }

// errNotLogged is decode's answer for a marker record, which is not part
// of any room's log: it is skipped, not dead-lettered.
var errNotLogged = errors.New("not a log record")

// decode parses and checks one record value. An error means the record can
// never be stored: it goes to the dead-letter topic.
func decode(value []byte) (row, error) {
	var ev protocol.Event
	if err := json.Unmarshal(value, &ev); err != nil {
		return row{}, fmt.Errorf("undecodable JSON: %w", err)
	}
	switch ev.Kind {
	case bus.TypeFence:
		return decodeFence(ev)
	case bus.TypeWebhooks:
		return row{}, errNotLogged
	}
	r := row{kind: ev.Kind}
	var err error
	switch ev.Kind {
	case "", protocol.KindMessage:
		r.kind = protocol.KindMessage
	case protocol.KindEdit, protocol.KindDelete, protocol.KindReaction:
		if r.target, err = uuid.Parse(ev.Target); err != nil {
			return row{}, fmt.Errorf("bad %s target %q", ev.Kind, ev.Target)
		}
	default:
		return row{}, fmt.Errorf("unknown record type %q", ev.Kind)
	}
	if r.id, err = uuid.Parse(ev.ID); err != nil {
		return row{}, fmt.Errorf("bad id %q", ev.ID)
	}
	if r.room, err = uuid.Parse(ev.Room); err != nil {
		return row{}, fmt.Errorf("bad room %q", ev.Room)
	}
	if r.sender, err = uuid.Parse(ev.Sender.ID); err != nil {
		return row{}, fmt.Errorf("bad sender %q", ev.Sender.ID)
	}
	if ev.Seq <= 0 {
		return row{}, fmt.Errorf("bad seq %d", ev.Seq)
	}
	if r.at, err = protocol.ParseTime(ev.TS); err != nil {
		return row{}, fmt.Errorf("bad ts %q", ev.TS)
	}
	if err := protocol.ValidateRef(ev.Ref); err != nil {
		return row{}, fmt.Errorf("bad ref: %w", err)
	}
	switch r.kind {
	case protocol.KindMessage, protocol.KindEdit:
		if _, err := protocol.NormalizeBody(ev.Body); err != nil {
			return row{}, fmt.Errorf("bad body: %w", err)
		}
	case protocol.KindReaction:
		if err := protocol.ValidateEmoji(ev.Emoji); err != nil {
			return row{}, fmt.Errorf("bad emoji: %w", err)
		}
	}
	if r.kind == protocol.KindMessage {
		if ev.ReplyTo != "" {
			if _, err := uuid.Parse(ev.ReplyTo); err != nil {
				return row{}, fmt.Errorf("bad reply_to %q", ev.ReplyTo)
			}
		}
		for _, u := range ev.Mentions {
			id, err := uuid.Parse(u.ID)
			if err != nil {
				return row{}, fmt.Errorf("bad mention %q", u.ID)
			}
			r.mentioned = append(r.mentioned, id)
		}
		if len(ev.Mentions) > 0 {
			r.mentions, _ = json.Marshal(ev.Mentions)
		}
	}
	r.seq, r.body, r.ref, r.emoji, r.on, r.replyTo = ev.Seq, ev.Body, ev.Ref, ev.Emoji, ev.On, ev.ReplyTo
	return r, nil
}

// decodeFence checks a fence record (its fields are an Event's).
func decodeFence(m protocol.Event) (row, error) {
	r := row{fence: true, kind: protocol.KindMessage}
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
		Kinds: make([]string, len(rows)), TargetIds: make([]string, len(rows)), Emojis: make([]string, len(rows)),
		ReactionOns: make([]bool, len(rows)), ReplyTos: make([]string, len(rows)), Mentions: make([]string, len(rows)),
	}
	for i, r := range rows {
		p.Ids[i], p.RoomIds[i], p.Seqs[i], p.SenderIds[i] = r.id, r.room, r.seq, r.sender
		p.Bodies[i], p.Refs[i], p.CreatedAts[i], p.Fences[i] = r.body, r.ref, r.at, r.fence
		p.Kinds[i], p.Emojis[i], p.ReactionOns[i], p.ReplyTos[i] = r.kind, r.emoji, r.on, r.replyTo
		if r.event() {
			p.TargetIds[i] = r.target.String()
		}
		p.Mentions[i] = string(r.mentions)
	}
	return p
}

// copyParams turns rows into the fast path's COPY rows.
func copyParams(rows []row) []db.CopyMessagesParams {
	out := make([]db.CopyMessagesParams, len(rows))
	for i, r := range rows {
		out[i] = db.CopyMessagesParams{ID: r.id, RoomID: r.room, Seq: r.seq, SenderID: r.sender,
			Body: r.body, Ref: r.ref, CreatedAt: r.at, Fence: r.fence, Kind: r.kind, Mentions: r.mentions}
		if r.event() {
			out[i].TargetID = pgtype.UUID{Bytes: r.target, Valid: true}
		}
		if r.kind == protocol.KindReaction {
			out[i].Emoji = pgtype.Text{String: r.emoji, Valid: true}
			out[i].ReactionOn = pgtype.Bool{Bool: r.on, Valid: true}
		}
		if r.replyTo != "" {
			out[i].ReplyTo = pgtype.UUID{Bytes: uuid.MustParse(r.replyTo), Valid: true}
		}
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
		if !r.fence && !r.event() && r.at.After(t.at) { // only new messages are activity
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
