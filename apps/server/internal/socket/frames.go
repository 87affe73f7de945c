package socket

import (
	"encoding/binary"

	"github.com/gorilla/websocket"
)

// WebSocket opcodes (RFC 6455, 5.2).
const (
	opContinuation byte = 0
	opText         byte = 1
	opBinary            = 2
	opClose             = 8
	opPing              = 9
	opPong              = 10
)

// frame is one parsed client frame; its payload aliases the parsed bytes
// and is unmasked in place.
type frame struct {
	fin     bool
	op      byte
	payload []byte
}

// protoError is a frame that breaks the protocol or a limit: reading ends
// and the connection is closed with code (RFC 6455, 7.4.1).
type protoError struct {
	code int
	text string
}

func (e *protoError) Error() string { return "socket: " + e.text }

var (
	errReserved     = &protoError{websocket.CloseProtocolError, "reserved bits set"}
	errOpcode       = &protoError{websocket.CloseProtocolError, "unknown opcode"}
	errUnmasked     = &protoError{websocket.CloseProtocolError, "unmasked client frame"}
	errControl      = &protoError{websocket.CloseProtocolError, "fragmented or long control frame"}
	errLength       = &protoError{websocket.CloseProtocolError, "bad payload length"}
	errContinuation = &protoError{websocket.CloseProtocolError, "continuation without a message"}
	errInterleaved  = &protoError{websocket.CloseProtocolError, "new message inside a fragmented one"}
	errCloseFrame   = &protoError{websocket.CloseProtocolError, "bad close frame"}
	errTooLarge     = &protoError{websocket.CloseMessageTooBig, "frame too large"}
	errUTF8         = &protoError{websocket.CloseInvalidFramePayloadData, "invalid UTF-8"}
)

// parseFrame parses the client frame at the start of b, refusing a data
// frame whose payload exceeds limit before waiting for it. It returns n = 0
// when b holds only part of a frame, and otherwise the frame's length.
func parseFrame(b []byte, limit int) (f frame, n int, err error) {
	if len(b) < 2 {
		return frame{}, 0, nil
	}
	b0, b1 := b[0], b[1]
	if b0&0x70 != 0 {
		return frame{}, 0, errReserved // no extension is negotiated
	}
	f.fin, f.op = b0&0x80 != 0, b0&0x0f
	switch f.op {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
	default:
		return frame{}, 0, errOpcode
	}
	if b1&0x80 == 0 {
		return frame{}, 0, errUnmasked // a client must mask (5.1)
	}
	size, h := uint64(b1&0x7f), 2
	switch size {
	case 126:
		if len(b) < 4 {
			return frame{}, 0, nil
		}
		size, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return frame{}, 0, nil
		}
		size, h = binary.BigEndian.Uint64(b[2:]), 10
		if size>>63 != 0 {
			return frame{}, 0, errLength
		}
	}
	if f.op >= opClose && (!f.fin || size > 125) {
		return frame{}, 0, errControl
	}
	if size > uint64(limit) {
		return frame{}, 0, errTooLarge
	}
	end := h + 4 + int(size)
	if len(b) < end {
		return frame{}, 0, nil
	}
	key := b[h : h+4]
	f.payload = b[h+4 : end]
	unmask(f.payload, key)
	return f, end, nil
}

// unmask XORs p with the masking key, eight bytes at a time where it can.
func unmask(p, key []byte) {
	k := uint64(binary.LittleEndian.Uint32(key))
	k |= k << 32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i&3]
	}
}

// closeCode reads a client's close frame payload: the code to echo, or
// 1005 (no status) for an empty one.
func closeCode(payload []byte) (int, error) {
	switch {
	case len(payload) == 0:
		return websocket.CloseNoStatusReceived, nil
	case len(payload) == 1:
		return 0, errCloseFrame
	}
	code := int(binary.BigEndian.Uint16(payload))
	if !validCloseCode(code) {
		return 0, errCloseFrame
	}
	return code, nil
}

// validCloseCode: the codes a peer may send (RFC 6455, 7.4).
func validCloseCode(code int) bool {
	switch {
	case code >= 3000 && code <= 4999:
		return true
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011:
		return true
	}
	return false
}
