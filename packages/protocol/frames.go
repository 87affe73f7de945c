package protocol

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Client frame types.
const (
	TypeHello       = "hello"
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypeSend        = "send"
	TypeTyping      = "typing"
	TypeRead        = "read"
	TypePing        = "ping"
	// v1.1: TypeEdit and TypeDelete also name the server's frames.
	TypeEdit   = "edit"
	TypeDelete = "delete"
	TypeReact  = "react"
)

// Server frame types (typing and read are shared with the client's).
const (
	TypeWelcome    = "welcome"
	TypeSubscribed = "subscribed"
	TypeMessage    = "message"
	TypeAck        = "ack"
	TypePresence   = "presence"
	TypeError      = "error"
	TypeGoodbye    = "goodbye"
	TypeReaction   = "reaction"
	TypeMention    = "mention"
	// TypeRoomAdded is an addition to the contract: I became a member of a
	// room (a direct message started with me, or I was added to a private
	// room), so a client can list it and subscribe without polling.
	TypeRoomAdded = "room_added"
)

// WebSocket close codes of the contract.
const (
	CloseNormal       = 1000
	CloseGoingAway    = 1001
	CloseTooLarge     = 1009
	CloseUnauthorized = 4401
	CloseTooSlow      = 4408
	CloseRateLimited  = 4429
)

// ClientFrame is any frame a client sends; which fields matter depends on Type.
type ClientFrame struct {
	Type     string `json:"type"`
	Token    string `json:"token,omitempty"`
	Room     string `json:"room,omitempty"`
	AfterSeq *int64 `json:"after_seq,omitempty"`
	// Batch (subscribe; an addition to the contract) asks for the replay in
	// TypeReplay frames rather than one frame per replayed event.
	Batch bool   `json:"batch,omitempty"`
	Ref   string `json:"ref,omitempty"`
	Body  string `json:"body,omitempty"`
	Seq   *int64 `json:"seq,omitempty"`
	// v1.1: the message an edit, delete or react is about, the message a
	// send answers, and a reaction.
	ID      string `json:"id,omitempty"`
	ReplyTo string `json:"reply_to,omitempty"`
	Emoji   string `json:"emoji,omitempty"`
	On      *bool  `json:"on,omitempty"`
}

// DecodeClientFrame parses and validates one client frame. On failure the
// returned frame still carries whatever ref could be read, so the error frame
// can name the request it answers.
func DecodeClientFrame(data []byte) (ClientFrame, error) {
	var f ClientFrame
	// Unmarshal, not a Decoder: a Decoder copies the frame into a buffer
	// of its own (about 2 KB of garbage for a hello frame), and a storm of
	// connects is mostly such frames. The Decoder only tells the two
	// errors apart.
	if err := json.Unmarshal(data, &f); err != nil {
		var first ClientFrame
		if json.NewDecoder(bytes.NewReader(data)).Decode(&first) == nil {
			return f, Errorf(CodeBadRequest, "one JSON object per frame")
		}
		return f, Errorf(CodeBadRequest, "malformed JSON frame")
	}
	return f, f.Validate()
}

// Validate checks that the frame's type is known and its fields present and
// well-formed. It normalizes Body in place.
func (f *ClientFrame) Validate() error {
	needRoom := func() error {
		if f.Room == "" {
			return Errorf(CodeBadRequest, "%s: missing room", f.Type)
		}
		if len(f.Room) > 64 {
			return Errorf(CodeBadRequest, "%s: invalid room", f.Type)
		}
		return nil
	}
	switch f.Type {
	case TypeHello:
		if f.Token == "" {
			return Errorf(CodeUnauthorized, "hello: missing token")
		}
	case TypeSubscribe:
		if err := needRoom(); err != nil {
			return err
		}
		if f.AfterSeq != nil && *f.AfterSeq < 0 {
			return Errorf(CodeBadRequest, "subscribe: after_seq must not be negative")
		}
	case TypeUnsubscribe, TypeTyping:
		return needRoom()
	case TypeSend, TypeEdit, TypeDelete, TypeReact:
		if err := ValidateRef(f.Ref); err != nil {
			return err
		}
		if err := needRoom(); err != nil {
			return err
		}
		return f.validateEvent()
	case TypeRead:
		if err := needRoom(); err != nil {
			return err
		}
		if f.Seq == nil || *f.Seq < 0 {
			return Errorf(CodeBadRequest, "read: seq must be a non-negative integer")
		}
	case TypePing:
	case "":
		return Errorf(CodeBadRequest, "missing frame type")
	default:
		return Errorf(CodeBadRequest, "unknown frame type %q", f.Type)
	}
	return nil
}

// validateEvent checks the fields of the frames that add to a room's log.
func (f *ClientFrame) validateEvent() error {
	if f.Type != TypeSend && (f.ID == "" || len(f.ID) > 64) {
		// A well-formed id that names no message is not_found, later.
		return Errorf(CodeBadRequest, "%s: missing or invalid id", f.Type)
	}
	switch f.Type {
	case TypeSend, TypeEdit:
		body, err := NormalizeBody(f.Body)
		if err != nil {
			return err
		}
		f.Body = body
	}
	switch f.Type {
	case TypeSend:
		if f.ReplyTo != "" && ValidateID(f.ReplyTo) != nil {
			return Errorf(CodeBadRequest, "send: invalid reply_to")
		}
	case TypeReact:
		if err := ValidateEmoji(f.Emoji); err != nil {
			return err
		}
		if f.On == nil {
			return Errorf(CodeBadRequest, "react: on must be true or false")
		}
	}
	return nil
}

// Welcome answers hello.
type Welcome struct {
	Type   string `json:"type"`
	User   User   `json:"user"`
	Server string `json:"server"`
}

// Subscribed answers subscribe, after any replayed messages.
type Subscribed struct {
	Type      string `json:"type"`
	Room      string `json:"room"`
	LastSeq   int64  `json:"last_seq"`
	Recovered bool   `json:"recovered"`
	// Online lists the room's members who are online now (an addition to the
	// contract: the presence snapshot).
	Online []User `json:"online,omitempty"`
}

// MessageFrame carries a message with its fields at the top level.
type MessageFrame struct {
	Type string `json:"type"`
	Message
}

// EncodeMessage is the frame every subscriber receives for m.
func EncodeMessage(m Message) []byte {
	return Encode(MessageFrame{Type: TypeMessage, Message: m})
}

// Ack tells the sender its message is durable.
type Ack struct {
	Type string `json:"type"`
	Ref  string `json:"ref"`
	Room string `json:"room"`
	ID   string `json:"id"`
	Seq  int64  `json:"seq"`
	TS   string `json:"ts"`
}

// TypingFrame says someone is typing in a room.
type TypingFrame struct {
	Type string `json:"type"`
	Room string `json:"room"`
	User User   `json:"user"`
}

// ReadFrame says someone read a room up to Seq.
type ReadFrame struct {
	Type string `json:"type"`
	Room string `json:"room"`
	User User   `json:"user"`
	Seq  int64  `json:"seq"`
}

// PresenceFrame says a user came online or went offline.
type PresenceFrame struct {
	Type   string `json:"type"`
	User   User   `json:"user"`
	Online bool   `json:"online"`
}

// RoomAdded says I became a member of Room.
type RoomAdded struct {
	Type string `json:"type"`
	Room string `json:"room"`
}

// ErrorFrame reports a failed request; the connection stays open.
type ErrorFrame struct {
	Type string `json:"type"`
	Ref  string `json:"ref,omitempty"`
	// Room names the room an error is about, when no request caused it (an
	// addition to the contract).
	Room    string `json:"room,omitempty"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Goodbye announces that the server is about to close the connection.
type Goodbye struct {
	Type      string `json:"type"`
	Reason    string `json:"reason"`
	Reconnect bool   `json:"reconnect"`
}

// Pong answers ping.
var Pong = []byte(`{"type":"pong"}`)

// NewErrorFrame builds the error frame for err, answering the request ref.
func NewErrorFrame(ref string, err error) ErrorFrame {
	return ErrorFrame{Type: TypeError, Ref: ref, Code: ErrorCode(err), Message: ErrorMessage(err)}
}

// Encode marshals a server frame. Server frames are plain structs, so this
// only fails on a programming error.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("protocol: encode: " + err.Error())
	}
	return b
}

// Header is the part of a room frame that routing reads: its type, its
// seq (messages), and the user it is about (typing, read).
type Header struct {
	Type string `json:"type"`
	Seq  int64  `json:"seq"`
	User User   `json:"user"`
}

// PeekHeader reads a room frame's header.
func PeekHeader(frame []byte) (Header, error) {
	var h Header
	err := json.Unmarshal(frame, &h)
	return h, err
}

// EncodeSubscribed is Encode of a Subscribed frame whose Online list comes
// already encoded (a JSON array of User; nil or "[]" for none): the
// subscribes of a room at one moment share one presence snapshot, and
// encoding its users once for all of them, not once each, is most of a
// big room's subscribed frame.
func EncodeSubscribed(room string, lastSeq int64, recovered bool, online []byte) []byte {
	rb, _ := json.Marshal(room)
	b := make([]byte, 0, len(rb)+len(online)+80)
	b = append(b, `{"type":"subscribed","room":`...)
	b = append(b, rb...)
	b = append(b, `,"last_seq":`...)
	b = strconv.AppendInt(b, lastSeq, 10)
	b = append(b, `,"recovered":`...)
	b = strconv.AppendBool(b, recovered)
	if len(online) > 2 { // not nil, not []
		b = append(b, `,"online":`...)
		b = append(b, online...)
	}
	return append(b, '}')
}
