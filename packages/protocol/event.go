package protocol

// The kinds of event in a room's log (v1.1): each has its own seq and
// travels the durable path of a message.
const (
	KindMessage  = "message"
	KindEdit     = "edit"
	KindDelete   = "delete"
	KindReaction = "reaction"
)

// Event is one entry of a room's log as the cluster passes it around: the
// Kafka record value, the send record in Redis, what the persister stores.
// Clients never see it; they see its Frame.
type Event struct {
	// Kind is one of the Kind constants; "" reads as a message (the log's
	// records before v1.1 had no kind).
	Kind string `json:"type,omitempty"`
	// ID is the event's own id: a message's id, or the id of its row in
	// the stored log for an edit, deletion or reaction.
	ID   string `json:"id"`
	Room string `json:"room"`
	Seq  int64  `json:"seq"`
	// Sender is who acted: the author of a message, the editor, deleter or
	// reacting user.
	Sender User   `json:"sender"`
	Body   string `json:"body"`
	TS     string `json:"ts"`
	Ref    string `json:"ref"`
	// Target is the message an edit, deletion or reaction is about.
	Target   string   `json:"target,omitempty"`
	ReplyTo  string   `json:"reply_to,omitempty"`
	Mentions UserList `json:"mentions,omitempty"`
	Emoji    string   `json:"emoji,omitempty"`
	On       bool     `json:"on,omitempty"`
}

// IsMessage reports whether e is a new message (not an event about one).
func (e Event) IsMessage() bool { return e.Kind == "" || e.Kind == KindMessage }

// MessageID is the message the event is, or is about: the ack's id.
func (e Event) MessageID() string {
	if e.IsMessage() {
		return e.ID
	}
	return e.Target
}

// Message is a new message's event as the Message clients see live.
func (e Event) Message() Message {
	m := Message{ID: e.ID, Room: e.Room, Seq: e.Seq, Sender: e.Sender, Body: e.Body, TS: e.TS, Ref: e.Ref,
		Mentions: e.Mentions}
	if e.ReplyTo != "" {
		r := e.ReplyTo
		m.ReplyTo = &r
	}
	return m
}

// Ack is the ack of the request that created e.
func (e Event) Ack() Ack {
	return Ack{Type: TypeAck, Ref: e.Ref, Room: e.Room, ID: e.MessageID(), Seq: e.Seq, TS: e.TS}
}

// Frame is the frame every subscriber of the room receives for e.
func (e Event) Frame() []byte {
	switch e.Kind {
	case KindEdit:
		return Encode(EditFrame{Type: TypeEdit, Room: e.Room, Seq: e.Seq, ID: e.Target, Body: e.Body,
			EditedAt: e.TS, User: e.Sender})
	case KindDelete:
		return Encode(DeleteFrame{Type: TypeDelete, Room: e.Room, Seq: e.Seq, ID: e.Target, User: e.Sender})
	case KindReaction:
		return Encode(ReactionFrame{Type: TypeReaction, Room: e.Room, Seq: e.Seq, ID: e.Target, Emoji: e.Emoji,
			On: e.On, User: e.Sender})
	}
	return EncodeMessage(e.Message())
}

// EditFrame says message ID now reads Body.
type EditFrame struct {
	Type     string `json:"type"`
	Room     string `json:"room"`
	Seq      int64  `json:"seq"`
	ID       string `json:"id"`
	Body     string `json:"body"`
	EditedAt string `json:"edited_at"`
	User     User   `json:"user"`
}

// DeleteFrame says message ID was deleted by User.
type DeleteFrame struct {
	Type string `json:"type"`
	Room string `json:"room"`
	Seq  int64  `json:"seq"`
	ID   string `json:"id"`
	User User   `json:"user"`
}

// ReactionFrame says User added (On) or removed a reaction to message ID.
type ReactionFrame struct {
	Type  string `json:"type"`
	Room  string `json:"room"`
	Seq   int64  `json:"seq"`
	ID    string `json:"id"`
	Emoji string `json:"emoji"`
	On    bool   `json:"on"`
	User  User   `json:"user"`
}

// MentionFrame tells a user that message ID of Room mentions them. It goes
// to all of the user's connections and is not part of the room's stream.
type MentionFrame struct {
	Type   string `json:"type"`
	Room   string `json:"room"`
	ID     string `json:"id"`
	Seq    int64  `json:"seq"`
	Sender User   `json:"sender"`
}

// RoomEvent is a room-stream frame decoded for reading back: a message or
// any of the events, with the fields of each (history merges these).
type RoomEvent struct {
	Type string `json:"type"`
	Message
	// Event fields (edit, delete, reaction); a message leaves them empty.
	User  User   `json:"user"`
	Emoji string `json:"emoji"`
	On    bool   `json:"on"`
}

// IsRoomEventType reports whether a frame type belongs to a room's
// sequenced stream.
func IsRoomEventType(t string) bool {
	switch t {
	case TypeMessage, TypeEdit, TypeDelete, TypeReaction:
		return true
	}
	return false
}
