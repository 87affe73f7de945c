//go:build !linux

package main

import "syscall"

// bindNoPort does nothing here: the kernel picks the port at bind.
func bindNoPort(_, _ string, _ syscall.RawConn) error { return nil }
