package protocol

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits from the contract.
const (
	UsernameMin    = 3
	UsernameMax    = 32
	PasswordMin    = 8
	PasswordMax    = 256
	RoomNameMax    = 64
	BodyMaxChars   = 4000
	BodyMaxBytes   = 16 << 10
	FrameMaxBytes  = 64 << 10
	RefMax         = 64
	HistoryDefault = 50
	HistoryMax     = 200
	UserSearchMax  = 20
	// v1.1
	EmojiMaxChars      = 32
	ReactionsMaxEmoji  = 20
	SearchDefault      = 20
	SearchMax          = 50
	SearchQueryMaxChar = 256
)

// NormalizeUsername lower-cases name and checks it against the contract.
func NormalizeUsername(name string) (string, error) {
	n := strings.ToLower(name)
	if l := len(n); l < UsernameMin || l > UsernameMax {
		return "", Errorf(CodeBadRequest, "username must be %d-%d characters", UsernameMin, UsernameMax)
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return "", Errorf(CodeBadRequest, "username may contain only a-z, 0-9, '_', '.' and '-'")
		}
	}
	return n, nil
}

// ValidatePassword checks the password length in bytes.
func ValidatePassword(pw string) error {
	if l := len(pw); l < PasswordMin || l > PasswordMax {
		return Errorf(CodeBadRequest, "password must be %d-%d bytes", PasswordMin, PasswordMax)
	}
	return nil
}

// ValidateRoomName checks a room name: 1-64 characters, no control characters.
// Surrounding white space is trimmed first.
func ValidateRoomName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if !utf8.ValidString(n) {
		return "", Errorf(CodeBadRequest, "room name must be valid UTF-8")
	}
	if l := utf8.RuneCountInString(n); l < 1 || l > RoomNameMax {
		return "", Errorf(CodeBadRequest, "room name must be 1-%d characters", RoomNameMax)
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return "", Errorf(CodeBadRequest, "room name must not contain control characters")
		}
	}
	return n, nil
}

// ValidateVisibility accepts "public" and "private", the kinds a user may create.
func ValidateVisibility(v string) (Visibility, error) {
	switch Visibility(v) {
	case Public, Private:
		return Visibility(v), nil
	}
	return "", Errorf(CodeBadRequest, `visibility must be "public" or "private"`)
}

// NormalizeBody trims body and checks it: valid UTF-8, 1-4000 characters,
// at most 16 KiB. An over-long body is too_large, an empty one bad_request.
func NormalizeBody(body string) (string, error) {
	if !utf8.ValidString(body) {
		return "", Errorf(CodeBadRequest, "body must be valid UTF-8")
	}
	b := strings.TrimSpace(body)
	if b == "" {
		return "", Errorf(CodeBadRequest, "body must not be empty")
	}
	if len(b) > BodyMaxBytes || utf8.RuneCountInString(b) > BodyMaxChars {
		return "", Errorf(CodeTooLarge, "body must be at most %d characters and %d bytes", BodyMaxChars, BodyMaxBytes)
	}
	return b, nil
}

// ValidateRef checks a client idempotency key.
func ValidateRef(ref string) error {
	if l := len(ref); l < 1 || l > RefMax {
		return Errorf(CodeBadRequest, "ref must be 1-%d characters", RefMax)
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return Errorf(CodeBadRequest, "ref may contain only A-Z, a-z, 0-9, '_' and '-'")
		}
	}
	return nil
}

// ValidateID checks the shape of a message, room or user id: the server's
// ids are UUIDs, so anything else names nothing.
func ValidateID(id string) error {
	if len(id) != 36 {
		return Errorf(CodeBadRequest, "invalid id")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return Errorf(CodeBadRequest, "invalid id")
			}
		case c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
		default:
			return Errorf(CodeBadRequest, "invalid id")
		}
	}
	return nil
}

// ValidateEmoji checks a reaction: 1-32 characters of valid UTF-8, no
// white space or control characters.
func ValidateEmoji(e string) error {
	if !utf8.ValidString(e) {
		return Errorf(CodeBadRequest, "emoji must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(e); n < 1 || n > EmojiMaxChars {
		return Errorf(CodeBadRequest, "emoji must be 1-%d characters", EmojiMaxChars)
	}
	for _, r := range e {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return Errorf(CodeBadRequest, "emoji must not contain white space or control characters")
		}
	}
	return nil
}
