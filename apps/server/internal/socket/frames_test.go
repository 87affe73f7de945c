package socket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/gorilla/websocket"
)

// clientFrame encodes a frame as a client must: masked, with the shortest
// length form.
func clientFrame(fin bool, op byte, payload []byte, key [4]byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

func TestParseFrameAtEverySplit(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for _, size := range []int{0, 1, 7, 8, 9, 125, 126, 1000, 0xFFFF, 0x10000} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(i*7 + 3)
		}
		whole := clientFrame(true, opText, payload, key)
		for cut := 0; cut < len(whole); cut += max(1, len(whole)/50) {
			f, n, err := parseFrame(bytes.Clone(whole[:cut]), 1<<20)
			if err != nil || n != 0 {
				t.Fatalf("size %d, %d of %d bytes: n %d err %v, want a partial frame", size, cut, len(whole), n, err)
			}
			_ = f
		}
		buf := append(bytes.Clone(whole), 0x81) // the next frame's first byte
		f, n, err := parseFrame(buf, 1<<20)
		if err != nil || n != len(whole) || !f.fin || f.op != opText || !bytes.Equal(f.payload, payload) {
			t.Fatalf("size %d: n %d of %d, fin %v op %d, payload equal %v, err %v", size, n, len(whole), f.fin, f.op, bytes.Equal(f.payload, payload), err)
		}
	}
}

func TestParseFrameRefuses(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	unmasked := clientFrame(true, opText, []byte("hi"), key)
	unmasked[1] &^= 0x80
	huge := []byte{0x81, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1}
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{
		"reserved bit":        {append([]byte{0xC1}, clientFrame(true, opText, nil, key)[1:]...), errReserved},
		"unknown opcode":      {clientFrame(true, 3, nil, key), errOpcode},
		"unmasked":            {unmasked, errUnmasked},
		"fragmented ping":     {clientFrame(false, opPing, nil, key), errControl},
		"long close":          {clientFrame(true, opClose, make([]byte, 126), key), errControl},
		"over the limit":      {clientFrame(true, opText, make([]byte, 101), key), errTooLarge},
		"over, header only":   {clientFrame(true, opBinary, make([]byte, 5000), key)[:8], errTooLarge},
		"64-bit length top 1": {huge, errLength},
	} {
		_, _, err := parseFrame(tc.b, 100)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestCloseCode(t *testing.T) {
	for _, tc := range []struct {
		payload []byte
		code    int
		ok      bool
	}{
		{nil, websocket.CloseNoStatusReceived, true},
		{[]byte{3}, 0, false},
		{[]byte{0x03, 0xE8, 'b', 'y', 'e'}, 1000, true},
		{[]byte{0x03, 0xED}, 0, false}, // 1005 may not be sent
		{[]byte{0x0F, 0xA0}, 4000, true},
		{[]byte{0x13, 0x88}, 0, false}, // 5000
	} {
		code, err := closeCode(tc.payload)
		if (err == nil) != tc.ok || code != tc.code {
			t.Errorf("%v: %d %v", tc.payload, code, err)
		}
	}
}

func TestUnmaskMatchesBytewise(t *testing.T) {
	for n := 0; n < 40; n++ {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rand.IntN(256))
		}
		key := []byte{byte(rand.IntN(256)), byte(rand.IntN(256)), byte(rand.IntN(256)), byte(rand.IntN(256))}
		want := bytes.Clone(p)
		for i := range want {
			want[i] ^= key[i%4]
		}
		unmask(p, key)
		if !bytes.Equal(p, want) {
			t.Fatalf("n %d: %x, want %x", n, p, want)
		}
	}
}
