package protocol

import "time"

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
}

// Message is one chat message. It is also the Kafka record value, so the
// persister stores exactly what clients saw.
type Message struct {
	ID     string `json:"id"`
	Room   string `json:"room"`
	Seq    int64  `json:"seq"`
	Sender User   `json:"sender"`
	Body   string `json:"body"`
	TS     string `json:"ts"`
	Ref    string `json:"ref"`
}

// TimeFormat is RFC 3339 in UTC with a fixed six-digit fraction, the
// precision PostgreSQL keeps, so a time reads the same from every source.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// FormatTime renders t as the contract's timestamp.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ParseTime parses a contract timestamp.
func ParseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }
