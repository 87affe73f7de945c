package protocol

import (
	"encoding/json"
	"time"
)

// Visibility of a room.
type Visibility string

// The three kinds of room.
const (
	Public  Visibility = "public"
	Private Visibility = "private"
	Direct  Visibility = "direct"
)

// User is the public view of an account.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	// Bot marks a bot user of the server API (an addition to the
	// contract); absent for people.
	Bot bool `json:"bot,omitempty"`
}

// Room is a room as one member sees it.
type Room struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Visibility Visibility `json:"visibility"`
	LastSeq    int64      `json:"last_seq"`
	Unread     int64      `json:"unread"`
	// Members is filled for direct and private rooms; public rooms, which may
	// be large, leave it out.
	Members []User `json:"members,omitempty"`
	// Owner is who created the room; nil for direct rooms (v1.1).
	Owner *User `json:"owner"`
	// Mentions counts the messages mentioning me past my read marker (v1.1).
	Mentions int64 `json:"mentions"`
}

// Message is one chat message in its current state: live frames carry it
// as sent, history as edited, deleted and reacted to since.
type Message struct {
	ID     string `json:"id"`
	Room   string `json:"room"`
	Seq    int64  `json:"seq"`
	Sender User   `json:"sender"`
	Body   string `json:"body"`
	TS     string `json:"ts"`
	Ref    string `json:"ref"`
	// The v1.1 fields, always present (null or empty when unset).
	ReplyTo   *string   `json:"reply_to"`
	EditedAt  *string   `json:"edited_at"`
	Deleted   bool      `json:"deleted"`
	Reactions Reactions `json:"reactions"`
	Mentions  UserList  `json:"mentions"`
}

// Reaction is one emoji's tally on a message.
type Reaction struct {
	Emoji string `json:"emoji"`
	Count int    `json:"count"`
	// Mine is whether the requesting user reacted so; false in live frames.
	Mine bool `json:"mine"`
	// Users lists who reacted so, up to ReactionUsersMax of them (an
	// addition to the contract: a client applying live reaction events
	// can then tell a repeated addition from a new one).
	Users []string `json:"users,omitempty"`
}

// ReactionUsersMax bounds Reaction.Users.
const ReactionUsersMax = 100

// Reactions encodes as [] when empty: the contract's field is always a list.
type Reactions []Reaction

// MarshalJSON implements json.Marshaler.
func (r Reactions) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]Reaction(r))
}

// UserList encodes as [] when empty: the contract's field is always a list.
type UserList []User

// MarshalJSON implements json.Marshaler.
func (u UserList) MarshalJSON() ([]byte, error) {
	if u == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]User(u))
}

// TimeFormat is RFC 3339 in UTC with a fixed six-digit fraction, the
// precision PostgreSQL keeps, so a time reads the same from every source.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// FormatTime renders t as the contract's timestamp.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ParseTime parses a contract timestamp.
func ParseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }
