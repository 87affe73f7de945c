package protocol

import (
	"strings"
	"testing"
)

func TestUsername(t *testing.T) {
	for in, want := range map[string]string{
		"Alice": "alice", "a.b-c_9": "a.b-c_9", "abc": "abc", strings.Repeat("z", 32): strings.Repeat("z", 32),
		"ab": "", strings.Repeat("z", 33): "", "al ice": "", "alice!": "", "ålice": "", "": "", "a\x00b": "",
	} {
		got, err := NormalizeUsername(in)
		if want == "" {
			if err == nil || ErrorCode(err) != CodeBadRequest {
				t.Errorf("%q accepted as %q", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestPassword(t *testing.T) {
	for pw, ok := range map[string]bool{
		"1234567": false, "12345678": true, strings.Repeat("x", 256): true, strings.Repeat("x", 257): false,
		strings.Repeat("é", 128): true, strings.Repeat("é", 129): false, // bytes, not characters
	} {
		if err := ValidatePassword(pw); (err == nil) != ok {
			t.Errorf("password of %d bytes: err %v", len(pw), err)
		}
	}
}

func TestRoomName(t *testing.T) {
	for in, ok := range map[string]bool{
		"general": true, " padded ": true, strings.Repeat("é", 64): true, strings.Repeat("é", 65): false,
		"": false, "   ": false, "tab\there": false, "nl\n": true /* trimmed */, "bell\a": false, "a\u0085b": false,
		"\xff": false,
	} {
		if _, err := ValidateRoomName(in); (err == nil) != ok {
			t.Errorf("room name %q: err %v", in, err)
		}
	}
}

func TestBody(t *testing.T) {
	cases := []struct {
		in   string
		code Code
		out  string
	}{
		{"  hi  ", "", "hi"},
		{"   ", CodeBadRequest, ""},
		{"", CodeBadRequest, ""},
		{strings.Repeat("a", 4000), "", strings.Repeat("a", 4000)},
		{strings.Repeat("a", 4001), CodeTooLarge, ""},
		{strings.Repeat("é", 4000), "", strings.Repeat("é", 4000)},
		{strings.Repeat("😀", 4000), "", strings.Repeat("😀", 4000)}, // 16,000 bytes: within 16 KiB
		{strings.Repeat("😀", 4001), CodeTooLarge, ""},
		{"bad \xff utf8", CodeBadRequest, ""},
		{"<script>alert(1)</script>", "", "<script>alert(1)</script>"},
	}
	for _, c := range cases {
		got, err := NormalizeBody(c.in)
		if c.code == "" {
			if err != nil || got != c.out {
				t.Errorf("body of %d bytes: %v", len(c.in), err)
			}
		} else if ErrorCode(err) != c.code {
			t.Errorf("body of %d bytes: got %v, want %s", len(c.in), err, c.code)
		}
	}
}

func TestRef(t *testing.T) {
	for in, ok := range map[string]bool{
		"a": true, "A-z_0": true, strings.Repeat("r", 64): true, strings.Repeat("r", 65): false,
		"": false, "a b": false, "a.b": false, "é": false,
	} {
		if err := ValidateRef(in); (err == nil) != ok {
			t.Errorf("ref %q: err %v", in, err)
		}
	}
}

func TestDecodeClientFrame(t *testing.T) {
	cases := []struct {
		in   string
		code Code
	}{
		{`{"type":"hello","token":"t"}`, ""},
		{`{"type":"hello"}`, CodeUnauthorized},
		{`{"type":"subscribe","room":"r","after_seq":5}`, ""},
		{`{"type":"subscribe","room":"r","after_seq":-1}`, CodeBadRequest},
		{`{"type":"subscribe","room":"r","after_seq":"5"}`, CodeBadRequest},
		{`{"type":"send","room":"r","ref":"x","body":"hi"}`, ""},
		{`{"type":"send","room":"r","ref":"x","body":""}`, CodeBadRequest},
		{`{"type":"read","room":"r","seq":3}`, ""},
		{`{"type":"read","room":"r"}`, CodeBadRequest},
		{`{"type":"typing","room":"r"}`, ""},
		{`{"type":"unsubscribe"}`, CodeBadRequest},
		{`{"type":"ping"}`, ""},
		{`{"type":"nope"}`, CodeBadRequest},
		{`{}`, CodeBadRequest},
		{`{"type":"ping"} {"type":"ping"}`, CodeBadRequest},
		{`{"type":"ping"}]`, CodeBadRequest}, // a Decoder's More missed this one
		{`{"type":"ping"}` + "\n", ""},
		{`nonsense`, CodeBadRequest},
	}
	for _, c := range cases {
		_, err := DecodeClientFrame([]byte(c.in))
		if c.code == "" && err != nil || c.code != "" && ErrorCode(err) != c.code {
			t.Errorf("%s: got %v, want %q", c.in, err, c.code)
		}
	}
}

func FuzzDecodeClientFrame(f *testing.F) {
	f.Add([]byte(`{"type":"send","room":"r","ref":"x","body":"hi"}`))
	f.Add([]byte(`{"type":"subscribe","room":"r","after_seq":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeClientFrame(data)
		if err == nil && fr.Type == TypeSend {
			if _, err := NormalizeBody(fr.Body); err != nil {
				t.Fatalf("accepted a send whose body fails validation: %v", err)
			}
		}
	})
}
